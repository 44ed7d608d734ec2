"""What is measured, defined once for pytest-benchmark, ASV and the CLI: workloads (set-up outside the
timer, ``run()`` timed), extra_info, the roofline probe, Keras's evaluate taken apart, per-layer profiles."""
