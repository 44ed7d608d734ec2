"""Result files: the schema, one reader per format (pytest-benchmark, ASV, reproduce) into tidy rows,
and the verdict rules (fastest way, separable/regular, paired ratios, the figures claims are decided
from).  Reads files only: no backend, no framework."""
