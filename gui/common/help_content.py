"""Help menu content: the app's version, the keyboard shortcuts (read from the window's own actions, so the
list is never out of date), the user guide (the README, shown offline) and the runs folder."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QUrl
from PySide6.QtGui import QAction, QDesktopServices, QImageReader, QTextCursor
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTableWidget, QTableWidgetItem, QTextBrowser, QVBoxLayout

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"


def app_version() -> str:
    from importlib import metadata  # here, not at the top: importing it slows the window's opening

    try:
        return metadata.version("autoencoder-studio")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "(not installed)"


def shortcut_rows(window, tab_names: list[str]) -> list[tuple[str, str]]:
    """(keys, what they do) for every action with a shortcut in the window's menus, then the tab keys."""
    rows = []
    for menu_action in window.menuBar().actions():
        menu = menu_action.menu()
        for action in menu.actions() if menu is not None else []:
            keys = action.shortcut().toString()
            if keys:
                rows.append((keys, f"{menu_action.text().replace('&', '')} > {action.text().replace('&', '')}"))
    rows += [(f"Ctrl+{i + 1}", f"Show the {name} tab") for i, name in enumerate(tab_names)]
    return rows


class _Dialog(QDialog):
    def __init__(self, parent, title: str, body, size: tuple[int, int]):
        super().__init__(parent)
        self.setWindowTitle(title)
        layout = QVBoxLayout(self)
        layout.addWidget(body)
        buttons = QDialogButtonBox(QDialogButtonBox.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.resize(*size)


def shortcuts_dialog(window, tab_names: list[str]) -> QDialog:
    rows = shortcut_rows(window, tab_names)
    table = QTableWidget(len(rows), 2)
    table.setHorizontalHeaderLabels(["Keys", "Action"])
    for r, (keys, what) in enumerate(rows):
        table.setItem(r, 0, QTableWidgetItem(keys))
        table.setItem(r, 1, QTableWidgetItem(what))
    table.verticalHeader().setVisible(False)
    table.horizontalHeader().setStretchLastSection(True)
    table.resizeColumnToContents(0)
    table.setEditTriggers(QTableWidget.NoEditTriggers)
    return _Dialog(window, "Keyboard shortcuts", table, (520, 460))


class GuideBrowser(QTextBrowser):
    """A text browser whose images are scaled down to fit its width (never up), again on every resize."""

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self.fit_images()

    def fit_images(self) -> None:
        room = self.viewport().width() - 2 * int(self.document().documentMargin()) - 4
        block = self.document().begin()
        while block.isValid():
            it = block.begin()
            while not it.atEnd():
                fragment = it.fragment()
                if fragment.charFormat().isImageFormat():
                    self._fit(fragment, room)
                it += 1
            block = block.next()

    def _fit(self, fragment, room: int) -> None:
        image = fragment.charFormat().toImageFormat()
        size = QImageReader(self._image_path(image.name())).size()
        if not size.isValid() or room <= 0:
            return
        width = min(size.width(), room)
        if round(image.width()) == width:
            return
        image.setWidth(width)
        image.setHeight(size.height() * width / size.width())
        cursor = QTextCursor(self.document())
        cursor.setPosition(fragment.position())
        cursor.setPosition(fragment.position() + fragment.length(), QTextCursor.MoveMode.KeepAnchor)
        cursor.setCharFormat(image)

    def _image_path(self, name: str) -> str:
        url = QUrl(name)
        path = Path(url.toLocalFile() if url.isLocalFile() else name)
        for folder in ([] if path.is_absolute() else self.searchPaths()):
            if (Path(folder) / path).is_file():
                return str(Path(folder) / path)
        return str(path)


def user_guide_dialog(window) -> QDialog:
    view = GuideBrowser()
    view.setOpenExternalLinks(False)  # no network: links to the web are not followed from here
    view.setSearchPaths([str(ROOT)])
    if README.is_file():
        view.setMarkdown(README.read_text(encoding="utf-8"))
    else:
        view.setPlainText(f"The user guide (README.md) is not installed beside the app ({README} is missing).")
    return _Dialog(window, "User guide", view, (860, 640))


def open_folder(folder: Path) -> bool:
    """Show `folder` in the desktop's file manager (creating it first); False when no file manager answered."""
    folder.mkdir(parents=True, exist_ok=True)
    return QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))


def tab_action(window, index: int) -> QAction:
    action = QAction(window)
    action.setShortcut(f"Ctrl+{index + 1}")
    action.triggered.connect(lambda: window.tabs.setCurrentIndex(index))
    window.addAction(action)
    return action
