"""The Denoise tab as a user drives it: open, add noise, denoise, compare, save, cancel."""
import math
import os
import time

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QMessageBox

from engine.denoise import pipeline as denoise
from engine.data.images import read_image
from engine.denoise.pipeline import BUNDLED, METHOD_LABELS
from gui.tabs.denoise.results import NO_REFERENCE, NOISE_LEFT
from tests.gui.helpers import click, use_array

H, W = 48, 64


def photo(channels=1, seed=0):
    """A smooth 48x64 picture with edges (denoisers do well on it), float in [0, 1]."""
    yy, xx = np.mgrid[0:H, 0:W] / 64.0
    base = 0.2 + 0.5 * xx + 0.25 * (((yy - 0.4) ** 2 + (xx - 0.5) ** 2) < 0.06)
    planes = [np.clip(base * (0.7 + 0.15 * c) + 0.05 * c, 0, 1) for c in range(channels)]
    return np.stack(planes, axis=-1)


def write_png(path, kind):
    if kind == "grey8":
        Image.fromarray(np.round(photo(1)[..., 0] * 255).astype(np.uint8)).save(path)
    elif kind == "rgb":
        Image.fromarray(np.round(photo(3) * 255).astype(np.uint8)).save(path)
    elif kind == "rgba":
        alpha = np.linspace(0, 1, W)[None, :].repeat(H, 0)
        Image.fromarray(np.round(np.dstack([photo(3), alpha]) * 255).astype(np.uint8), "RGBA").save(path)
    elif kind == "grey16":
        Image.fromarray(np.round(photo(1)[..., 0] * 65535).astype(np.uint16)).save(path)
    return path


def open_in(qtbot, tab, path):
    with qtbot.waitSignal(tab.runner.finished, timeout=30_000):
        assert tab.open_image(path)


def run(qtbot, tab, methods, kind="gaussian", sigma=25.0, timeout=120_000):
    tab.noise_kind.setCurrentIndex(tab.noise_kind.findData(kind))
    tab.sigma.setValue(sigma)
    for method, box in tab.method_boxes.items():
        box.setChecked(method in methods)
    with qtbot.waitSignal(tab.runner.finished, timeout=timeout):
        click(qtbot, tab.denoise_button)
        assert tab.cancel_button.isEnabled() and not tab.denoise_button.isEnabled()


def as_shown(pixels):
    return pixels[..., 0] if pixels.ndim == 3 and pixels.shape[-1] == 1 else pixels


@pytest.fixture
def tab(window):
    window.tabs.setCurrentWidget(window.denoise_tab)
    return window.denoise_tab


@pytest.mark.parametrize("kind, shape, bits, alpha", [("grey8", (H, W), 8, False), ("rgb", (H, W, 3), 8, False),
                                                      ("rgba", (H, W, 3), 8, True), ("grey16", (H, W), 16, False)])
def test_open_shows_the_image_as_read(qtbot, tab, window, tmp_path, kind, shape, bits, alpha):
    path = write_png(tmp_path / f"{kind}.png", kind)
    open_in(qtbot, tab, path)
    expected = read_image(path)
    shown = tab.shown_image("original")
    assert shown.shape == shape
    np.testing.assert_allclose(shown, as_shown(expected.pixels), atol=1e-6)
    assert f"{bits}-bit" in tab.image_info.text() and ("alpha" in tab.image_info.text()) == alpha
    assert f"Opened {kind}.png: {W} x {H}" in window.status_label.text()
    assert tab.denoise_button.isEnabled() and not tab.save_button.isEnabled()
    assert tab.progress.format() == "opened"  # no denoising ran yet: the bar does not say "done"


