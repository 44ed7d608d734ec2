"""The one place sepbench calls git: resolve a ref, list uncommitted changes, read HEAD.

A ref comes from the user (``--base``, ``--head``) or a file; git would read one that starts with
``-`` as an option, so every user ref goes after ``--end-of-options`` (git 2.24+).
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

TIMEOUT_S = 60.0  # a git call that hangs (a lock, a network filesystem) becomes an error, not a stuck job


class GitError(ValueError):
    """git failed or named nothing: the message says which command and what git said."""


def git(*args: str, cwd: str | os.PathLike[str] = ".", env: dict[str, str] | None = None, timeout: float = TIMEOUT_S) -> str:
    """Run ``git ARGS`` in ``cwd``; its stdout, stripped.  :class:`GitError` on a non-zero exit or no git."""
    if not Path(cwd).is_dir():  # subprocess would say "no such file" of git itself
        raise GitError(f"no such folder: {cwd}")
    try:
        proc = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError:
        raise GitError("git is not installed (needed to compare commits)") from None
    except subprocess.TimeoutExpired:
        raise GitError(f"git {args[0]} did not finish in {timeout:.0f} s (in {Path(cwd).resolve()})") from None
    if proc.returncode != 0:
        raise GitError(f"git {' '.join(args[:2])} failed in {Path(cwd).resolve()}: {proc.stderr.strip()[-400:] or 'no message'}")
    return proc.stdout.strip()


def resolve(ref: str, cwd: str | os.PathLike[str] = ".") -> str:
    """The commit hash (40 hex digits) that ``ref`` names in ``cwd``'s repository; :class:`GitError` if none."""
    if not ref or "\n" in ref or "\0" in ref:
        raise GitError(f"not a git ref: {ref!r}")
    _check_unambiguous(ref, cwd)
    try:
        return git("rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}", cwd=cwd)
    except GitError as exc:
        if "not a git repository" in str(exc):
            raise GitError(f"{Path(cwd).resolve()} is not a git checkout (needed to compare commits)") from None
        if "no message" not in str(exc):  # --quiet: an unknown ref fails without a word; anything else is git's own
            raise
        raise GitError(f"unknown git ref {ref!r} (in {Path(cwd).resolve()})") from None


def _check_unambiguous(ref: str, cwd: str | os.PathLike[str]) -> None:
    """:class:`GitError` where ``ref`` is the name of a tag and of a branch on other commits: git would take
    the tag and say so only in a warning, so a comparison could time another commit than the user meant."""
    if ref.startswith(("refs/", "-")) or not re.fullmatch(r"[A-Za-z0-9._/-]+", ref):
        return
    found = {}
    for kind in ("heads", "tags"):
        try:
            found[kind] = git("rev-parse", "--verify", "--quiet", "--end-of-options", f"refs/{kind}/{ref}^{{commit}}", cwd=cwd)
        except GitError:
            continue
    if len(found) == 2 and found["heads"] != found["tags"]:
        raise GitError(
            f"git ref {ref!r} is both a branch ({found['heads'][:12]}) and a tag ({found['tags'][:12]}); "
            f"name one: refs/heads/{ref} or refs/tags/{ref}"
        )


def toplevel(cwd: str | os.PathLike[str] = ".") -> Path:
    """The root folder of ``cwd``'s git checkout: a command run from a sub-folder works on the whole tree
    (``git archive`` there would export only that sub-folder)."""
    try:
        return Path(git("rev-parse", "--show-toplevel", cwd=cwd))
    except GitError as exc:
        if "not a git repository" in str(exc):
            raise GitError(f"{Path(cwd).resolve()} is not a git checkout (needed to compare commits)") from None
        raise


def dirty_files(cwd: str | os.PathLike[str] = ".") -> list[str]:
    """Tracked files with uncommitted changes in ``cwd``'s working tree (untracked files do not count)."""
    try:
        out = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT_S
        )
    except (FileNotFoundError, subprocess.TimeoutExpired) as exc:
        raise GitError(f"cannot read the state of {Path(cwd).resolve()} with git: {exc}") from None
    if out.returncode != 0:
        raise GitError(f"{Path(cwd).resolve()} is not a git checkout: {out.stderr.strip()[-300:]}")
    return [line[3:] for line in out.stdout.splitlines()]


def code_identity(cwd: str | os.PathLike[str] = ".") -> str:
    """The code a measurement ran: HEAD's hash, and for a tree with uncommitted changes to tracked files
    ``+dirty-<12 hex digits of the diff's SHA-256>`` (two different edits never pass for the same code);
    ``"unknown"`` outside a git checkout."""
    import hashlib

    try:
        head = git("rev-parse", "HEAD", cwd=cwd, timeout=10)
        if not dirty_files(cwd):
            return head
        diff = subprocess.run(["git", "diff", "HEAD", "--binary"], cwd=cwd, capture_output=True, timeout=TIMEOUT_S).stdout
    except (GitError, subprocess.TimeoutExpired, OSError):
        return "unknown"
    return f"{head}+dirty-{hashlib.sha256(diff).hexdigest()[:12]}"
