"""Layer 0, utilities with no knowledge of models: atomic writes, paths, console tables, the timer."""