def test_denoise_compares_methods_with_linked_panels(qtbot, tab, window, tmp_path):
    open_in(qtbot, tab, write_png(tmp_path / "grey.png", "grey8"))
    run(qtbot, tab, ("nl_means", "tv"))
    assert tab.progress.format() == "done" and tab.progress.value() == tab.progress.maximum()
    result = tab.result
    assert set(result.outputs) == {"nl_means", "tv"}
    assert tab.panels.names() == ["original", "noisy", "result"]
    np.testing.assert_allclose(tab.shown_image("original"), as_shown(result.reference), atol=1e-6)
    np.testing.assert_allclose(tab.shown_image("noisy"), as_shown(result.noisy), atol=1e-6)
    assert tab.shown_image("noisy").std() > tab.shown_image("original").std()  # really noisy
    for method in ("nl_means", "tv"):
        tab.method_combo.setCurrentIndex(tab.method_combo.findData(method))
        np.testing.assert_allclose(tab.shown_image("result"), as_shown(result.outputs[method]), atol=1e-6)
        assert denoise.METHOD_LABELS[method] in tab.panels.title("result")

    rows = tab.metrics()
    noisy_psnr = float(rows["Noisy"]["PSNR (dB)"])
    for label in ("Non-local means", "TV Chambolle"):
        psnr = float(rows[label]["PSNR (dB)"])
        assert math.isfinite(psnr) and psnr > noisy_psnr + 3
        assert 0 < float(rows[label]["SSIM"]) <= 1 and float(rows[label]["Seconds"]) >= 0
        assert float(rows[label]["Megapixels/s"]) > 0
    assert "best:" in window.status_label.text()

    # Linked zoom and pan: one panel's limits are every panel's limits.
    tab.panels.axes("noisy").set_xlim(10, 30)
    tab.panels.axes("result").set_ylim(25, 5)
    for name in ("original", "noisy", "result"):
        assert tab.panels.axes(name).get_xlim() == (10, 30)
        assert tab.panels.axes(name).get_ylim() == (25, 5)
    tab.panels.toolbar.home()
    assert tab.panels.axes("original").get_xlim() == (-0.5, W - 0.5)

    # Difference view: |result - clean| with a colour map, then back.
    tab.view_combo.setCurrentIndex(tab.view_combo.findData("diff_clean"))
    method = tab.method_combo.currentData()
    expected = np.abs(result.outputs[method] - result.reference).mean(axis=-1)
    np.testing.assert_allclose(tab.shown_image("result"), expected, atol=1e-6)
    assert tab.panels.axes("result").images[0].get_cmap().name == "magma"
    tab.view_combo.setCurrentIndex(tab.view_combo.findData("result"))
    np.testing.assert_allclose(tab.shown_image("result"), as_shown(result.outputs[method]), atol=1e-6)

    # Clicking a metrics row shows that method.
    other = next(m for m in ("nl_means", "tv") if m != method)
    row = next(r for r in range(tab.metrics_table.rowCount())
               if tab.metrics_table.item(r, 0).text() == result.labels[other])
    tab.metrics_table.selectRow(row)
    assert tab.method_combo.currentData() == other


def test_bundled_denoiser_on_a_colour_image(qtbot, tab, tmp_path):
    open_in(qtbot, tab, write_png(tmp_path / "rgb.png", "rgb"))
    assert tab.method_boxes[BUNDLED].isEnabled()
    run(qtbot, tab, (BUNDLED, "wavelet"), timeout=180_000)
    rows = tab.metrics()
    assert float(rows[METHOD_LABELS[BUNDLED]]["PSNR (dB)"]) > float(rows["Noisy"]["PSNR (dB)"])
    tab.method_combo.setCurrentIndex(tab.method_combo.findData(BUNDLED))
    shown = tab.shown_image("result")
    assert shown.shape == (H, W, 3)
    np.testing.assert_allclose(shown, tab.result.outputs[BUNDLED], atol=1e-6)
    run(qtbot, tab, (BUNDLED,))  # the second run reuses the loaded model
    assert set(tab.result.outputs) == {BUNDLED}


def test_without_added_noise_there_is_no_reference(qtbot, tab, window, tmp_path):
    open_in(qtbot, tab, write_png(tmp_path / "grey.png", "grey8"))
    run(qtbot, tab, ("wavelet",), kind="none")
    assert tab.panels.names() == ["original", "result"]
    assert NO_REFERENCE in tab.metrics_note.text() and NO_REFERENCE in window.status_label.text()
    rows = tab.metrics()  # what can be measured without a clean original, not empty PSNR / SSIM columns
    assert all(set(row) == {"Method", NOISE_LEFT, "Seconds", "Megapixels/s"} for row in rows.values())
    assert float(rows["Wavelet BayesShrink"][NOISE_LEFT]) >= 0 and rows["Wavelet BayesShrink"]["Seconds"] != "—"
    assert rows["Input"]["Seconds"] == "—"
    assert not tab.view_combo.model().item(tab.view_combo.findData("diff_clean")).isEnabled()
    tab.view_combo.setCurrentIndex(tab.view_combo.findData("diff_noisy"))
    expected = np.abs(tab.result.outputs["wavelet"] - tab.result.noisy)[..., 0]
    np.testing.assert_allclose(tab.shown_image("result"), expected, atol=1e-6)


