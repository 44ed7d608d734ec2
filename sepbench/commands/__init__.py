"""Sub-commands of the ``sepbench`` CLI (see :mod:`sepbench.cli`)."""
