"""The Denoise tab's strength control: the noise estimated in the opened image, a slider that scales the noise
level the bundled noise-aware U-Net is told, and a live preview of a small region (noisy beside denoised, enlarged)
recomputed in a worker thread whenever the slider, the noise to add or the region change: debounced, one job at a
time, the latest request wins. Clicking the image moves the region. The work is engine.denoise.preview's."""
from __future__ import annotations

import re
from typing import Any

import numpy as np
from matplotlib.patches import Rectangle
from PySide6.QtCore import QRect, QSize, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import (QGridLayout, QGroupBox, QHBoxLayout, QLabel, QSizePolicy, QSlider, QVBoxLayout,
                               QWidget)

from engine.core.events import Progress
from engine.data.noise import NoiseConfig
from engine.denoise.preview import REGION, Estimated, Preview, PreviewState
from engine.jobs import denoise_preview_job
from gui.failures import failure_text, stopped
from gui.worker import JobRunner

STRENGTHS = (25, 300)  # slider range, in hundredths of the noise level (0.25x to 3x)
DEBOUNCE_MS = 150
ZOOM = 2  # screen pixels per image pixel in the preview
HINT = "Click the image to preview another place (the dashed box)."
STRENGTH_TIP = ("How hard the bundled U-Net denoises. It is told how noisy the image is (the noise estimated in it, "
                "or the sigma added on purpose) times this factor:\nhigher = smoother, and finer detail goes too; "
                "lower = more detail kept, and more noise. 1x is the noise as measured.\nThe preview shows the "
                "effect on a small region at once; Denoise uses it for the whole image (other methods are not "
                "affected).")


