"""The Denoise tab's "Train on noisy images…": a self-supervised denoiser of the open image becomes the current
model, Stop keeps what was trained, and the model saves as .keras."""
from functools import partial

import numpy as np
import pytest
from PIL import Image

import engine.denoise.selfsupervised as selfsupervised
from engine.denoise.pipeline import MODEL_METHOD
from engine.models.files import load_model
from engine.models.guards import takes_noise_level
from tests.gui.helpers import click


@pytest.fixture
def small_training(monkeypatch):
    """A tiny U-Net and short epochs, whatever the dialog asks for (its settings still apply on top)."""
    fast = partial(selfsupervised.SelfSupervisedConfig, width=8, blocks=1, batch_size=4, steps_per_epoch=10,
                   epochs=3, learning_rate=3e-3, validation_crops=4, preview_size=32, previews=2)
    monkeypatch.setattr(selfsupervised, "SelfSupervisedConfig", fast)
    return fast


@pytest.fixture
def tab(window, qtbot, tmp_path):
    tab = window.denoise_tab
    window.tabs.setCurrentWidget(tab)
    yy, xx = np.mgrid[0:64, 0:80] / 40.0
    clean = 0.5 + 0.3 * np.sin(3 * xx) * np.cos(2 * yy)
    Image.fromarray(np.round(clean * 255).astype(np.uint8)).save(tmp_path / "photo.png")
    assert not tab.self_train_button.isEnabled()  # nothing to train on yet
    with qtbot.waitSignal(tab.runner.finished, timeout=30_000):
        assert tab.open_image(tmp_path / "photo.png")
    tab.noise_kind.setCurrentIndex(tab.noise_kind.findData("gaussian"))
    tab.sigma.setValue(25.0)
    return tab


def settle(qtbot, window):
    """Wait for the work other panels start by themselves (the strength preview, the Reconstruction tab)."""
    panel = getattr(window.denoise_tab, "strength_panel", None)
    idle = (lambda: not (panel is not None and panel.busy())
            and not window.reconstruction_tab.runner.is_running())
    qtbot.waitUntil(idle, timeout=120_000)


def roughness(image):
    return float(np.abs(np.diff(image, axis=1)).mean())


def open_dialog(qtbot, tab):
    click(qtbot, tab.self_train_button)
    dialog = tab.self_train_button.dialog
    assert dialog is not None and dialog.isVisible() and "photo.png" in dialog.source.text()
    return dialog


def test_trained_model_becomes_the_current_model_and_denoises(qtbot, window, messages, tab, small_training,
                                                              tmp_path):
    dialog = open_dialog(qtbot, tab)
    with qtbot.waitSignal(dialog.runner.finished, timeout=180_000):
        click(qtbot, dialog.start_button)
        assert dialog.stop_button.isEnabled() and not dialog.start_button.isEnabled()
    result = dialog.result
    assert result is not None and window.session.model is result.model and takes_noise_level(result.model)
    assert len(dialog.loss_plot.line_data("loss")[1]) == 3 and len(dialog.loss_plot.line_data("batch")[1]) >= 3
    assert dialog.preview.grid_shape() == (3, 2)  # clean (only scores), noisy input, denoised
    assert dialog.preview.shown_row_title(0).startswith("clean")
    clean_row, noisy_row, denoised_row = (dialog.preview.shown_image(row, 0).astype(float) for row in range(3))
    assert roughness(noisy_row) > max(roughness(clean_row), roughness(denoised_row))
    box = tab.method_boxes[MODEL_METHOD]
    assert box.isEnabled() and box.isChecked() and "current model" in dialog.status.text()
    assert dialog.save_button.isEnabled()
    assert dialog.save_model_to(str(tmp_path / "mine"))  # .keras added
    assert takes_noise_level(load_model(tmp_path / "mine.keras"))
    click(qtbot, dialog.close_button)
    assert not dialog.isVisible()
    for method, check in tab.method_boxes.items():
        check.setChecked(method == MODEL_METHOD)
    with qtbot.waitSignal(tab.runner.finished, timeout=120_000):
        click(qtbot, tab.denoise_button)
    scores = {row.method: row.psnr for row in tab.result.metrics}
    assert scores[MODEL_METHOD] > scores["noisy"] + 0.5, scores  # used like any model, and it denoises
    settle(qtbot, window)
    assert messages == []


def test_stop_keeps_the_model_trained_so_far(qtbot, window, tab, small_training):
    dialog = open_dialog(qtbot, tab)
    dialog.minutes.setValue(30)
    selfsupervised_batches = []
    dialog.runner.event_emitted.connect(
        lambda e: selfsupervised_batches.append(e) if type(e).__name__ == "BatchEnded" else None)
    click(qtbot, dialog.start_button)
    qtbot.waitUntil(lambda: len(selfsupervised_batches) >= 1, timeout=120_000)
    with qtbot.waitSignal(dialog.runner.finished, timeout=60_000):
        click(qtbot, dialog.stop_button)
    assert dialog.result.stopped_by_user and window.session.model is dialog.result.model
    assert "Stopped by you" in dialog.status.text() or "Stopped before" in dialog.status.text()
    assert tab.method_boxes[MODEL_METHOD].isEnabled()
    dialog.close()
    settle(qtbot, window)
