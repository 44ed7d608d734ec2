"""Entry points.  ``nox -l`` lists them; the README says which two a new user needs.

Sessions reuse their virtualenv between runs (``nox -R`` skips the install step as well).
Pass pytest / tool arguments after ``--``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import nox

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # the stdlib-only helpers, before any install
from sepbench.asv.archive import ArchiveError, append, merge, publish_config  # noqa: E402  (stdlib only, as these)
from sepbench.asv.history import default_machine, read_asv_conf  # noqa: E402
from sepbench.bench.nox_args import BenchArgs, NoxArgsError, bench_args, pop_option  # noqa: E402
from sepbench.bench.processes import FULL_SCHEDULE, QUICK_SCHEDULE  # noqa: E402
from sepbench.bench.record_writer import new_run_id, utc_now  # noqa: E402
from sepbench.bench.storage import bench_storage, last_run_path  # noqa: E402
from sepbench.machine.fingerprint import machine_name  # noqa: E402
from sepbench.results.paired_records import records_dir  # noqa: E402
from sepbench.util.git import dirty_files  # noqa: E402
from sepbench.util.paths import HISTORY_DIR  # noqa: E402

nox.options.reuse_venv = "yes"
nox.options.sessions = ["tests"]

PYTHON = "3.11"
# sepbench with every backend's framework (pinned in pyproject.toml) and the test/benchmark tools
INSTALL = (".[all,test]",)


def _install(session: nox.Session) -> None:
    session.install("-e", *INSTALL)


def _env() -> dict[str, str]:
    """Pass the data location through; quiet TensorFlow's C++ logging."""
    env = {"TF_CPP_MIN_LOG_LEVEL": "2", "KERAS_BACKEND": "tensorflow"}
    for var in ("SEPBENCH_MNIST_DIR", "SEPBENCH_CACHE_DIR", "SEPBENCH_RESULTS_DIR"):
        if os.environ.get(var):
            env[var] = os.path.abspath(os.path.expanduser(os.environ[var]))
    return env


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """The unit tests (CI runs exactly this)."""
    _install(session)
    # two workers, one file each at a time (a file's fixtures, one ASV project or one trained cache, stay in
    # one process), handed out in the order tests/conftest.py gives, the slowest first: xdist's default
    # reorders files by their number of tests, which started the slowest file (6 tests) near the end.
    # The ten slowest tests are listed at the end: the test time is a target (at most 5 minutes on 2 cores).
    dist = ["-n", "2", "--dist", "loadfile", "--no-loadscope-reorder"]
    try:  # the user's own -m joins the session's (pytest keeps only the last -m)
        marks, user = pop_option(session.posargs, "-m")
        serial = user
        for option in ("-n", "--numprocesses", "--dist", "--maxprocesses"):  # the second run has no workers
            serial = pop_option(serial, option)[1]
    except NoxArgsError as exc:
        session.error(str(exc))
    serial = [a for a in serial if a != "--no-loadscope-reorder"]
    selected = f"({marks}) and " if marks else ""
    # a selection of the user's may leave either run empty (pytest's exit 5); the whole suite leaves neither
    empty_ok = [0, 5] if session.posargs else [0]
    tests = ["pytest", "tests", "--ignore=tests/bench"]
    session.run(*tests, "-m", f"{selected}not alone", *dist, "--durations=10", *user, env=_env(), success_codes=empty_ok)
    # tests that measure the other processes on the machine, after the parallel run: beside a second worker
    # they would always find a core busy and skip
    session.run(*tests, "-m", f"{selected}alone", "-p", "no:xdist", *serial, env=_env(), success_codes=empty_ok)


RUFF = "ruff==0.17.6"  # pinned: a new ruff release may add findings to unchanged code


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff: the rules in pyproject.toml and ruff's formatting, over the whole tree (CI runs it before the tests)."""
    session.install(RUFF)
    session.run("ruff", "check", ".", *session.posargs)
    session.run("ruff", "format", "--check", ".")


