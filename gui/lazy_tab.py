"""Tabs whose contents are built the first time they are shown (or asked for), so that the window
opens without constructing and polishing widgets nobody has looked at yet."""
from __future__ import annotations

from typing import Callable

from PySide6.QtWidgets import QTabWidget, QVBoxLayout, QWidget


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