@pytest.mark.parametrize("kind, name, bits, alpha", [("grey16", "out.png", 16, False), ("grey16", "out.tif", 16, False),
                                                     ("rgba", "out.png", 8, True), ("rgb", "out.jpg", 8, False),
                                                     ("grey8", "out.bmp", 8, False)])
def test_save_keeps_size_bit_depth_and_alpha(qtbot, tab, window, tmp_path, kind, name, bits, alpha):
    source = write_png(tmp_path / f"{kind}.png", kind)
    open_in(qtbot, tab, source)
    run(qtbot, tab, ("tv",))
    target = tmp_path / name
    with qtbot.waitSignal(tab.runner.finished, timeout=30_000):
        assert tab.save_result_to(target)
    back = read_image(target)
    assert back.size == (H, W) and back.bit_depth == bits and (back.alpha is not None) == alpha
    if alpha:
        np.testing.assert_allclose(back.alpha, read_image(source).alpha, atol=1 / 255)
    if name.endswith(".png"):
        tolerance = 1 / 65535 if bits == 16 else 1 / 255
        np.testing.assert_allclose(back.pixels, tab.result.outputs["tv"], atol=tolerance)
    assert f"Saved TV Chambolle to {target}" in window.status_label.text()
    assert not list(tmp_path.glob(".*tmp*"))  # atomic: no temporary file left behind


def test_saving_over_the_input_asks_first(qtbot, tab, window, tmp_path, monkeypatch):
    source = write_png(tmp_path / "photo.png", "grey8")
    before = source.read_bytes()
    open_in(qtbot, tab, source)
    run(qtbot, tab, ("tv",))
    asked = []

    def answer(reply):
        def question(_parent, title, text, *args, **kwargs):
            asked.append(text)
            return reply
        return question

    monkeypatch.setattr(QMessageBox, "question", staticmethod(answer(QMessageBox.StandardButton.No)))
    assert not tab.save_result_to(tmp_path / "." / "photo.png")
    assert "the image you opened" in asked[-1] and source.read_bytes() == before
    assert "Not saved" in window.status_label.text()
    monkeypatch.setattr(QMessageBox, "question", staticmethod(answer(QMessageBox.StandardButton.Yes)))
    with qtbot.waitSignal(tab.runner.finished, timeout=30_000):
        assert tab.save_result_to(source)
    assert source.read_bytes() != before
    np.testing.assert_allclose(read_image(source).pixels, tab.result.outputs["tv"], atol=1 / 255)


def test_read_only_folder_is_explained(qtbot, tab, messages, tmp_path, monkeypatch):
    open_in(qtbot, tab, write_png(tmp_path / "grey.png", "grey8"))
    run(qtbot, tab, ("tv",))
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    if not hasattr(os, "geteuid") or os.geteuid() == 0:  # root writes anyway: refuse as the OS would
        from engine.data import images

        def refuse(_path):
            raise PermissionError(13, "Permission denied")
        monkeypatch.setattr(images, "atomic_path", refuse)
    try:
        with qtbot.waitSignal(tab.runner.finished, timeout=30_000):
            assert tab.save_result_to(locked / "out.png")
    finally:
        locked.chmod(0o700)
    assert "read-only" in messages[-1][1] and "locked" in messages[-1][1]
    assert tab.save_button.isEnabled() and not (locked / "out.png").exists()


def test_cancel_ends_a_long_run_and_the_tab_stays_usable(qtbot, tab, window, tmp_path, monkeypatch):
    def slow(noisy, sigma=None):
        time.sleep(0.05)
        return np.asarray(noisy, np.float32)

    from engine.denoise import classical

    monkeypatch.setattr(classical, "CLASSICAL_TILE", 24)
    monkeypatch.setattr(classical, "CLASSICAL_OVERLAP", 2)
    monkeypatch.setitem(classical.CLASSICAL_METHODS, "tv", slow)
    Image.fromarray(np.full((200, 200), 128, np.uint8)).save(tmp_path / "big.png")
    open_in(qtbot, tab, tmp_path / "big.png")
    tab.method_boxes["tv"].setChecked(True)
    tab.method_boxes[BUNDLED].setChecked(False)
    tab.method_boxes["nl_means"].setChecked(False)
    click(qtbot, tab.denoise_button)
    qtbot.waitUntil(lambda: tab.progress.maximum() > 50 and tab.progress.value() >= 2, timeout=30_000)
    assert "tiles" in tab.progress.format() and tab.progress.value() < tab.progress.maximum()
    with qtbot.waitSignal(tab.runner.finished, timeout=10_000):
        click(qtbot, tab.cancel_button)
    assert "Cancelled" in window.status_label.text() and tab.result is None
    assert tab.denoise_button.isEnabled() and tab.open_button.isEnabled()
    open_in(qtbot, tab, write_png(tmp_path / "grey.png", "grey8"))  # and it still works
    assert tab.image.size == (H, W)


