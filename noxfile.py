"""Entry points.  ``nox -l`` lists them; the README says which two a new user needs.

Sessions reuse their virtualenv between runs (``nox -R`` skips the install step as well).
Pass pytest / tool arguments after ``--``.
"""

from __future__ import annotations

import os

import nox

nox.options.reuse_venv = "yes"
nox.options.sessions = ["tests"]

PYTHON = "3.11"
# sepbench with both frameworks (pinned in pyproject.toml) and the test/benchmark tools
INSTALL = (".[all,test]",)


def _install(session: nox.Session) -> None:
    session.install("-e", *INSTALL)


def _env() -> dict[str, str]:
    """Pass the data location through; quiet TensorFlow's C++ logging."""
    env = {"TF_CPP_MIN_LOG_LEVEL": "2", "KERAS_BACKEND": "tensorflow"}
    for var in ("SEPBENCH_MNIST_DIR", "SEPBENCH_CACHE_DIR"):
        if os.environ.get(var):
            env[var] = os.environ[var]
    return env


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """The unit tests (CI runs exactly this)."""
    _install(session)
    session.run("pytest", "tests", "--ignore=tests/bench", *session.posargs, env=_env())


@nox.session(python=PYTHON)
def reproduce(session: nox.Session) -> None:
    """Train both models in every backend on the full data and compare with the study (not CI).

    Options after ``--`` go to ``sepbench reproduce`` (e.g. ``-- --backends torch --epochs 5``).
    """
    _install(session)
    env = _env()
    if os.environ.get("SEPBENCH_RESULTS_DIR"):
        env["SEPBENCH_RESULTS_DIR"] = os.environ["SEPBENCH_RESULTS_DIR"]
    session.run("sepbench", "reproduce", *session.posargs, env=env)
