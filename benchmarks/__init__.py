"""The ASV suite: history of sepbench's figures per commit and machine (``nox -s asv``)."""
