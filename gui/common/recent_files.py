"""The recently opened files list kept in the settings: newest first, no duplicates, bounded."""
from __future__ import annotations

import os
from pathlib import Path


RECENT_LIMIT = 8


def push_recent(recent: list[str], path: str | os.PathLike, limit: int = RECENT_LIMIT) -> list[str]:
    """`recent` with `path` moved to the front (no duplicates, at most `limit`)."""
    text = str(Path(path).resolve()) if str(path) else ""
    items = [text] + [p for p in recent if p and p != text]
    return items[:limit]


def clean_recent(values: object, limit: int = RECENT_LIMIT) -> list[str]:
    """A recent list read back from settings (a string, a list or junk) as a list of paths."""
    if isinstance(values, str):
        values = [values] if values else []
    if not isinstance(values, (list, tuple)):
        return []
    out: list[str] = []
    for value in values:
        if isinstance(value, str) and value and value not in out:
            out.append(value)
    return out[:limit]


class RecentFiles:
    """The recently opened files, newest first, kept in the settings under `key` as soon as they change."""

    def __init__(self, key: str, limit: int = RECENT_LIMIT):
        self.key, self.limit = key, limit
        self.paths: list[str] = []
        self._settings = None

    def load(self, settings) -> None:
        """Read the list from `settings` (a QSettings), and keep writing changes there."""
        self._settings = settings
        self.paths = clean_recent(settings.value(self.key, []), self.limit)

    def save(self, settings) -> None:
        settings.setValue(self.key, self.paths)

    def push(self, path: str | os.PathLike) -> None:
        self.paths = push_recent(self.paths, path, self.limit)
        self._write()

    def forget(self, path: str) -> None:
        if path in self.paths:
            self.paths.remove(path)
            self._write()

    def _write(self) -> None:
        if self._settings is not None:
            self.save(self._settings)
