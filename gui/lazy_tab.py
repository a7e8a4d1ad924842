"""Tabs whose contents are built the first time they are shown (or asked for), so that the window
opens without constructing and polishing widgets nobody has looked at yet; views built once their slow imports
are done in the background, so that the window shows before them."""
from __future__ import annotations

import importlib
import threading
from types import ModuleType
from typing import Callable

from PySide6.QtCore import QCoreApplication, QObject, Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import QLabel, QTabWidget, QVBoxLayout, QWidget


class LazyTab(QWidget):
    """A tab page that calls `factory()` on first show or first `.tab` access, then `on_built(tab)`."""

    def __init__(self, factory: Callable[[], QWidget], on_built: Callable[[QWidget], None]):
        super().__init__()
        self._factory, self._on_built = factory, on_built
        self._tab: QWidget | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)

    @property
    def tab(self) -> QWidget:
        if self._tab is None:
            wait_for_imports()
            self._tab = self._factory()
            self.layout().addWidget(self._tab)
            self._on_built(self._tab)
        return self._tab

    def is_built(self) -> bool:
        return self._tab is not None

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        self.tab  # noqa: B018 - builds it
        super().showEvent(event)


class Tabs(QTabWidget):
    """A QTabWidget in which a built LazyTab's tab stands for its page: setCurrentWidget and indexOf take either."""

    def indexOf(self, widget: QWidget) -> int:  # noqa: N802 - Qt's name
        for i in range(self.count()):
            page = self.widget(i)
            if page is widget or (isinstance(page, LazyTab) and page.is_built() and page.tab is widget):
                return i
        return -1

    def setCurrentWidget(self, widget: QWidget) -> None:  # noqa: N802 - Qt's name
        index = self.indexOf(widget)
        if index >= 0:
            self.setCurrentIndex(index)
        else:
            super().setCurrentWidget(widget)


class _Imported(QObject):
    """Says "imported" from the importing thread to the GUI thread; it lives with the application, not with the
    view that asked (which may be deleted while the thread imports)."""

    done = Signal()


THEN_AFTER_MS = 40  # what waited for a view is done this long after it is built
_importing: set[threading.Thread] = set()  # background imports under way


def wait_for_imports() -> None:
    """Wait for the background imports under way. Call it on the GUI thread before importing what they may share
    (matplotlib, tabs, dialogs): two threads importing one package at once can leave one of them with a half
    initialised module, which Python hands out to break what it takes for a deadlock."""
    for thread in list(_importing):
        thread.join()


def import_in_background(module: str, then: Callable[[], None]) -> threading.Thread:
    """Import `module` in a background thread, then call `then` on the GUI thread (if its QObject still lives).
    An import that fails is left to `then`, which imports it again and meets the error where it can say it."""
    notice = _Imported(QCoreApplication.instance())
    notice.done.connect(then)  # queued: emitted in the thread; dropped if `then`'s object is deleted
    notice.done.connect(notice.deleteLater)

    def run() -> None:
        try:
            importlib.import_module(module)
        except Exception:  # noqa: BLE001 - reported by `then`, on the GUI thread
            pass
        finally:
            _importing.discard(thread)
        try:
            notice.done.emit()
        except RuntimeError:  # the application quit while it imported: nobody to tell
            pass

    thread = threading.Thread(target=run, name=f"import {module}", daemon=True)
    _importing.add(thread)
    thread.start()
    return thread


class LazyView(QWidget):
    """A placeholder for a view whose module has slow imports (matplotlib: half a second of the start): once
    shown (or asked to load), it imports `module` in a background thread, then puts `build(module)` in its place,
    so the window around it shows and answers first. `.view` builds it at once (waiting for the import) if asked
    for sooner; `when_built(fn)` calls `fn` once it is, without waiting."""

    built = Signal()

    def __init__(self, module: str, build: Callable[[ModuleType], QWidget], waiting_text: str = "Loading…"):
        super().__init__()
        self._module, self._build_from = module, build
        self._view: QWidget | None = None
        self._loading: threading.Thread | None = None  # the background import
        self._then: list[Callable[[], None]] = []  # to call once built
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self._waiting = QLabel(waiting_text)
        self._waiting.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(self._waiting)

    @property
    def view(self) -> QWidget:
        if self._view is None:
            wait_for_imports()
            self._view = self._build_from(importlib.import_module(self._module))
            self.layout().removeWidget(self._waiting)
            self._waiting.deleteLater()
            self.layout().addWidget(self._view)
            self.built.emit()
            then, self._then = self._then, []
            for fn in then:  # a moment later: building took a frame already, showing it takes the next
                QTimer.singleShot(THEN_AFTER_MS, self, fn)
        return self._view

    def is_built(self) -> bool:
        return self._view is not None

    def when_built(self, fn: Callable[[], None]) -> None:
        """Call `fn` once the view is built: later if its import is under way, else now (building it if need be)."""
        if self._view is None and self._loading is not None and self._loading.is_alive():
            self._then.append(fn)
        else:
            self.view  # noqa: B018 - builds it
            fn()

    def load_in_background(self) -> None:
        """Import the module in a background thread, then build the view (once; nothing if it is built)."""
        if self._view is None and self._loading is None:
            self._loading = import_in_background(self._module, self._build)

    @Slot()
    def _build(self) -> None:
        self.view  # noqa: B018 - builds it

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        self.load_in_background()
