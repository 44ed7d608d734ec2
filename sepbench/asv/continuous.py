"""The ASV check (``sepbench check asv``): ``asv continuous`` between two commits, confirmed, plus the exact figures.

:func:`regress` runs ``asv continuous`` between a base ref and a head ref, prints the full
``asv compare`` table, and then checks the *exact* figures (parameters, MACs per image) for any
change at all: ASV's factor (default 1.10) would let a 5 % growth of the model pass unseen.
It returns non-zero on a significant slowdown (or bigger error rate, memory, file size) beyond the
factor, on a benchmark that fails in head, and on a changed model unless that is allowed.

On a shared machine a timing can move by more than any useful factor between two runs of the same
code (seen here: 1.54x on a NumPy batch-32 predict, with ASV's interleaved rounds). So a flagged
benchmark is *confirmed*: ``asv continuous`` runs again for exactly the flagged benchmarks (by
default once), and only those worse again in every re-run make the alert. A real regression is
worse every time; noise rarely is twice in a row. ``confirm=0`` reports the first run as is.

Nothing here imports ASV: it is run as ``python -m asv`` from the environment that has it.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from sepbench.asv.history import AsvError, asv, default_machine, ensure_machine, read_asv_conf
from sepbench.util.git import GitError, dirty_files, resolve, toplevel

DEFAULT_FACTOR = 1.10
# figures that must not change at all unless the model changes on purpose
EXACT_BENCHMARKS = ("size.ModelSize.track_params", "size.ModelCost.track_macs_per_image")


def git_hash(ref: str, cwd: str | os.PathLike[str] = ".") -> str:
    try:
        return resolve(ref, cwd)
    except GitError as exc:
        raise AsvError(str(exc)) from None


def working_tree_dirty(cwd: str | os.PathLike[str] = ".") -> bool:
    try:
        return bool(dirty_files(cwd))
    except GitError as exc:
        raise AsvError(str(exc)) from None


@dataclass
class ExactChange:
    benchmark: str
    params: str
    base: float | None
    head: float | None

    def __str__(self) -> str:
        return f"{self.benchmark}({self.params}): {self.base} -> {self.head}"


# a row of `asv compare`: | mark | before | after | ratio | name(params) |; '+' worse, '!' failing
_COMPARE_ROW = re.compile(r"^\|\s*([+!])\s*\|[^|]*\|[^|]*\|[^|]*\|\s*(\S.*?)\s*\|\s*$")


def worse_benchmarks(compare_table: str) -> list[str]:
    """Names (with parameters, as ASV prints them) of the rows of an ``asv compare`` table marked
    worse (``+``) or failing (``!``)."""
    names = []
    for line in compare_table.splitlines():
        m = _COMPARE_ROW.match(line.strip())
        if m and m.group(2) not in names:
            names.append(m.group(2))
    return names


def exact_name_regex(name: str) -> str:
    """An ``--bench`` regex that selects exactly ``name`` (ASV matches parameterized benchmarks as
    ``name(param, ...)``)."""
    return "^" + re.escape(name) + "$"


@dataclass
class RegressOutcome:
    asv_status: int
    exact_changes: list[ExactChange] = field(default_factory=list)
    allow_model_change: bool = False

    @property
    def failed(self) -> bool:
        return self.asv_status != 0 or (bool(self.exact_changes) and not self.allow_model_change)


def exact_figures(results_dir: Path, machine: str, commit: str) -> dict[tuple[str, str], float]:
    """(benchmark, params) -> value of the exact figures stored for ``commit`` on ``machine``."""
    from sepbench.results.read_asv import load_asv_dir

    rows, _warnings, _read = load_asv_dir(results_dir)
    return {
        (r["benchmark"], r["params"] or ""): r["value"]
        for r in rows
        if r["commit"] == commit and r["machine"] == machine and r["benchmark"] in EXACT_BENCHMARKS and r["stat"] == "value"
    }


def compare_exact(base: dict[tuple[str, str], float], head: dict[tuple[str, str], float]) -> list[ExactChange]:
    """Every exact figure that differs, appears or disappears between base and head."""
    out = []
    for key in sorted(set(base) | set(head)):
        if base.get(key) != head.get(key):
            out.append(ExactChange(key[0], key[1], base.get(key), head.get(key)))
    return out


def regress(
    base: str,
    head: str = "HEAD",
    factor: float = DEFAULT_FACTOR,
    machine: str | None = None,
    bench: list[str] | None = None,
    attributes: list[str] | None = None,
    allow_model_change: bool = False,
    cwd: str | os.PathLike[str] = ".",
    confirm: int = 1,
) -> RegressOutcome:
    """``asv continuous`` base..head, ``confirm`` re-runs of what it flagged, the full compare
    table, then the exact-figure check."""
    if not 1.0 < factor <= 100.0:  # written so that nan fails too (nan compares false with everything)
        raise ValueError(f"factor must be in (1, 100] (e.g. 1.10 for 10 %), got {factor}")
    if confirm < 0:
        raise ValueError(f"confirm must be >= 0, got {confirm}")
    machine = machine or default_machine()
    try:
        cwd = toplevel(cwd)  # asv reads asv.conf.json at the checkout's root, wherever the command is run
    except GitError as exc:
        raise AsvError(str(exc)) from None
    base_hash, head_hash = git_hash(base, cwd), git_hash(head, cwd)
    if base_hash == head_hash:
        raise AsvError(f"base {base!r} and head {head!r} are the same commit {base_hash[:8]}: nothing to compare")
    if head == "HEAD" and working_tree_dirty(cwd):
        print("note: the working tree has uncommitted changes; ASV benchmarks the committed HEAD only", file=sys.stderr)
    ensure_machine(machine, cwd)
    attrs = [x for a in attributes or [] for x in ("--attribute", a)]
    select = [x for b in bench or [] for x in ("--bench", b)] + attrs
    print(f"== asv continuous: {base} ({base_hash[:8]}) -> {head} ({head_hash[:8]}), factor {factor}, machine {machine}", flush=True)
    status = asv(
        "continuous", "--factor", str(factor), "--machine", machine, "--show-stderr", *select, base_hash, head_hash, cwd=cwd, check=False
    ).returncode
    if status != 0 and not flagged_benchmarks(factor, machine, base_hash, head_hash, cwd):
        # asv failed before judging anything (it refused an argument, an environment would not build)
        raise AsvError(
            f"`asv continuous` exited with status {status} and flagged no benchmark: asv itself failed (its message is "
            "above), so nothing was measured; not a regression"
        )
    status = _confirm(status, factor, machine, attrs, base_hash, head_hash, confirm, cwd)
    print("== asv compare (all benchmarks)", flush=True)
    asv("compare", "--factor", str(factor), "--machine", machine, "--split", base_hash, head_hash, cwd=cwd, check=False)
    results_dir = Path(cwd) / _results_dir(Path(cwd))
    changes = compare_exact(exact_figures(results_dir, machine, base_hash), exact_figures(results_dir, machine, head_hash))
    outcome = RegressOutcome(status, changes, allow_model_change)
    _print_verdict(outcome, factor, confirm)
    return outcome


def flagged_benchmarks(factor: float, machine: str, base_hash: str, head_hash: str, cwd: str | os.PathLike[str]) -> list[str]:
    """The benchmarks ``asv compare`` marks worse or failing between the two commits (none: nothing judged)."""
    table = asv(
        "compare", "--factor", str(factor), "--machine", machine, "--only-changed", base_hash, head_hash, cwd=cwd, check=False, capture=True
    ).stdout
    return worse_benchmarks(table)


def _confirm(
    status: int, factor: float, machine: str, attrs: list[str], base_hash: str, head_hash: str, confirm: int, cwd: str | os.PathLike[str]
) -> int:
    """``asv continuous`` again, up to ``confirm`` times, for exactly the benchmarks the last run flagged;
    the status of the last run (0: not confirmed, noise in the first)."""
    for attempt in range(1, confirm + 1):
        if status == 0:
            break
        flagged = flagged_benchmarks(factor, machine, base_hash, head_hash, cwd)
        if not flagged:  # asv failed for another reason: nothing to confirm, keep the failure
            break
        print(f"== confirming {len(flagged)} flagged benchmark(s), re-run {attempt} of {confirm}: " + "; ".join(flagged), flush=True)
        again = [x for name in flagged for x in ("--bench", exact_name_regex(name))]
        status = asv(
            "continuous",
            "--factor",
            str(factor),
            "--machine",
            machine,
            "--show-stderr",
            *again,
            *attrs,
            base_hash,
            head_hash,
            cwd=cwd,
            check=False,
        ).returncode
        if status == 0:
            print(
                f"== not confirmed: {'; '.join(flagged)} within a factor {factor} in re-run {attempt} (noise in the first run)", flush=True
            )
    return status


def _print_verdict(outcome: RegressOutcome, factor: float, confirm: int) -> None:
    """The exact figures' changes and the outcome, one line each."""
    changes, status, allow_model_change = outcome.exact_changes, outcome.asv_status, outcome.allow_model_change
    print("== exact figures (parameters, MACs per image): " + ("unchanged" if not changes else "CHANGED"))
    for c in changes:
        print(f"   {c}")
    if status != 0:
        confirmed = f", confirmed by {confirm} re-run(s)" if confirm else ""
        print(
            f"REGRESSION: asv continuous found benchmarks worse by more than a factor {factor}{confirmed} (table above, marked '+'), or "
            "failing"
        )
    if changes:
        print(
            "MODEL CHANGED: "
            + ("allowed (--allow-model-change)" if allow_model_change else "failing; pass --allow-model-change if intended")
        )
    if not outcome.failed:
        print(f"OK: no regression beyond a factor {factor}")


def _results_dir(root: Path) -> str:
    """``results_dir`` of the repository's asv.conf.json."""
    return read_asv_conf(root / "asv.conf.json").get("results_dir", ".asv/results")
