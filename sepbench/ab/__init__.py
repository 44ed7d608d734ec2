"""The A/B alert: two commits' workloads timed in one job, round by round, and judged per case.

``worker.py`` is one side (a process running a checkout's own code); ``run.py`` exports the two
commits, drives both workers in interleaved rounds and judges each case with
:func:`sepbench.results.slowdown.judge`; ``study.py`` measures how often that alert fires on
commits of known slowdown (its hit and false-alarm rates).
"""
