"""Input widgets whose ranges and tooltips come from the engine's config limits, and the scrolling column
of settings every tab puts on its left."""
from __future__ import annotations

from PySide6.QtCore import QSize, Signal
from PySide6.QtGui import QValidator
from PySide6.QtWidgets import (QComboBox, QDoubleSpinBox, QLayout, QScrollArea, QSpinBox, QToolTip, QVBoxLayout,
                               QWidget)

from engine.core.config import Limits


class SpinBox(QSpinBox):
    """A QSpinBox that says when a typed number is outside its range (Qt's drops the keystroke silently):
    the number is kept while typing, then set to the nearest limit with a message (out_of_range, and a
    tooltip at the box)."""

    out_of_range = Signal(str)

    def validate(self, text: str, pos: int):
        state, text, pos = super().validate(text, pos)
        if state == QValidator.State.Invalid and self._number(text) is not None:
            return QValidator.State.Intermediate, text, pos  # let the user finish typing; fixup says why
        return state, text, pos

    def fixup(self, text: str) -> str:
        number = self._number(text)
        if number is None:
            return super().fixup(text)
        limit = self.maximum() if number > self.maximum() else self.minimum() if number < self.minimum() else None
        if limit is None:
            return super().fixup(text)
        message = f"{number} is {'more' if limit == self.maximum() else 'less'} than the " \
                  f"{'maximum' if limit == self.maximum() else 'minimum'}, {limit}; set to {limit}."
        self.out_of_range.emit(message)
        if self.isVisible():
            QToolTip.showText(self.mapToGlobal(self.rect().bottomLeft()), message, self)
        return f"{self.prefix()}{limit}{self.suffix()}"

    def _number(self, text: str) -> int | None:
        core = text.removeprefix(self.prefix()).removesuffix(self.suffix()).strip().replace(",", "")
        try:
            return int(core)
        except ValueError:
            return None


def int_spin(limits: Limits, value: int, parent: QWidget | None = None, step: int = 1) -> QSpinBox:
    box = SpinBox(parent)
    box.setRange(int(limits.low), int(min(limits.high, 2**31 - 1)))
    box.setSingleStep(step)
    box.setValue(int(value))
    box.setToolTip(f"{limits.help}\nAllowed: {limits.low:g} to {limits.high:g}.")
    return box


def float_spin(limits: Limits, value: float, parent: QWidget | None = None, decimals: int = 4,
               step: float = 0.1) -> QDoubleSpinBox:
    box = QDoubleSpinBox(parent)
    box.setDecimals(decimals)
    box.setRange(limits.low, limits.high)
    box.setSingleStep(step)
    box.setValue(value)
    box.setToolTip(f"{limits.help}\nAllowed: {limits.low:g} to {limits.high:g}.")
    return box


def choice_combo(labels: dict[str, str], current: str, parent: QWidget | None = None) -> QComboBox:
    """A combo box showing labels and holding the keys as item data."""
    combo = QComboBox(parent)
    for key, label in labels.items():
        combo.addItem(label, key)
    set_choice(combo, current)
    return combo


def set_choice(combo: QComboBox, key: str) -> None:
    index = combo.findData(key)
    if index >= 0:
        combo.setCurrentIndex(index)


def scroll_column(*parts: QWidget | QLayout, min_width: int,
                  actions: tuple[QWidget | QLayout, ...] = ()) -> QWidget:
    """Widgets and layouts stacked top down (room to spare at the bottom), scrolling when the window is short;
    `actions` (a tab's main buttons) stay pinned below the scrolling part, visible at any window height."""
    column_widget = QWidget()
    column = QVBoxLayout(column_widget)
    for part in parts:
        column.addLayout(part) if isinstance(part, QLayout) else column.addWidget(part)
    column.addStretch(1)
    scroll = _Column()
    scroll.setWidgetResizable(True)
    scroll.setWidget(column_widget)
    scroll.setMinimumWidth(min_width)
    if not actions:
        return scroll
    holder = QWidget()
    layout = QVBoxLayout(holder)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.addWidget(scroll, 1)
    for part in actions:
        layout.addLayout(part) if isinstance(part, QLayout) else layout.addWidget(part)
    return holder


class _Column(QScrollArea):
    """Asks for the width of its widgets beside a vertical scroll bar, so a short window shows that bar
    alone, not a horizontal one too; it can still be squeezed down to its minimum width."""

    def sizeHint(self) -> QSize:
        hint = super().sizeHint()
        inner = self.widget().sizeHint().width() if self.widget() is not None else 0
        width = inner + self.verticalScrollBar().sizeHint().width() + 2 * self.frameWidth()
        return QSize(max(hint.width(), width), hint.height())
