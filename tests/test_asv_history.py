"""The pieces of ``sepbench regress`` that need no ASV run: reading `asv compare` tables."""

from __future__ import annotations

import os
import re
import socket

from sepbench.asv.continuous import exact_name_regex, worse_benchmarks

# rows as `asv compare` printed them in a CI run (a noise alarm on identical code)
TABLE = """
| Change   | Before [fd08c700] <main~3>   | After [e87908e4] <main~2>   |   Ratio | Benchmark (Parameter)                                       |
|----------|------------------------------|-----------------------------|---------|-------------------------------------------------------------|
| +        | 671±20μs                     | 1.03±0.1ms                  |    1.54 | predict.PredictLatency.time_predict('numpy', 'regular', 32) |
| -        | 1.00ms                       | 500μs                       |    0.50 | predict.PredictLatency.time_predict('numpy', 'separable', 32) |
|          | 8586                         | 8586                        | 1.00    | size.ModelSize.track_params('numpy', 'regular')             |
| !        | 2.00ms                       | failed                      | n/a     | predict.PredictMemory.peakmem_predict('numpy', 'regular')   |
| +        | 0.1                          | 0.2                         |    2.00 | training.ErrorRate.track_error_rate('numpy', 'regular')     |
"""  # noqa: E501 - verbatim `asv compare` rows


def test_worse_benchmarks_takes_the_worse_and_failing_rows_only() -> None:
    assert worse_benchmarks(TABLE) == [
        "predict.PredictLatency.time_predict('numpy', 'regular', 32)",
        "predict.PredictMemory.peakmem_predict('numpy', 'regular')",
        "training.ErrorRate.track_error_rate('numpy', 'regular')",
    ]
    assert worse_benchmarks("BENCHMARKS NOT SIGNIFICANTLY CHANGED.") == []


def test_exact_name_regex_selects_one_parameter_combination() -> None:
    rx = exact_name_regex("predict.PredictLatency.time_predict('numpy', 'regular', 32)")
    # the way ASV matches a parameterized benchmark: f"{name}({', '.join(params)})"
    assert re.search(rx, "predict.PredictLatency.time_predict('numpy', 'regular', 32)")
    assert not re.search(rx, "predict.PredictLatency.time_predict('numpy', 'regular', 320)")
    assert not re.search(rx, "predict.PredictLatency.time_predict('numpy', 'separable', 32)")


def test_the_asv_machine_is_known_by_its_hardware(monkeypatch):
    from sepbench.asv.history import default_machine, machine_facts
    from sepbench.machine.fingerprint import fingerprint, machine_name

    monkeypatch.delenv("SEPBENCH_ASV_MACHINE", raising=False)
    monkeypatch.delenv("SEPBENCH_MACHINE", raising=False)
    assert default_machine() == machine_name() == fingerprint().name()  # wiring: one name everywhere
    # and that name is the hardware's (vendor-family/model-cores-ISA-memory, e.g. xeon-f6m167-2c-avx512-24g), not the host's
    name = default_machine()
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*-\d+c-[a-z0-9]+-\d+g", name), name
    assert f"-{len(os.sched_getaffinity(0))}c-" in name or f"-{os.cpu_count()}c-" in name, name
    assert socket.gethostname() not in name.split("-"), name
    monkeypatch.setenv("SEPBENCH_ASV_MACHINE", "ci-box")
    assert default_machine() == "ci-box"
    facts = machine_facts("ci-box")
    assert facts["machine"] == "ci-box"
    assert facts["num_cpu"] == str(fingerprint().physical_cores) and fingerprint().isa in facts["cpu"]


def test_the_machine_file_keeps_every_fact_asv_machine_would_drop(tmp_path):
    """``asv machine --yes`` leaves out arch and CPU count when they equal its guesses; sepbench's
    machine file keeps them, in ~/.asv-machine.json and in a results folder's machine.json."""
    import json
    import os
    import subprocess
    import sys

    from sepbench.machine.fingerprint import fingerprint

    env = {**os.environ, "HOME": str(tmp_path)}
    cmd = [sys.executable, "-m", "sepbench.asv.machine_file", "ci-box", str(tmp_path / "results")]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    saved = json.loads((tmp_path / ".asv-machine.json").read_text())["ci-box"]
    written = json.loads((tmp_path / "results" / "ci-box" / "machine.json").read_text())
    fp = fingerprint()
    for doc in (saved, written):
        assert doc["arch"] == fp.arch and doc["num_cpu"] == str(fp.physical_cores) and fp.isa in doc["cpu"], doc
    bad = subprocess.run([sys.executable, "-m", "sepbench.asv.machine_file"], env=env, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "usage:" in bad.stderr