def test_bad_files_get_a_message_and_the_tab_stays_usable(qtbot, tab, messages, tmp_path):
    good = write_png(tmp_path / "good.png", "grey8")
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "corrupt.png").write_bytes(good.read_bytes()[:60])
    (tmp_path / "notes.png").write_text("not an image at all")
    cases = {"empty.png": "empty", "corrupt.png": "corrupt", "notes.png": "not an image",
             "missing.png": "not found"}
    for name, expected in cases.items():
        count = len(messages)
        open_in(qtbot, tab, tmp_path / name)
        assert len(messages) == count + 1 and expected in messages[-1][1], messages[-1]
        assert tab.image is None and tab.open_button.isEnabled()
    tab.max_pixels = 1000
    open_in(qtbot, tab, good)
    assert f"{W} x {H}" in messages[-1][1] and "limit" in messages[-1][1]
    tab.max_pixels = 10**8
    open_in(qtbot, tab, good)
    assert tab.image is not None


def test_one_pixel_image(qtbot, tab, window, messages, tmp_path):
    Image.fromarray(np.array([[[200, 100, 50]]], np.uint8)).save(tmp_path / "dot.png")
    open_in(qtbot, tab, tmp_path / "dot.png")
    run(qtbot, tab, ("nl_means", "tv", "wavelet"))
    assert not messages and tab.shown_image("result").shape == (1, 1, 3)
    assert all(row["SSIM"] == "—" for row in tab.metrics().values())  # no 3x3 window fits
    tab.view_combo.setCurrentIndex(tab.view_combo.findData("diff_noisy"))
    assert tab.shown_image("result").shape == (1, 1)


def test_settings_are_kept(qtbot, tab, window, settings):
    from gui.main_window import MainWindow

    tab.noise_kind.setCurrentIndex(tab.noise_kind.findData("salt_pepper"))
    tab.amount.setValue(12.5)
    tab.seed.setValue(7)
    for method, box in tab.method_boxes.items():
        box.setChecked(method == "tv")
    tab.strength_panel.slider.setValue(80)
    window.save_settings()
    again = MainWindow(settings)
    qtbot.addWidget(again)
    restored = again.denoise_tab
    assert restored.noise_config() == denoise.NoiseConfig("salt_pepper", 25.0, 0.125, 7)
    assert restored.chosen_methods() == ["tv"]
    assert restored.strength_panel.strength() == pytest.approx(0.8)
    again.close()


def test_drag_and_drop_opens_the_file(qtbot, tab, tmp_path):
    path = write_png(tmp_path / "dropped.png", "rgb")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    with qtbot.waitSignal(tab.runner.finished, timeout=30_000):
        tab.dropEvent(QDropEvent(QPointF(20, 20), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                                 Qt.KeyboardModifier.NoModifier))
    assert tab.image.path.name == "dropped.png"
    text_only = QMimeData()
    text_only.setText("hello")
    assert not tab.drop_mime(text_only)


def test_recent_images_and_samples(qtbot, tab, window, settings, tmp_path):
    paths = [write_png(tmp_path / f"img{i}.png", "grey8") for i in range(3)]
    for path in paths + [paths[0]]:
        open_in(qtbot, tab, path)
    assert tab.recent == [str(p.resolve()) for p in (paths[0], paths[2], paths[1])]
    assert settings.value("denoise/recent") == tab.recent
    window._fill_recent_menu()
    assert [a.text() for a in window.recent_menu.actions()] == tab.recent
    with qtbot.waitSignal(tab.runner.finished, timeout=30_000):
        window.recent_menu.actions()[1].trigger()
    assert tab.image.path == paths[2].resolve()
    with qtbot.waitSignal(tab.runner.finished, timeout=30_000):
        assert tab.open_sample("camera")
    assert tab.image.size == (512, 512) and tab.recent[0] == str(paths[2].resolve())