@nox.session(python=PYTHON)
def mutants(session: nox.Session) -> None:
    """Mutation testing (mutmut, set up in pyproject.toml): how many small changes to the claims engine and
    the verdict rules the tests catch; lists the survivors (slow: minutes, not in CI)."""
    _install(session)
    env = {**_env(), "SEPBENCH_SKIP_BROWSER": "1"}  # a mutant's tests run in seconds, not Chromium's start-up
    session.run("mutmut", "run", "--max-children", str(os.cpu_count() or 1), *session.posargs, env=env)
    session.run("mutmut", "export-cicd-stats", env=env)
    session.run("python", "-c", "import json; s = json.load(open('mutants/mutmut-cicd-stats.json')); print(s)", env=env)
    session.run("mutmut", "results", env=env)


@nox.session(python=PYTHON)
def report(session: nox.Session) -> None:
    """The comparison report from whatever results exist -> reports/ (needs no framework)."""
    session.install("-e", ".")
    session.run("sepbench", "report", *session.posargs, env=_env())


# ---- bench: the project's main job ---------------------------------------------------------------
def _pairs_option(pytest_args: list[str]) -> list[str]:
    """``--pairs X`` for ``sepbench train`` when the benchmark's arguments name pairs (``--pairs``/``--pair``;
    the last one, as pytest takes it)."""
    found: list[str] = []
    for i, arg in enumerate(pytest_args):
        for name in ("--pairs", "--pair"):
            if arg == name and i + 1 < len(pytest_args):
                found = ["--pairs", pytest_args[i + 1]]
            elif arg.startswith(name + "="):
                found = ["--pairs", arg.split("=", 1)[1]]
    return found


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Main job: decide the study's claims for every backend path and pair, save the run, print the verdict and the report.

    Trains the weights that are not cached first (``sepbench train``; ``--no-train`` skips it: latency
    only).  The paired cases that decide "faster" and "trains faster" then run again in fresh processes
    (3 per case, 6 and 10 for a case still undecided) within the job's budget: 10 minutes for a first
    run, 4 for a rerun, 6 for a rerun at fewer threads than cores.  A rerun's records pool with the
    earlier runs' of the same commit and machine.  Options after ``--``: ``--full`` (the latency matrix
    too: every batch size, Keras's graph forward), ``--fresh`` (pool nothing from earlier runs),
    ``--processes 3,6,10`` (the schedule; ``1``: the main run only), ``--budget SECONDS`` (for the extra
    processes), ``--quick`` (CI smoke, < 3 min on 2 cores), ``--threads N`` (default:
    one per core other processes leave free, measured at the start; a compared run takes its baseline's;
    more than the usable cores is refused), ``--backends numpy,torch``, ``--compare [NAME]`` (against the
    last saved run, or the run saved with ``--save-as NAME``: ``sepbench check gate`` fails on a confirmed
    slowdown beyond the case's spread or ``--min-effect``, default 0.10; a compared run is not saved unless
    ``--save-as`` is given), ``--save-as NAME``, ``--pairs study,spatial,FILE.toml`` (the pairs decided;
    default study,spatial);
    anything else goes to pytest.
    """
    started = time.monotonic()  # the job's budget counts from here: install and training included
    storage = str(bench_storage())
    try:
        parsed = bench_args(session.posargs, storage, machine_name())  # bad options fail before the install
    except NoxArgsError as exc:
        session.error(str(exc))
    pytest_args, compare = parsed.pytest_args, parsed.compare
    os.makedirs(storage, exist_ok=True)
    _install(session)
    if compare:
        session.log(f"comparing against {compare}")
    env = _env()
    if "--offline" in session.posargs:  # `sepbench train` runs before pytest: it must not download either
        env["SEPBENCH_OFFLINE"] = "1"
    if parsed.train:  # trained once, then cached: the accuracy claim needs trained weights (of the pairs measured)
        session.run("sepbench", "train", *_pairs_option(pytest_args), env=env)
    else:
        session.log("--no-train: weights that are not cached are seeded-init (untrained): latency only, no accuracy claim")
    run_id = new_run_id()
    pool_since = utc_now() if parsed.fresh else ""
    job = ["--run-id", run_id, *(["--pool-since", pool_since] if pool_since else [])]
    setup_s = time.monotonic() - started
    session.run("pytest", "tests/bench", "-p", "no:cacheprovider", *pytest_args, *job, env=env)
    # the paired cases again in fresh processes (the unit a verdict's interval must cover), on the fixed schedule
    more = _processes_args(parsed, storage, run_id, pool_since, time.monotonic() - started, setup_s)
    if more:
        session.run("python", "-m", "sepbench.bench.processes", *more, "--", *parsed.user_args, env=env)
    session.run("sepbench", "bench-summary", str(last_run_path(storage)), env=env)
    session.run("sepbench", "report", env=env)
    if compare:  # the gate, last: its exit status is the session's
        gate = ["sepbench", "check", "gate", compare, str(last_run_path(storage)), "--min-effect", str(parsed.min_effect)]
        gate += ["--records", str(records_dir(storage, machine_name()))]  # judged over both runs' processes
        session.run(*gate, "--", *parsed.user_args, env=env)


def _processes_args(parsed: BenchArgs, storage: str, run_id: str, pool_since: str, elapsed_s: float, setup_s: float) -> list[str]:
    """``python -m sepbench.bench.processes``'s options for this job (``[]``: the schedule is the main run alone)."""
    schedule = parsed.schedule or (QUICK_SCHEDULE if "--quick" in parsed.user_args else FULL_SCHEDULE)
    if schedule == (1,):
        return []
    records = records_dir(storage, machine_name())
    more = ["--records", str(records), "--run-id", run_id, "--schedule", ",".join(map(str, schedule))]
    more += ["--elapsed", f"{elapsed_s:.1f}", "--setup", f"{setup_s:.1f}"]
    more += ["--budget", str(parsed.budget_s)] if parsed.budget_s is not None else []
    more += ["--pool-since", pool_since] if pool_since else []
    # the gate judges each run's own processes: two, whatever the budget (not --quick: a smoke run of
    # one process, whose flagged cases the gate re-runs)
    if (parsed.compare or parsed.saved_as) and "--quick" not in parsed.user_args:
        more += ["--own-at-least", "2"]
    return more


