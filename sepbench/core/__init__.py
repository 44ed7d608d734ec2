"""Layer 1, the facts: the models as data (spec), portable weights, MNIST, the study's figures, the
training recipe and the claims (as data).  Imports no framework and nothing above sepbench.util."""
