"""The slowdown checks that time code in fresh processes: the A/B check, and the measured rates of the checks.

``ab_worker.py`` is one side of the A/B check (a process running a checkout's own code); ``ab_run.py``
exports the two commits, drives both workers in interleaved rounds and judges each case with
:func:`sepbench.results.slowdown.judge`; ``ab_rates.py`` and ``gate_rates.py`` measure how often
the A/B check and the benchmark gate (:mod:`sepbench.bench.gate`) fire on commits of known slowdown
(their hit and false-alarm rates).  The ASV check is :mod:`sepbench.asv.continuous`.
"""
