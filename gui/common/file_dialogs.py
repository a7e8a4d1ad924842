"""Every file dialog of the app: it opens in the folder last used for that kind of file, else in the user's
Pictures (images and figures) or Documents folder, never in the process's working directory; the folder
chosen is remembered in the app's settings."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, QStandardPaths
from PySide6.QtWidgets import QFileDialog, QWidget

PICTURE_KINDS = frozenset({"image", "figure"})
_state: dict = {"settings": None, "memory": {}}


def use_settings(settings: QSettings | None) -> None:
    """The settings the last folders are kept in (the main window's); without, they last for the session."""
    _state["settings"] = settings


def _last(kind: str) -> str:
    settings = _state["settings"]
    value = settings.value(f"dialogs/{kind}") if settings is not None else _state["memory"].get(kind)
    return str(value) if value else ""


def remembered(key: str, default: str = "") -> str:
    """Another choice a dialog keeps between uses (e.g. the export format)."""
    return _last(key) or default


def keep(key: str, value: str) -> None:
    if _state["settings"] is not None:
        _state["settings"].setValue(f"dialogs/{key}", value)
    else:
        _state["memory"][key] = value


def remember(kind: str, path: str) -> None:
    if not path:
        return
    folder = str(Path(path) if Path(path).is_dir() else Path(path).parent)
    if _state["settings"] is not None:
        _state["settings"].setValue(f"dialogs/{kind}", folder)
    else:
        _state["memory"][kind] = folder


def start_folder(kind: str, current: str = "") -> str:
    """Where a dialog for `kind` opens: beside `current` (a path already in a box), else the last folder
    used for that kind, else Pictures or Documents, else the home folder."""
    for candidate in (current, _last(kind)):
        if candidate:
            path = Path(candidate).expanduser()
            folder = path if path.is_dir() else path.parent
            if str(folder) not in ("", ".") and folder.is_dir():
                return str(folder)
    where = (QStandardPaths.StandardLocation.PicturesLocation if kind in PICTURE_KINDS
             else QStandardPaths.StandardLocation.DocumentsLocation)
    for folder in (QStandardPaths.writableLocation(where), str(Path.home())):
        if folder and Path(folder).is_dir():
            return folder
    return str(Path.home())


def open_file(parent: QWidget, title: str, kind: str, filters: str, current: str = "") -> str:
    path, _ = QFileDialog.getOpenFileName(parent, title, start_folder(kind, current), filters)
    remember(kind, path)
    return path


def save_file(parent: QWidget, title: str, kind: str, name: str, filters: str, current: str = "",
              confirm_overwrite: bool = True) -> str:
    """`name`: the proposed file name, put in the start folder (a full `current` path wins)."""
    start = current if current and Path(current).parent.is_dir() and Path(current).name else \
        str(Path(start_folder(kind, current)) / name)
    options = QFileDialog.Option(0) if confirm_overwrite else QFileDialog.Option.DontConfirmOverwrite
    path, _ = QFileDialog.getSaveFileName(parent, title, start, filters, "", options)
    remember(kind, path)
    return path


def folder(parent: QWidget, title: str, kind: str, current: str = "") -> str:
    path = QFileDialog.getExistingDirectory(parent, title, start_folder(kind, current))
    if path:
        remember(kind, str(Path(path) / "_"))  # the folder itself is what is remembered
    return path
