"""Atomic writes: all or nothing, the user's umask honoured, unique names, writability said up front."""

from __future__ import annotations

import os
import stat

import pytest

from sepbench.util.atomic import UnwritableError, atomic_path, atomic_write_text, check_writable, unique_path


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_written_files_get_the_permissions_of_the_umask(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        path = atomic_write_text(tmp_path / "r.json", "{}")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == mode


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "r.json"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("interrupted")
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["r.json"]


def test_unique_names_never_collide(tmp_path):
    names = [unique_path(tmp_path, "reproduce-20260101T000000Z", ".json") for _ in range(3)]
    assert [p.name for p in names] == [
        "reproduce-20260101T000000Z.json",
        "reproduce-20260101T000000Z-2.json",
        "reproduce-20260101T000000Z-3.json",
    ]


def test_unwritable_outputs_are_named(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(UnwritableError, match=f"{blocker} is a file, not a folder: cannot write r.json in it"):
        check_writable(blocker / "sub" / "r.json")
    with pytest.raises(UnwritableError, match="is a directory"):
        check_writable(tmp_path)
    assert check_writable(tmp_path / "new" / "r.json").parent.is_dir()
