"""``sepbench`` command line: one sub-command per module in :mod:`sepbench.commands`.

Each command module defines ``add_parser(subparsers)`` (returning its parser) and
``run(args) -> int``.  Adding a command is one module plus one entry in :data:`COMMANDS`.

Everything after the first ``--`` is set apart before parsing, as ``args.passthrough``, for a command
that hands options to another program (``PASSTHROUGH = True`` in its module: the gate's pytest
re-run); any other command refuses it.  So an option of sepbench's own, wherever it is written before
``--``, is sepbench's, and nothing after ``--`` is read as sepbench's.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import signal
import sys

from sepbench.util.neutralise import terminal

COMMANDS: tuple[str, ...] = (
    "spec",
    "backends",
    "data",
    "train",
    "reproduce",
    "bench_summary",
    "profile",
    "report",
    "check",
)


class CliError(Exception):
    """An error the CLI reports as one line and exit status 2."""


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command, or of command ``only`` alone (its name as typed, ``bench-summary``) where that
    is one: each command's module imports what its options need, and a report has no use for the checks'
    pytest or the pair files' reader (0.2 s).  Help and an unknown name get every command."""
    parser = argparse.ArgumentParser(prog="sepbench", description="Reproduce and benchmark regular vs depthwise-separable CNNs on MNIST.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    module_of = (only or "").replace("-", "_")
    for name in (module_of,) if module_of in COMMANDS else COMMANDS:
        module = importlib.import_module(f"sepbench.commands.{name}")
        module.add_parser(sub).set_defaults(_run=module.run, _passthrough=getattr(module, "PASSTHROUGH", False))
    return parser


def split_passthrough(argv: list[str]) -> tuple[list[str], list[str]]:
    """``argv`` before and after its first ``--`` (the ``--`` itself dropped)."""
    if "--" not in argv:
        return argv, []
    i = argv.index("--")
    return argv[:i], argv[i + 1 :]


def main(argv: list[str] | None = None) -> int:
    from sepbench.commands.check import rewrite_old_name
    from sepbench.core.data import MnistError
    from sepbench.core.spec import UnknownModelError
    from sepbench.core.weights import WeightsError
    from sepbench.results.schema import ResultsError

    own, after = split_passthrough(list(sys.argv[1:] if argv is None else argv))
    own = rewrite_old_name(own)
    parser = build_parser(own[0] if own else None)
    args = parser.parse_args(own)
    if after and not args._passthrough:
        parser.error(f"{args.command} takes no options after '--' (got {' '.join(after)!r})")
    args.passthrough = after
    args.command = getattr(args, "_name", args.command)  # "check ab": the name in every message
    previous = _terminate_as_interrupt()
    try:
        return int(args._run(args) or 0)
    except (CliError, MnistError, ResultsError, WeightsError, UnknownModelError, ValueError) as exc:
        print(f"sepbench {args.command}: error: {terminal(exc)}", file=sys.stderr)  # messages quote names from files
        return 2
    except ImportError as exc:  # an unavailable backend asked for by name
        print(f"sepbench {args.command}: error: {terminal(exc)}", file=sys.stderr)
        return 2
    except OSError as exc:  # the disk, not the program: a full disk, a folder where a file was to be replaced
        from sepbench.util.oserrors import os_error_message

        print(f"sepbench {args.command}: error: {terminal(os_error_message(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"sepbench {args.command}: interrupted", file=sys.stderr)
        return 130
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        if argv is None:  # the program's own command line: the process exits next, and what it made lives until then
            gc.freeze()  # so the collector at exit does not walk it (0.07 s of a report); main(argv) in a test frees as usual


def _terminate_as_interrupt() -> object:
    """Make SIGTERM (``kill``, a CI timeout) unwind like Ctrl-C, so ``finally`` blocks and context managers
    remove temporary folders and reserved files; returns the previous handler (``None`` off the main thread)."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    try:
        return signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread: leave signals alone
        return None


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
