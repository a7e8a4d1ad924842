"""Files: atomic writing (beside the target, then renamed over it), and what may be read safely."""
from __future__ import annotations

import contextlib
import json
import math
import os
import stat
import tempfile
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


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; on success it replaces the target.

    The temporary name keeps the target's suffix (Keras and Pillow choose the format
    by it). On any error the temporary file is removed and the target is untouched.
    """
    target = Path(target)
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise FileNotFoundError(f"Folder {folder} does not exist.")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=f".tmp{target.suffix}", dir=folder)
    os.close(fd)
    os.unlink(tmp)  # writers such as Keras refuse to overwrite; let them create it
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp_path, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()


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
