"""Before the Denoise tab starts a run: a method must be chosen, and a run estimated to take long (BM3D on
a large photograph) starts only when the user says Continue to how long it will take."""
from __future__ import annotations

from typing import Sequence

from PySide6.QtWidgets import QMessageBox, QWidget

from engine.denoise.classical import duration_text, estimate_seconds, method_label

ASK_ABOVE_SECONDS = 20.0  # ask first when the chosen methods are estimated to take longer than this


def question(methods: Sequence[str], shape: Sequence[int]) -> str:
    """What to ask before running `methods` on an image of `shape`, or "" when the run is quick (the
    estimate covers the classical methods; a model's time is not estimated)."""
    times = {m: estimate_seconds(m, shape) for m in methods}
    total = sum(times.values())
    if total <= ASK_ABOVE_SECONDS:
        return ""
    channels = shape[2] if len(shape) == 3 else 1
    slow = [method_label(m, channels) for m in sorted(times, key=lambda m: -times[m]) if times[m] >= 0.1 * total]
    names = slow[0] if len(slow) == 1 else ", ".join(slow[:-1]) + " and " + slow[-1]
    megapixels = shape[0] * shape[1] / 1e6
    size = f"{megapixels:.1f}" if megapixels >= 1 else f"{megapixels:.2g}"
    return f"{names} on this {size}-megapixel image will take {duration_text(total)}. Continue?"


def ready_to_run(tab, methods: Sequence[str]) -> bool:
    """True when `tab` may start denoising its image with `methods`: some are chosen, and the user agreed to
    a long run; otherwise says why in the status bar."""
    if not methods:
        tab.status_changed.emit("Choose at least one method.")
        return False
    text = question(methods, tab.image.pixels.shape)
    if text and not ask(tab, text):
        tab.status_changed.emit("Not started.")
        return False
    return True


def ask(parent: QWidget, text: str) -> bool:
    """Continue / Cancel (the default); True for Continue."""
    box = QMessageBox(QMessageBox.Icon.Question, "Denoising will take a while", text, parent=parent)
    box.setObjectName("long_run_question")
    go = box.addButton("Continue", QMessageBox.ButtonRole.AcceptRole)
    box.setDefaultButton(box.addButton(QMessageBox.StandardButton.Cancel))
    box.setInformativeText("The progress bar shows each tile; Cancel stops after the current one.")
    box.exec()
    return box.clickedButton() is go