@nox.session(python=PYTHON)
def reproduce(session: nox.Session) -> None:
    """Train both models in every backend on the full data and compare with the study (not CI).

    One seed in every trainer (the parity check) plus 5 seeds in the fastest trainer: accuracy with
    95 % intervals (``--seeds N`` to change).  Options after ``--`` go to ``sepbench reproduce``
    (e.g. ``-- --backends torch --epochs 5``).
    """
    _install(session)
    env = _env()
    seeds = [] if any(a == "--seeds" or a.startswith("--seeds=") for a in session.posargs) else ["--seeds", "5"]
    session.run("sepbench", "reproduce", *seeds, *session.posargs, env=env)


# ---- ASV: history per commit and machine ---------------------------------------------------------
@nox.session(python=PYTHON)
def asv(session: nox.Session) -> None:
    """ASV history: benchmark HEAD (or ``-- RANGE``, e.g. ``-- HEAD~3..HEAD``) in the pinned environment.

    ``-- --machine NAME`` names the machine (default: $SEPBENCH_ASV_MACHINE or the host name);
    ``-- --quick`` is the smoke run (every benchmark once, in this session's environment, nothing
    saved); other options go to ``asv run`` (a range, if given, comes first).  Results:
    ``.asv/results``; then ``nox -s publish``.
    """
    try:
        machine, args = pop_option(session.posargs, "--machine")
    except NoxArgsError as exc:
        session.error(str(exc))
    _install(session)
    machine = machine or default_machine()
    session.run("python", "-m", "sepbench.asv.machine_file", machine, env=_env())  # every fact of the hardware fingerprint
    if "--quick" in args:
        args.remove("--quick")
        session.run("asv", "run", "--python=same", "--quick", "--dry-run", "--show-stderr", "--machine", machine, *args, env=_env())
        return
    spec, options = (args[0], args[1:]) if args and not args[0].startswith("-") else ("HEAD^!", args)
    session.run("asv", "run", spec, "--machine", machine, "--show-stderr", "--skip-existing-successful", *options, env=_env())