class ZoomView(QWidget):
    """An image enlarged as much as fits, by a whole number: pixels drawn as squares, no smoothing."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._array: np.ndarray | None = None
        self._image: QImage | None = None
        self._text = ""
        self.setMinimumSize(96, 96)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        return QSize(136, 136)

    def set_array(self, pixels: np.ndarray | None, text: str = "") -> None:
        """Show (h, w), (h, w, 1) or (h, w, 3) floats in [0, 1]; None shows `text` instead."""
        self._array, self._image, self._text = None, None, text
        if pixels is not None:
            data = np.ascontiguousarray(np.round(np.clip(pixels, 0, 1) * 255).astype(np.uint8))
            data = data[..., 0] if data.ndim == 3 and data.shape[-1] == 1 else data[..., :3]
            grey = data.ndim == 2
            fmt = QImage.Format.Format_Grayscale8 if grey else QImage.Format.Format_RGB888
            self._array = data  # QImage only points at the bytes: keep them alive with it
            self._image = QImage(data.data, data.shape[1], data.shape[0], data.strides[0], fmt)
        self.update()

    def shown(self) -> np.ndarray | None:
        """The 8-bit pixels drawn now (None while a text is shown)."""
        return None if self._array is None else self._array.copy()

    def text(self) -> str:
        return self._text

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt's name
        painter = QPainter(self)
        painter.fillRect(self.rect(), self.palette().window())
        if self._image is None:
            painter.setPen(self.palette().placeholderText().color())
            flags = Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap
            painter.drawText(self.rect().adjusted(4, 4, -4, -4), flags, self._text)
            return
        h, w = self._image.height(), self._image.width()
        zoom = min(self.width() / w, self.height() / h)
        zoom = float(int(zoom)) if zoom >= 1 else zoom  # whole pixels when enlarging
        dw, dh = max(1, int(w * zoom)), max(1, int(h * zoom))
        painter.drawImage(QRect((self.width() - dw) // 2, (self.height() - dh) // 2, dw, dh), self._image)


class StrengthPanel(QGroupBox):
    """The slider, the estimated noise and the live preview; `attach(tab)` wires it to the Denoise tab."""

    estimated = Signal(object)  # engine.denoise.noise_level.NoiseLevel of the opened image
    preview_shown = Signal(object)  # engine.denoise.preview.Preview drawn

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Strength (bundled U-Net)", parent)
        self.setToolTip(STRENGTH_TIP)
        self.estimate_label = QLabel("Open an image to measure its noise.")
        self.estimate_label.setToolTip("The noise in the image as opened (before any noise is added on purpose), per "
                                       "channel, measured in its smooth areas\n(Gaussian, and signal-dependent "
                                       "when brighter parts are noisier: a Poisson-Gaussian fit after Foi et al. "
                                       "2008).")
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(*STRENGTHS)
        self.slider.setSingleStep(5)
        self.slider.setPageStep(25)
        self.slider.setValue(100)
        self.slider.setToolTip(STRENGTH_TIP)
        self.value_label = QLabel("1.00x")
        self.value_label.setMinimumWidth(self.value_label.fontMetrics().horizontalAdvance("0.00x") + 4)
        self.told_label = QLabel("")
        self.noisy_view, self.output_view = ZoomView(), ZoomView()
        self.noisy_title, self.output_title = QLabel("Input"), QLabel("Denoised")
        self.region_label = QLabel(HINT)
        for label in (self.estimate_label, self.told_label, self.region_label):
            label.setWordWrap(True)
        self.runner = JobRunner(self)
        self.runner.event_emitted.connect(self._on_event)
        self.runner.succeeded.connect(self._on_succeeded)
        self.runner.failed.connect(self._on_failed)
        self.runner.finished.connect(self._on_finished)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(DEBOUNCE_MS)
        self._timer.timeout.connect(self._start)
        self._tab: Any = None
        self._pixels: np.ndarray | None = None
        self._state: PreviewState | None = None
        self._wanted: tuple | None = None  # (pixels, noise, strength, centre, size) not started yet
        self._running: np.ndarray | None = None  # the pixels the running preview is for
        self.centre: tuple[float, float] | None = None  # (row, column) of the region; None: the centre
        self.estimate = None  # NoiseLevel of the opened image
        self.preview: Preview | None = None
        self._markers: list = []
        self._layout()
        self.slider.valueChanged.connect(self._on_strength_changed)

    def _layout(self) -> None:
        """Text on the left, the two enlarged views on the right: the row stays low beside the table."""
        slider = QHBoxLayout()
        slider.addWidget(QLabel("Strength"))
        slider.addWidget(self.slider, 1)
        slider.addWidget(self.value_label)
        text = QVBoxLayout()
        text.addWidget(self.estimate_label)
        text.addLayout(slider)
        text.addWidget(self.told_label)
        text.addWidget(self.region_label)
        text.addStretch(1)
        holder = QWidget()
        holder.setLayout(text)
        holder.setMinimumWidth(160)  # the window must fit 800 pixels (its minimum width stays under 760)
        holder.setMaximumWidth(215)
        views = QGridLayout()
        views.setSpacing(4)
        for column, (title, view) in enumerate(((self.noisy_title, self.noisy_view),
                                                (self.output_title, self.output_view))):
            title.setAlignment(Qt.AlignmentFlag.AlignCenter)
            title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)  # no resizing the views
            views.addWidget(title, 0, column)
            views.addWidget(view, 1, column)
            views.setColumnStretch(column, 1)
        views.setRowStretch(1, 1)
        row = QHBoxLayout(self)
        row.setContentsMargins(6, 4, 6, 4)
        row.addWidget(holder)
        row.addLayout(views, 1)

    # ----- what the tab calls ---------------------------------------------------------
    def attach(self, tab) -> None:
        """Follow the tab's image, noise settings and clicks on its image panels."""
        self._tab = tab
        tab.image_opened.connect(self._on_image_opened)
        for signal in (tab.noise_kind.currentIndexChanged, tab.sigma.valueChanged, tab.amount.valueChanged,
                       tab.seed.valueChanged):
            signal.connect(self._on_noise_changed)
        tab.runner.finished.connect(self._mark_region)  # the panels may have been laid out anew
        tab.panels.canvas.mpl_connect("button_press_event", self._on_click)

    def strength(self) -> float:
        return self.slider.value() / 100.0

    def set_image(self, pixels: np.ndarray | None) -> None:
        """A new image: forget everything measured on the last one; measure and preview this one."""
        self._pixels, self._state, self.estimate, self.preview, self.centre = pixels, None, None, None, None
        self.estimate_label.setText("Measuring the noise…" if pixels is not None else "")
        self.told_label.setText("")
        self.region_label.setText(HINT)
        self.noisy_view.set_array(None, "")
        self.output_view.set_array(None, "")
        self.request()

    def set_centre(self, row: float, column: float) -> None:
        self.centre = (float(row), float(column))
        self.request()

    def request(self) -> None:
        """Preview the current settings once the user pauses (DEBOUNCE_MS); the latest request wins."""
        if self._pixels is None or self._tab is None:
            return
        self._wanted = (self._pixels, self._tab.noise_config(), self.strength(), self.centre, self.region_size())
        self._timer.start()

    def region_size(self) -> tuple[int, int]:
        """(height, width) of the previewed region: what the views show at ZOOM x."""
        view = self.output_view
        if not view.isVisible():
            return REGION, REGION
        return (int(np.clip(view.height() // ZOOM, 16, 256)), int(np.clip(view.width() // ZOOM, 16, 256)))

    def busy(self) -> bool:
        """A preview is due or being computed."""
        return self._timer.isActive() or self.runner.is_running() or self._wanted is not None

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        if self.preview is not None and self.region_size() != self.preview.box[2:]:
            self.request()  # room for a larger or smaller region

    # ----- slots -----------------------------------------------------------------------
    @Slot()
    def _on_image_opened(self) -> None:
        self.set_image(self._tab.image.pixels if self._tab.image is not None else None)

    @Slot()
    def _on_noise_changed(self) -> None:
        self.request()

    @Slot(int)
    def _on_strength_changed(self, _value: int) -> None:
        self.value_label.setText(f"{self.strength():.2f}x")
        self._show_told()
        self.request()

    def _on_click(self, event) -> None:
        """A left click on an image panel (not while zooming or panning) moves the region there."""
        if (self._tab is None or event.button != 1 or event.inaxes is None or event.xdata is None
                or self._tab.panels.toolbar.mode or self._pixels is None):
            return
        if any(event.inaxes is self._tab.panels.axes(name) for name in self._tab.panels.names()):
            self.set_centre(event.ydata + 0.5, event.xdata + 0.5)

    @Slot()
    def _start(self) -> None:
        if self.runner.is_running() or self._wanted is None:
            return  # the running preview's end starts the latest request
        pixels, noise, strength, centre, size = self._wanted
        self._wanted, self._running = None, pixels
        self.runner.start(denoise_preview_job(pixels, noise, strength, centre, self._state, size), "preview")

    @Slot(object)
    def _on_event(self, event) -> None:
        if self._running is not self._pixels:
            return  # about an image no longer open
        if isinstance(event, Estimated):
            self.estimate = event.level
            self.estimate_label.setText(f"Estimated noise: {_keep_together(event.level.summary())}.")
            self.estimated.emit(event.level)
        elif isinstance(event, Progress) and event.message and self.preview is None:
            self.output_view.set_array(None, event.message)

    @Slot(object)
    def _on_succeeded(self, outcome: tuple[PreviewState, Preview]) -> None:
        state, preview = outcome
        if state.image is not self._pixels:
            return  # made for an image no longer open
        self._state, self.preview = state, preview
        self.region_label.setText(HINT)
        top, left, h, w = preview.box
        self.noisy_view.set_array(preview.noisy)
        self.output_view.set_array(preview.output)
        noise = state.noise
        self.noisy_title.setText("Input" if noise is None or not noise.adds_noise else "Noisy")
        self.output_title.setText(f"Denoised, {preview.level.strength:.2f}x")
        self.noisy_title.setText(f"{self.noisy_title.text()} at ({left + w // 2}, {top + h // 2})")
        for view in (self.noisy_view, self.output_view):
            view.setToolTip(f"The {w} x {h} pixels around ({left + w // 2}, {top + h // 2}), enlarged. Click the "
                            "image to preview another place.")
        self._show_told()
        self._mark_region()
        self.preview_shown.emit(preview)

    @Slot(object)
    def _on_failed(self, exc: BaseException) -> None:
        if not stopped(exc) and self._running is self._pixels:
            self.preview = None
            self.output_view.set_array(None, "No preview")
            self.region_label.setText(f"No preview: {failure_text(exc)}")  # the text column has room to say why

    @Slot()
    def _on_finished(self) -> None:
        if self._wanted is not None and not self._timer.isActive():
            self._start()

    # ----- drawing ---------------------------------------------------------------------
    def _show_told(self) -> None:
        base = self._state.level if self._state is not None else None
        if base is None:
            return
        noise: NoiseConfig | None = self._state.noise
        source = ("sigma added" if noise is not None and noise.kind == "gaussian" and noise.adds_noise
                  else "estimate")
        told = _keep_together(base.with_strength(self.strength()).summary())
        self.told_label.setText(f"Told: {told} ({source} x {self.strength():.2f}).")

    @Slot()
    def _mark_region(self) -> None:
        """A rectangle on every image panel where the preview is."""
        for marker in self._markers:
            try:
                marker.remove()
            except (ValueError, NotImplementedError, AttributeError):  # its axes are gone already
                pass
        self._markers = []
        if self._tab is None or self.preview is None or self._tab.image is None:
            return
        top, left, h, w = self.preview.box
        panels = self._tab.panels
        for name in panels.names():
            ax = panels.axes(name)
            self._markers.append(ax.add_patch(Rectangle((left - 0.5, top - 0.5), w, h, fill=False, lw=1.0,
                                                        ec="#ffd400", ls="--")))
        panels.canvas.request_draw()


def _keep_together(text: str) -> str:
    """No line break between a channel's name and its value, nor inside "of 255"."""
    return re.sub(r"\b([RGB]|of|to) (?=\d)", "\\1\u00a0", text)
