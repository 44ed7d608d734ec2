"""Machines known by their hardware: names from real /proc/cpuinfo texts of three kinds of CPU.

``cpuinfo-intel-xeon-f6m207.txt`` is this project's Intel development VM, copied verbatim; the AMD
EPYC and Arm Neoverse files hold the /proc/cpuinfo fields of a 2-vCPU EPYC 7763 VM and a 4-core
Neoverse-N1 (Graviton2-class) host.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest

from sepbench.machine.fingerprint import Fingerprint, cpu_token, fingerprint, isa_level, machine_name, parse_cpuinfo

DATA = Path(__file__).parent / "data"


def _fp(cpuinfo: str, arch: str, memory_gib: float) -> Fingerprint:
    info = parse_cpuinfo((DATA / cpuinfo).read_text())
    return Fingerprint(
        arch=arch,
        vendor=str(info["vendor"]),
        brand=str(info["brand"]),
        family_model=str(info["family_model"]),
        physical_cores=int(info["physical_cores"]),
        logical_cpus=int(info["logical_cpus"]),
        isa=isa_level(arch, info["flags"]),
        memory_bytes=int(memory_gib * 2**30),
        os="linux-debian-12",
        accelerator="",
    )


def test_two_different_cpus_get_two_different_names_with_no_configuration():
    xeon = _fp("cpuinfo-intel-xeon-f6m207.txt", "x86_64", 23.54)
    epyc = _fp("cpuinfo-amd-epyc-2vcpu.txt", "x86_64", 23.54)
    arm = _fp("cpuinfo-arm-neoverse-n1-4cpu.txt", "aarch64", 16)
    assert xeon.name() == "xeon-f6m207-2c-avx512-24g"
    assert epyc.name() == "epyc7763-2c-avx2-24g"
    assert arm.name() == "neoverse-n1-4c-neon-16g"
    assert len({xeon.digest(), epyc.digest(), arm.digest()}) == 3


def test_same_name_other_hardware_differs_in_the_digest():
    xeon = _fp("cpuinfo-intel-xeon-f6m207.txt", "x86_64", 24)
    assert replace(xeon, os="linux-ubuntu-24.04").digest() != xeon.digest()
    assert replace(xeon, accelerator="1x NVIDIA H200").name() == "xeon-f6m207-2c-avx512-24g-1x-nvidia-h200"


@pytest.mark.parametrize(
    "brand, family_model, token",
    [
        ("AMD EPYC 7763 64-Core Processor", "25.1", "epyc7763"),
        ("AMD EPYC 9V74 80-Core Processor", "25.17", "epyc9v74"),
        ("Intel(R) Xeon(R) Platinum 8370C CPU @ 2.80GHz", "6.106", "xeon8370c"),
        ("Intel(R) Xeon(R) CPU @ 2.20GHz", "6.79", "xeon-f6m79"),  # a cloud brand without a model number
        ("Intel(R) Core(TM) i7-10700K CPU @ 3.80GHz", "6.165", "core10700k"),
        ("", "", "cpu"),
    ],
)
def test_cpu_token(brand, family_model, token):
    assert cpu_token(brand, family_model) == token


@pytest.mark.parametrize(
    "arch, flags, level",
    [
        ("x86_64", {"avx512f", "avx512bw", "avx512vl", "avx2", "fma"}, "avx512"),
        ("x86_64", {"avx512f", "avx2", "fma"}, "avx2"),
        ("x86_64", {"avx"}, "avx"),
        ("x86_64", set(), "x86_64"),
        ("aarch64", {"asimd", "sve"}, "sve"),
        ("aarch64", {"asimd"}, "neon"),
    ],
)
def test_isa_level(arch, flags, level):
    assert isa_level(arch, flags) == level


def test_this_machine_has_a_hardware_name_and_the_host_name_plays_no_part(monkeypatch):
    monkeypatch.delenv("SEPBENCH_MACHINE", raising=False)
    name = machine_name()
    assert re.fullmatch(r"[a-z0-9-]+-\d+c-[a-z0-9_]+(-\d+g)?(-.+)?", name), name
    assert name == fingerprint().name()
    assert fingerprint().physical_cores >= 1


def test_the_user_names_the_machine(monkeypatch):
    monkeypatch.setenv("SEPBENCH_MACHINE", "lab-box-1")
    assert machine_name() == "lab-box-1"
    monkeypatch.setenv("SEPBENCH_MACHINE", "../etc")
    with pytest.raises(ValueError, match="SEPBENCH_MACHINE"):
        machine_name()