@nox.session(python=PYTHON)
def publish(session: nox.Session) -> None:
    """``asv publish``: the HTML history in ``.asv/html`` from this machine's results and ``history/``
    (serve it: ``asv preview``; it does not open from file://).

    The two are merged into ``.asv/merged-results`` first (a local result wins over the same file in
    ``history/``).  ``-- --offline`` replaces the pages' CDN scripts (jQuery, flot, Bootstrap) by local
    copies fetched once with npm, for a machine without internet.
    """
    args = list(session.posargs)
    offline = "--offline" in args
    if offline:
        args.remove("--offline")
    session.install("-e", ".", "asv>=0.6.4", "virtualenv>=20")
    copied = merge([Path(".asv/results"), Path(HISTORY_DIR)], Path(".asv/merged-results"))
    if not copied:
        session.error("no ASV results: neither .asv/results nor history/ holds any (run `nox -s asv` first)")
    conf = publish_config(read_asv_conf(Path("asv.conf.json")), Path("."), Path(".asv/merged-results"), Path(".asv/html"))
    Path(".asv/publish.conf.json").write_text(json.dumps(conf, indent=2))
    session.run("asv", "publish", "--config", ".asv/publish.conf.json", *args, env=_env())
    if offline:
        session.run("python", "-m", "sepbench.asv.vendor", ".asv/html", env=_env())
    session.log(f"published: {os.path.abspath('.asv/html/index.html')} (serve it: `asv preview`)")


@nox.session(python=PYTHON)
def history(session: nox.Session) -> None:
    """Append this machine's ASV results for HEAD to ``history/`` (commit them: the history every clone
    publishes).  Runs ``asv run HEAD^!`` first unless the results exist; refuses a dirty tree (ASV takes
    the suite from the working tree) and never replaces a file there.  Options after ``--`` go to
    ``asv run`` (e.g. ``--bench 'SeparableRatio|ModelSize'``)."""
    dirty = dirty_files(Path("."))
    if dirty:
        session.error(f"the working tree has uncommitted changes ({', '.join(dirty[:5])}): commit or stash them first")
    _install(session)
    machine = default_machine()
    commit = session.run("git", "rev-parse", "HEAD", silent=True, external=True).strip()
    session.run("python", "-m", "sepbench.asv.machine_file", machine, env=_env())
    session.run("asv", "run", "HEAD^!", "--machine", machine, "--skip-existing-successful", *session.posargs, env=_env())
    try:
        written = append(Path(".asv/results"), Path(HISTORY_DIR), machine, commit)
    except ArchiveError as exc:
        session.error(str(exc))
    session.log(f"appended {len(written)} files to {HISTORY_DIR}/{machine}/ for {commit[:8]}: commit them (git add {HISTORY_DIR})")


@nox.session(name="check-asv", python=PYTHON)
def check_asv(session: nox.Session) -> None:
    """The ASV check: ``sepbench check asv`` runs ``asv continuous`` between ``--base REF`` (default main) and HEAD.

    Exits non-zero when a benchmark is worse by more than ``--factor`` (default 1.10) or fails, or
    when the parameter or MAC count changed (``--allow-model-change`` to accept). Prints the table.
    """
    _install(session)
    session.run("sepbench", "check", "asv", *session.posargs, env=_env())


@nox.session(name="check-ab", python=PYTHON)
def check_ab(session: nox.Session) -> None:
    """The A/B check CI runs: ``sepbench check ab`` times ``--base REF`` (default main) and ``--head REF``
    (default HEAD) side by side in one job and exits 1 on a slowdown beyond 5 % (95 % confidence,
    confirmed) or a changed parameter count.  Its measured hit and false-alarm rates: docs/alerts.md."""
    _install(session)
    session.run("sepbench", "check", "ab", *session.posargs, env=_env())


@nox.session(name="check-ab-rates", python=PYTHON)
def check_ab_rates(session: nox.Session) -> None:
    """Measure the A/B check's hit and false-alarm rates on commits slowed 1.00-2.0x (``sepbench check
    ab-rates``; 20 trials per factor: about 10 minutes on 2 cores)."""
    _install(session)
    session.run("sepbench", "check", "ab-rates", *session.posargs, env=_env())


# the sessions' names before the checks were one family: each runs its new session
@nox.session(python=PYTHON)
def regress(session: nox.Session) -> None:
    """Old name of ``check-asv``."""
    session.log("`nox -s regress` is now `nox -s check-asv`")
    check_asv(session)


@nox.session(python=PYTHON)
def alert(session: nox.Session) -> None:
    """Old name of ``check-ab``."""
    session.log("`nox -s alert` is now `nox -s check-ab`")
    check_ab(session)


@nox.session(name="alert-study", python=PYTHON)
def alert_study(session: nox.Session) -> None:
    """Old name of ``check-ab-rates``."""
    session.log("`nox -s alert-study` is now `nox -s check-ab-rates`")
    check_ab_rates(session)
