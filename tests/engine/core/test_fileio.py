"""engine.core.fileio: atomic writes (order, permissions, leftovers of killed writers, error names) and the
check that a path is a regular file."""
import os
import subprocess
import sys
import time

import pytest

from engine.core import fileio
from engine.core.fileio import atomic_path, atomic_paths, file_problem, new_temp_folder, remove_stale_temps


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_files_get_the_permissions_of_a_plain_open_not_mkstemps_0600(tmp_path):
    old = os.umask(0o022)
    try:
        with atomic_path(tmp_path / "a.bin") as tmp:
            tmp.write_bytes(b"x")
        folder = new_temp_folder(tmp_path / "model")
    finally:
        os.umask(old)
    assert (tmp_path / "a.bin").stat().st_mode & 0o777 == 0o666 & ~fileio._UMASK
    assert folder.stat().st_mode & 0o777 == 0o777 & ~fileio._UMASK


def test_targets_are_replaced_in_the_order_given(tmp_path, monkeypatch):
    renamed = []
    real = os.replace
    monkeypatch.setattr(os, "replace", lambda a, b: renamed.append(os.path.basename(b)) or real(a, b))
    with atomic_paths(tmp_path / "model.onnx", tmp_path / "model.onnx.json") as (model, meta):
        meta.write_text("{}")  # written first, renamed last
        model.write_bytes(b"m")
    assert renamed == ["model.onnx", "model.onnx.json"]


def test_a_failed_write_leaves_the_targets_and_no_temporary_file(tmp_path):
    (tmp_path / "a.txt").write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_paths(tmp_path / "a.txt", tmp_path / "b.txt") as (a, b):
            a.write_text("new")
            raise RuntimeError("writer failed")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"] and (tmp_path / "a.txt").read_text() == "old"


def test_leftovers_of_a_killed_save_are_removed_by_the_next_save(tmp_path):
    target = tmp_path / "m.keras"
    dead = tmp_path / f".m.keras.{dead_pid()}-abcd.tmp.keras"
    dead_folder = tmp_path / f".m.keras.{dead_pid()}-efgh.tmp"
    alive = tmp_path / f".m.keras.{os.getppid()}-ijkl.tmp.keras"  # a writer that still runs
    old_style = tmp_path / ".m.x1y2z3.tmp.keras"  # 0.1's names carry no process id: an hour untouched
    young_old_style = tmp_path / ".m.q9w8e7.tmp.keras"
    other = tmp_path / ".n.keras.1-abcd.tmp.keras"  # another target's
    for path in (dead, alive, old_style, young_old_style, other):
        path.write_bytes(b"partial")
    dead_folder.mkdir()
    (dead_folder / "saved_model.pb").write_bytes(b"partial")
    hour_ago = time.time() - fileio.STALE_AFTER_S - 60
    os.utime(old_style, (hour_ago, hour_ago))
    with atomic_path(target) as tmp:
        tmp.write_bytes(b"model")
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == sorted([target.name, alive.name, young_old_style.name, other.name])
    assert remove_stale_temps(target) == []


def test_errors_name_the_target_not_the_temporary_file(read_only_folder):
    with pytest.raises(PermissionError) as caught:
        with atomic_path(read_only_folder / "out.png") as tmp:
            tmp.write_bytes(b"x")
    assert caught.value.filename == str(read_only_folder / "out.png") and ".tmp" not in str(caught.value)
    with pytest.raises(PermissionError) as caught:
        new_temp_folder(read_only_folder / "saved")
    assert caught.value.filename == str(read_only_folder / "saved")


def test_file_problem_names_what_is_not_a_readable_regular_file(tmp_path):
    (tmp_path / "f").write_text("x")
    os.mkfifo(tmp_path / "pipe")
    assert file_problem(tmp_path / "f") is None
    assert file_problem(tmp_path / "nope") == f"{tmp_path / 'nope'} does not exist."
    assert file_problem(tmp_path) == f"{tmp_path} is a folder, not a file."
    assert "is a pipe (FIFO), not a regular file" in file_problem(tmp_path / "pipe")
    assert "is a device" in file_problem(type(tmp_path)("/dev/null"))
