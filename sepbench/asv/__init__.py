"""ASV: history runs, the regression alert (``sepbench regress``) and offline vendoring of ``asv publish``."""
