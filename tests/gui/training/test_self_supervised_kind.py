"""The Training tab's self-supervised kind: a folder of noisy images, the same live curves and previews."""
import numpy as np
from PIL import Image

from engine.denoise.pipeline import MODEL_METHOD
from engine.models.guards import takes_noise_level
from gui.common.forms import set_choice
from tests.gui.helpers import click


def noisy_folder(path, n=2):
    path.mkdir()
    rng = np.random.default_rng(0)
    for k in range(n):
        yy, xx = np.mgrid[0:72, 0:88] / 40.0
        noisy = np.clip(0.5 + 0.3 * np.sin(3 * xx + k) * np.cos(2 * yy) + 0.1 * rng.standard_normal(yy.shape), 0, 1)
        Image.fromarray(np.round(noisy * 255).astype(np.uint8)).save(path / f"noisy{k}.png")
    return path


def test_self_supervised_kind_trains_on_a_folder_of_noisy_images(qtbot, window, messages, tmp_path):
    tab = window.training_tab
    set_choice(tab.model_kind, "n2n")
    assert tab.data_kind.currentData() == "folder" and tab.image_size.value() == 128  # set up for it
    assert not tab.loss.isEnabled() and not tab.code_size.isEnabled() and tab.filters.isEnabled()
    tab.data_path.setText(str(noisy_folder(tmp_path / "noisy")))
    for box, value in ((tab.image_size, 32), (tab.epochs, 2), (tab.batch_size, 2), (tab.filters, 4)):
        box.setValue(value)
    with qtbot.waitSignal(tab.runner.finished, timeout=180_000):
        click(qtbot, tab.start_button)
        assert tab.stop_button.isEnabled()
    model = window.session.model
    assert model is not None and takes_noise_level(model)
    assert list(tab.loss_plot.line_data("val_loss")[0]) == [1, 2]
    assert "Neighbor2Neighbor" in tab.loss_plot.ax.get_title()
    assert tab.preview.grid_shape()[0] == 2 and tab.preview.shown_row_title(0) == "noisy input"
    noisy, denoised = (np.abs(np.diff(tab.preview.shown_image(row, 0).astype(float), axis=1)).mean() for row in (0, 1))
    assert noisy > denoised  # the denoised row is smoother
    assert tab.preview.shown_caption(0).startswith("removed ")
    assert "not recorded in the run store" in window.status_label.text()
    assert window.denoise_tab.method_boxes[MODEL_METHOD].isEnabled()  # usable like any model
    qtbot.wait(500)
    qtbot.waitUntil(lambda: not window.reconstruction_tab.runner.is_running(), timeout=60_000)
    assert messages == []  # no other tab complains about a photo denoiser (it has nothing to reconstruct)
    assert "Denoise tab" in window.reconstruction_tab.summary.text()
    set_choice(tab.model_kind, "dense")
    assert tab.code_size.isEnabled() and tab.loss.isEnabled()
