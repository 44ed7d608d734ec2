"""The pytest-benchmark suite's machinery (tests/bench is a thin caller): options, the case matrix
shared with the ASV suite, fixtures, machine info, the terminal summary, saved-run storage and the
parsing of ``nox -s bench`` options (stdlib only, used by noxfile.py)."""
