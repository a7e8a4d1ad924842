"""Files: atomic writing (beside the target, then renamed over it), and what may be read safely."""
from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import stat
import tempfile
import time
from pathlib import Path

import numpy as np
from typing import Any, Iterator


def file_problem(path: Path) -> str | None:
    """Why `path` cannot be read as a file, as a sentence, or None when it can.

    Checked before anything opens it: a FIFO, device or socket would block a reader forever
    (or never end), so only regular files (or links to them) pass.
    """
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return f"{path} does not exist."
    except OSError as exc:
        return f"Cannot read {path}: {exc.strerror or exc}."
    if stat.S_ISDIR(mode):
        return f"{path} is a folder, not a file."
    if not stat.S_ISREG(mode):
        kind = "a pipe (FIFO)" if stat.S_ISFIFO(mode) else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) \
            else "a socket" if stat.S_ISSOCK(mode) else "not a regular file"
        return f"{path} is {kind}, not a regular file; reading it could wait forever."
    return None


def size_text(n_bytes: int) -> str:
    """A size for messages: bytes, MiB or GiB."""
    if n_bytes >= 2**30:
        return f"{n_bytes / 2**30:.1f} GiB"
    return f"{n_bytes / 2**20:.1f} MiB" if n_bytes >= 2**20 else f"{n_bytes:,} bytes"


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation (Linux: MemAvailable), or None when unknown."""
    try:
        with open("/proc/meminfo", "rb") as f:
            for line in f:
                if line.startswith(b"MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


_UMASK = os.umask(0o022)
os.umask(_UMASK)  # read once: new files get the permissions a plain open() would give them
STALE_AFTER_S = 3600  # a temporary file of no known process is left alone this long


@contextlib.contextmanager
def atomic_paths(*targets: str | os.PathLike) -> Iterator[tuple[Path, ...]]:
    """Yield temporary paths beside the targets; on success each replaces its target.

    The temporary names keep the targets' suffixes (Keras and Pillow choose the format by
    them) and carry this process's id, so that the leftovers of a killed writer are removed by
    the next save of the same target. On success every file is synced, given the permissions a
    plain open() would give (not mkstemp's 0600), and renamed over its target in the order given,
    one right after the other (give a file's description last, after the file), and the folder is
    synced. On any error the temporary files are removed and the targets are untouched; an error
    names the target, never the temporary file.
    """
    targets = tuple(Path(t) for t in targets)
    temps: list[Path] = []
    try:
        for target in targets:
            temps.append(_new_temp(target))
        yield tuple(temps)
        for tmp in temps:
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
            os.chmod(tmp, 0o666 & ~_UMASK)
        for tmp, target in zip(temps, targets):
            os.replace(tmp, target)
        for folder in {t.parent for t in targets}:
            _fsync_folder(folder)
    except OSError as exc:
        named = next((t for tmp, t in zip(temps, targets) if exc.filename in (str(tmp), tmp)), None)
        if named is None:
            raise
        raise type(exc)(exc.errno, exc.strerror, str(named)) from exc
    finally:
        for tmp in temps:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """atomic_paths for one target."""
    with atomic_paths(target) as (tmp,):
        yield tmp


def temp_prefix(target: Path) -> str:
    """The start of every temporary name for `target`: hidden, the target's name, this process's id."""
    return f".{target.name}.{os.getpid()}-"


def new_temp_folder(target: Path) -> Path:
    """A temporary folder beside `target` (for folder formats such as SavedModel), named like the files of
    atomic_paths and with the permissions of a plain mkdir, not mkdtemp's 0700."""
    remove_stale_temps(target)
    try:
        folder = Path(tempfile.mkdtemp(prefix=temp_prefix(target), suffix=".tmp", dir=_folder_of(target)))
    except OSError as exc:
        raise type(exc)(exc.errno, exc.strerror, str(target)) from exc
    os.chmod(folder, 0o777 & ~_UMASK)
    return folder


def _folder_of(target: Path) -> Path:
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise FileNotFoundError(f"Folder {folder} does not exist.")
    return folder


def _new_temp(target: Path) -> Path:
    folder = _folder_of(target)
    remove_stale_temps(target)
    try:
        fd, tmp = tempfile.mkstemp(prefix=temp_prefix(target), suffix=f".tmp{target.suffix}", dir=folder)
    except OSError as exc:
        raise type(exc)(exc.errno, exc.strerror, str(target)) from exc
    os.close(fd)
    os.unlink(tmp)  # writers such as Keras refuse to overwrite; let them create it
    return Path(tmp)


def remove_stale_temps(target: Path) -> list[Path]:
    """Remove the temporary files and folders a killed save of `target` left beside it: those of processes
    that no longer run (and, from writers that did not name their process, those untouched for an hour)."""
    folder = target.parent if str(target.parent) else Path(".")
    removed = []
    try:
        candidates = list(folder.glob(f".{glob_escape(target.name)}.*"))
        candidates += list(folder.glob(f".{glob_escape(target.stem)}.*.tmp{glob_escape(target.suffix)}"))
    except OSError:
        return removed
    for path in set(candidates):
        rest = path.name[len(target.name) + 2:] if path.name.startswith(f".{target.name}.") else ""
        if not (path.name.endswith((".tmp", f".tmp{target.suffix}", ".old")) and _stale(path, rest)):
            continue
        with contextlib.suppress(OSError):
            shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
            removed.append(path)
    return removed


def glob_escape(text: str) -> str:
    return "".join(f"[{c}]" if c in "*?[" else c for c in text)


def _stale(path: Path, rest: str) -> bool:
    pid_text = rest.split("-", 1)[0]
    if pid_text.isdigit() and os.name == "posix":
        pid = int(pid_text)
        if pid == os.getpid():
            return False
        try:
            os.kill(pid, 0)  # signal 0: only asks whether the process exists
        except ProcessLookupError:
            return True
        except OSError:
            return False
        return False
    try:
        return time.time() - path.lstat().st_mtime > STALE_AFTER_S
    except OSError:
        return False


def _fsync_folder(folder: Path) -> None:
    """Make a rename in `folder` durable (POSIX; other systems have no folder handles to sync)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def json_safe(value):
    """`value` with numpy types, paths and non-finite floats (-> None) made fit for strict JSON."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist())
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, Path):
        return str(value)
    return str(value)


def write_json(path: Path, value: Any) -> None:
    """JSON through a temporary file (NaN and infinities become null)."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(json_safe(value), indent=1, allow_nan=False))
