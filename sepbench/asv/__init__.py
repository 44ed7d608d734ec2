"""ASV: history runs, the ASV check (``sepbench check asv``, :mod:`sepbench.asv.continuous`) and offline vendoring of ``asv publish``."""
