"""The A/B alert: time two commits' workloads in one job, in interleaved rounds, and judge each case.

Both commits are exported (``git archive``, nothing checked out, nothing installed) and each is run by
its own :mod:`worker <sepbench.checks.ab_worker>` process in this environment (the same frameworks, so a
difference is a difference in the repository's code).  Both workers are pinned to one core and one
thread.  Each round times every case once on each side, back to back, in a random order; a sample is
``calls`` calls (about ``sample_s`` seconds), so a round's two samples see the same machine.  Each case
is judged on its paired samples (:func:`sepbench.results.slowdown.judge`); a flagged case is timed
again for ``confirm`` more sets of rounds, each in fresh worker processes, and alerts only if the
pooled samples of all its sets are flagged too.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from sepbench.core.pairs import STUDY_PAIR
from sepbench.results.slowdown import Slowdown, judge
from sepbench.util.atomic import new_log
from sepbench.util.git import GitError
from sepbench.util.git import dirty_files as git_dirty_files
from sepbench.util.git import resolve as git_resolve
from sepbench.util.git import toplevel as git_toplevel

WORKER = Path(__file__).with_name("ab_worker.py")
CHANNEL = "wall time, paired A/B rounds"
# the CI configuration (chosen by the ab-rates run: docs/alerts.md)
ROUNDS, MIN_EFFECT, CONFIRM, SAMPLE_S = 20, 0.05, 1, 0.02


class AbError(RuntimeError):
    """The comparison could not be made (a bad ref, a worker that failed); the message says why."""


@dataclass(frozen=True)
class AbCase:
    """One A/B case: a predict workload timed on both sides: ``n_images`` images at ``batch_size``, one path."""

    backend: str
    model: str
    batch_size: int
    n_images: int
    path: str = "default"

    @property
    def id(self) -> str:
        return f"{self.backend}-{self.model}-{self.path}-b{self.batch_size}-n{self.n_images}"

    @classmethod
    def parse(cls, text: str) -> AbCase:
        """``backend-model-path-bBATCH-nIMAGES`` (the :attr:`id`), e.g. ``numpy-regular-default-b1000-n1000``.

        A model's name may hold hyphens (``example-regular``); a backend's and a path's do not, so the
        model is everything between the first part and the last three.
        """
        parts = text.split("-")
        if len(parts) < 5 or not parts[-2].startswith("b") or not parts[-1].startswith("n"):
            raise ValueError(f"a case is BACKEND-MODEL-PATH-bBATCH-nIMAGES (e.g. numpy-regular-default-b1000-n1000), not {text!r}")
        try:
            batch, n = int(parts[-2][1:]), int(parts[-1][1:])
        except ValueError:
            raise ValueError(f"{text!r}: batch and image counts must be integers") from None
        if batch < 1 or n < 1:
            raise ValueError(f"{text!r}: batch and image counts must be >= 1")
        return cls(parts[0], "-".join(parts[1:-3]), batch, n, parts[-3])

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "backend": self.backend,
            "model": self.model,
            "batch_size": self.batch_size,
            "n_images": self.n_images,
            "path": self.path,
        }


def default_cases() -> tuple[AbCase, ...]:
    """What the CI alert times: per registered backend (one unavailable is skipped with its reason) both
    models at batch 1 (latency, the noisy kind) and 1,000 images in batches of 100 (throughput, the quiet
    kind), default path.  A function: the registry is imported only when an A/B check runs (the CLI
    imports this module for every command, the report's included, which must not import impls/)."""
    from impls.registry import backend_names

    return tuple(
        AbCase(backend, model, batch, n)
        for backend in backend_names()
        for model in STUDY_PAIR.model_names  # the history of the alert's cases is the study pair's
        for batch, n in ((1, 1), (100, 1000))
    )


@dataclass
class CaseResult:
    """One case's verdict: its samples (seconds per call) and the judgement of each set of rounds."""

    case: AbCase
    base: list[float] = field(default_factory=list)
    head: list[float] = field(default_factory=list)
    calls: int = 1
    judgements: list[Slowdown] = field(default_factory=list)

    @property
    def verdict(self) -> Slowdown:
        """The deciding judgement: the last set's (confirmations stop at the first set that is not flagged)."""
        return self.judgements[-1]

    @property
    def regressed(self) -> bool:
        return bool(self.judgements) and all(j.regressed for j in self.judgements)


@dataclass
class AbOutcome:
    base: str  # commit hashes
    head: str
    results: list[CaseResult]
    model_changes: list[str]
    wall_s: float
    rounds: int
    min_effect: float
    log: str
    skipped: dict[str, str] = field(default_factory=dict)  # "backend (side)" or "case (side)" -> why it did not run

    @property
    def regressions(self) -> list[CaseResult]:
        return [r for r in self.results if r.regressed]

    @property
    def failed(self) -> bool:
        return bool(self.regressions)


def resolve_commit(repo: Path, ref: str) -> str:
    """The commit hash of ``ref`` in ``repo``; :class:`AbError` if it names no commit."""
    try:
        return git_resolve(ref, repo)
    except GitError as exc:
        raise AbError(str(exc)) from None


def export(repo: Path, commit: str, dest: Path) -> Path:
    """The tracked files of ``commit`` under ``dest`` (``git archive``: the repository is not touched).

    The archive goes through a file, not a pipe: :mod:`tarfile` stops reading at the first end-of-archive
    block, and when git still had a trailing record to write, closing the pipe killed git (a failure
    that came and went with the machine's load).
    """
    dest = dest.resolve()  # git runs in the repository: a relative path would land there
    dest.mkdir(parents=True)
    archive = dest.with_name(dest.name + ".tar")
    cmd = ["git", "archive", "--format=tar", "-o", str(archive), "--end-of-options", commit]
    proc = subprocess.run(cmd, cwd=repo, capture_output=True, text=True)
    try:
        if proc.returncode != 0:
            raise AbError(f"git archive {commit} failed: {proc.stderr.strip()[-500:]}")
        with tarfile.open(archive) as tar:
            tar.extractall(dest, filter="data")
    finally:
        archive.unlink(missing_ok=True)
    return dest


class Worker:
    """One side: a worker process running ``tree``'s code; :meth:`ask` sends a request, returns the answer."""

    def __init__(self, name: str, tree: Path, log: IO[str], env: dict[str, str]) -> None:
        self.name, self.log = name, log
        self.proc = subprocess.Popen(
            [sys.executable, str(WORKER), str(tree)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            env=env,
            cwd=tree,
        )

    def ask(self, request: dict[str, Any]) -> dict[str, Any]:
        assert self.proc.stdin and self.proc.stdout
        try:
            self.proc.stdin.write(json.dumps(request) + "\n")
            self.proc.stdin.flush()
            line = self.proc.stdout.readline()
        except BrokenPipeError:
            line = ""
        if not line:
            raise AbError(f"the {self.name} worker exited (status {self.proc.wait()}); see the log {self.log.name}")
        try:
            answer = json.loads(line)
        except json.JSONDecodeError:
            raise AbError(f"the {self.name} worker answered {line[:200]!r}, not JSON; see the log {self.log.name}") from None
        if "error" in answer:
            raise AbError(f"the {self.name} worker failed: {answer['error']} (traceback in {self.log.name})")
        return answer

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                assert self.proc.stdin
                self.proc.stdin.write(json.dumps({"quit": True}) + "\n")
                self.proc.stdin.flush()
                self.proc.wait(timeout=30)
            except (BrokenPipeError, subprocess.TimeoutExpired, OSError):
                self.proc.kill()
                self.proc.wait()


def _pinned_cpu() -> int | None:
    """The last core this process may use (the workers share it; the controller waits elsewhere)."""
    if not hasattr(os, "sched_getaffinity"):
        return None
    return max(os.sched_getaffinity(0))


def compare(
    base_ref: str,
    head_ref: str,
    cases: Sequence[AbCase] | None = None,  # None: default_cases()
    *,
    rounds: int = ROUNDS,
    min_effect: float = MIN_EFFECT,
    confirm: int = CONFIRM,
    sample_s: float = SAMPLE_S,
    repo: Path = Path("."),
    log_path: Path | None = None,
    seed: int = 0,
    progress: Callable[[str], None] = lambda msg: None,
    same_commit: bool = False,
) -> AbOutcome:
    """Time ``cases`` of two commits in ``rounds`` interleaved rounds and judge each (see the module docstring);
    ``same_commit``: time one commit against itself (the gate confirming a run on its baseline's commit).

    ``min_effect``: the smallest slowdown (fraction) that alerts; ``sample_s``: seconds per sample (calls
    per sample are set from the base's first call); ``log_path``: the workers' output (default: a file in
    the temporary folder, kept).  Raises :class:`AbError` for a bad ref or a worker that fails.
    """
    cases = default_cases() if cases is None else cases
    _check_options(rounds, confirm, min_effect, cases)
    repo, base, head = _commits(repo, base_ref, head_ref, same_commit)
    start = time.perf_counter()
    rng = random.Random(seed)
    log_path = Path(log_path) if log_path else new_log(f"sepbench-ab-{base[:8]}-{head[:8]}-")
    with tempfile.TemporaryDirectory(prefix="sepbench-ab-") as tmp, open(log_path, "w") as log:
        trees = {"base": export(repo, base, Path(tmp) / "base"), "head": export(repo, head, Path(tmp) / "head")}
        results = [CaseResult(c) for c in cases]
        todo, changes, skipped = list(results), [], {}
        for attempt in range(1 + confirm):
            # each set in fresh processes: a process's own luck (where its arrays landed) does not carry over
            progress(
                f"{'rounds' if attempt == 0 else 'confirmation'}: {rounds} x {len(todo)} cases, {base[:8]} (base) vs {head[:8]} (head)"
            )
            with _workers(trees, [r.case for r in todo], log, rng.sample(list(trees), len(trees))) as (sides, infos):
                if attempt == 0:  # the cases both commits could build; the others listed with the reason
                    todo, changes, skipped = _first_set(sides, infos, todo, sample_s)
                samples = _rounds(sides, todo, rounds, rng)
            for r in todo:
                b, h = samples[r.case.id]
                r.base += b
                r.head += h
                # a confirmation judges every set so far, pooled: each set ran in its own processes, so
                # their luck (where a process's arrays landed) averages out instead of having to win twice
                r.judgements.append(judge(r.base, r.head, min_effect=min_effect, paired=True, seed=seed + attempt))
            todo = [r for r in todo if r.judgements[-1].regressed]
            if not todo:
                break
    results = [r for r in results if r.judgements]
    if not results:
        why = "; ".join(f"{k}: {v.splitlines()[0]}" for k, v in skipped.items()) or "none skipped"
        raise AbError(f"no case could be timed on both sides ({why}); see the log {log_path}")
    return AbOutcome(base, head, results, changes, time.perf_counter() - start, rounds, min_effect, str(log_path), skipped)


def _check_options(rounds: int, confirm: int, min_effect: float, cases: Sequence[AbCase]) -> None:
    if rounds < 5:
        raise ValueError(f"rounds must be >= 5 (a paired interval needs samples), got {rounds}")
    if confirm < 0:
        raise ValueError(f"confirm must be >= 0 (further sets of rounds), got {confirm}")
    if not 0 <= min_effect < 10:
        raise ValueError(f"min_effect must be a fraction in [0, 10), got {min_effect}")
    if not cases:
        raise ValueError("no cases to compare")


def _first_set(
    sides: dict[str, Any], infos: dict[str, Any], todo: list[CaseResult], sample_s: float
) -> tuple[list[CaseResult], list[str], dict[str, str]]:
    """At the first set's start: the cases both commits could build, the model changes between them, the
    cases either side skipped (with the reason), and each case's calls per sample from one call of the base."""
    skipped = {f"{k} ({side})": why for side in ("base", "head") for k, why in infos[side]["skipped"].items()}
    todo = [r for r in todo if r.case.id in infos["base"]["cases"] and r.case.id in infos["head"]["cases"]]
    for r in todo:
        one = sides["base"].ask({"time": r.case.id, "calls": 1})["seconds"]
        r.calls = max(1, round(sample_s / one))
    return todo, _model_changes(infos), skipped


def _commits(repo: Path, base_ref: str, head_ref: str, same_commit: bool) -> tuple[Path, str, str]:
    """The repository's top folder and the commits of the two refs; two refs of one commit are refused
    (:func:`_check_not_one_commit`) unless ``same_commit`` asks for one commit timed against itself."""
    try:
        repo = git_toplevel(repo)  # from a sub-folder too: the whole tree is exported, not the sub-folder
    except GitError as exc:
        raise AbError(str(exc)) from None
    base, head = resolve_commit(repo, base_ref), resolve_commit(repo, head_ref)
    if not same_commit:
        _check_not_one_commit(repo, base_ref, head_ref, base, head)
    return repo, base, head


def _check_not_one_commit(repo: Path, base_ref: str, head_ref: str, base: str, head: str) -> None:
    """Refuse two refs of one commit (it would be timed against itself and pass); uncommitted changes,
    which are never timed, are named in the refusal, or in a note when HEAD is the head."""
    try:
        dirty = git_dirty_files(repo)
    except GitError:
        dirty = []
    changes = f"the working tree has uncommitted changes ({', '.join(dirty[:3])}): only committed code is timed, commit them first"
    if base == head:
        raise AbError(
            f"--base {base_ref} and --head {head_ref} are the same commit {base[:8]}: nothing to compare"
            + (f"; {changes}" if dirty else "")
        )
    if dirty and head_ref == "HEAD":
        print(f"note: {changes}", file=sys.stderr)


@contextlib.contextmanager
def _workers(
    trees: dict[str, Path], cases: list[AbCase], log: IO[str], order: list[str] | None = None
) -> Iterator[tuple[dict[str, Worker], dict[str, dict]]]:
    """Both sides' workers, set up with ``cases``: (workers, their set-up answers); closed on exit.  ``order``:
    which side starts and sets up first (drawn per set: the first process to allocate its images can get
    other pages than the second, and a fixed order would make that a difference between the commits)."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"), "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("PYTHONPATH", None)
    sides: dict[str, Worker] = {}
    try:
        for name in order or list(trees):
            sides[name] = Worker(name, trees[name], log, env)
        request = {"setup": {"cases": [c.as_dict() for c in cases], "threads": 1, "cpu": _pinned_cpu(), "data_dir": None}}
        infos = {name: w.ask(request) for name, w in sides.items()}
        for name, tree in trees.items():
            if not infos[name]["sepbench"].startswith(str(tree)):
                raise AbError(f"the {name} worker imported sepbench from {infos[name]['sepbench']}, not from its commit's tree {tree}")
        yield sides, infos
    finally:
        for w in sides.values():
            w.close()


def _model_changes(infos: dict[str, dict]) -> list[str]:
    base, head = infos["base"]["cases"], infos["head"]["cases"]
    return [
        f"{c}: {base[c]['params']} -> {head[c]['params']} parameters" for c in base if c in head and base[c]["params"] != head[c]["params"]
    ]


def _rounds(
    sides: dict[str, Worker], results: list[CaseResult], rounds: int, rng: random.Random
) -> dict[str, tuple[list[float], list[float]]]:
    """``rounds`` rounds over ``results``' cases: per case, (base, head) seconds per call, paired by round."""
    out: dict[str, tuple[list[float], list[float]]] = {r.case.id: ([], []) for r in results}
    for _ in range(rounds):
        order = list(results)
        rng.shuffle(order)
        for r in order:
            pair = ["base", "head"]
            rng.shuffle(pair)
            t = {side: sides[side].ask({"time": r.case.id, "calls": r.calls})["seconds"] / r.calls for side in pair}
            out[r.case.id][0].append(t["base"])
            out[r.case.id][1].append(t["head"])
    return out