def test_model_channels_must_match_the_image(qtbot, tab, window, messages, tmp_path):
    import keras

    inputs = keras.Input((None, None, 3))
    window.session.set_model(keras.Model(inputs, keras.layers.Conv2D(3, 3, padding="same")(inputs),
                                         name="colour_denoiser"), "test")
    box = tab.method_boxes["model"]
    assert box.isEnabled() and "colour_denoiser" in box.text()
    open_in(qtbot, tab, write_png(tmp_path / "grey.png", "grey8"))
    run(qtbot, tab, ("model",))
    assert "3-channel" in messages[-1][1] and tab.denoise_button.isEnabled()


def test_large_images_are_drawn_decimated_and_sharp_when_zoomed(qtbot, tab, tmp_path, monkeypatch):
    from gui.tabs.denoise import image_panels

    monkeypatch.setattr(image_panels, "DISPLAY_PIXELS", 1000)
    open_in(qtbot, tab, write_png(tmp_path / "grey.png", "grey8"))
    assert tab.panels.shown_step("original") == 2 and tab.shown_image("original").shape == (H // 2, W // 2)
    tab.panels.axes("original").set_xlim(9.5, 29.5)
    tab.panels.axes("original").set_ylim(29.5, 9.5)
    qtbot.waitUntil(lambda: tab.panels.shown_step("original") == 1, timeout=5_000)
    np.testing.assert_allclose(tab.shown_image("original"), tab.image.pixels[10:30, 10:30, 0], atol=1e-6)
    tab.panels.toolbar.home()  # and back to the whole image, decimated again
    qtbot.waitUntil(lambda: tab.panels.shown_step("original") == 2, timeout=5_000)
    assert tab.shown_image("original").shape == (H // 2, W // 2)


def test_digits_view_of_a_denoising_autoencoder(qtbot, window, tiny_npz):
    training = window.training_tab
    use_array(training, tiny_npz, epochs=2, kind="conv")
    training.denoising.setChecked(True)
    training.noise_factor.setValue(0.3)
    with qtbot.waitSignal(training.runner.finished, timeout=120_000):
        click(qtbot, training.start_button)
    tab = window.denoise_tab
    assert not tab.method_boxes["model"].isEnabled()  # a 12x12 model cannot take photographs
    assert "fully convolutional" in tab.method_boxes["model"].toolTip()
    window.tabs.setCurrentWidget(tab)
    assert tab.views.currentIndex() == 1  # no photo open: the digits page is shown
    qtbot.waitUntil(lambda: tab.digits_view.digits is not None, timeout=60_000)
    assert tab.digits_view.grid.grid_shape() == (3, min(10, len(window.session.dataset.x_val)))
    assert [tab.digits_view.grid.shown_row_title(r) for r in range(3)] == ["original", "noisy", "denoised"]
    assert tab.digits_view.noise.value() == pytest.approx(0.3)
    view = tab.digits_view
    np.testing.assert_allclose(view.grid.shown_image(2, 0), view.digits.outputs[0][..., 0], atol=1e-6)
    before = view.digits
    tab.digits_view.noise.setValue(0.0)
    qtbot.waitUntil(lambda: tab.digits_view.digits is not before, timeout=60_000)
    assert tab.digits_view.grid.grid_shape()[0] == 2
    before = view.digits
    view.count.setValue(4)  # fewer digits: the first four
    qtbot.waitUntil(lambda: view.digits is not before, timeout=60_000)
    assert view.grid.grid_shape() == (2, 4)
    first = view.digits.targets.copy()
    np.testing.assert_allclose(first, window.session.dataset.x_val[:4], atol=1e-6)
    x_val = window.session.dataset.x_val.reshape(len(window.session.dataset.x_val), -1)
    for _ in range(3):  # four others at random (the same four again: 1 in 495 per click)
        before = view.digits
        click(qtbot, view.other)
        qtbot.waitUntil(lambda: view.digits is not before, timeout=60_000)
        assert view.grid.grid_shape() == (2, 4)
        shown = view.digits.targets.reshape(4, -1)
        assert all(np.abs(x_val - row).max(axis=1).min() < 1e-6 for row in shown)  # validation digits
        if not np.allclose(shown, first.reshape(4, -1)):
            break
    else:
        pytest.fail("Other digits kept showing the first four")
