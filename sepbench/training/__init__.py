"""Training: one recipe run by each backend's trainer (impls/train_*.py), the trained-weights cache,
and ``sepbench reproduce`` (train, evaluate like the study, write a result file)."""
