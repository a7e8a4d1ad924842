"""The Denoise tab's strength slider and live preview, the noise estimated in an opened image, and the results
table of an image with no clean original, as a user sees them."""
import time

import numpy as np
import pytest
from matplotlib.backend_bases import MouseEvent
from PIL import Image

from engine.denoise import preview as preview_engine
from engine.denoise.pipeline import BUNDLED
from gui.tabs.denoise import results
from gui.tabs.denoise.strength import DEBOUNCE_MS
from tests.gui.helpers import click

H, W = 96, 128


def noisy_photo(path, sigma=(10.0, 20.0, 30.0), seed=0):
    """A smooth colour picture with edges and Gaussian noise of `sigma` (0-255) in R, G and B."""
    yy, xx = np.mgrid[0:H, 0:W] / 128.0
    base = 0.25 + 0.45 * xx + 0.2 * (((yy - 0.4) ** 2 + (xx - 0.5) ** 2) < 0.06)
    clean = np.stack([base, base * 0.9 + 0.05, base * 0.8 + 0.1], axis=-1)
    noisy = clean + np.random.default_rng(seed).standard_normal(clean.shape) * np.array(sigma) / 255
    Image.fromarray(np.round(np.clip(noisy, 0, 1) * 255).astype(np.uint8)).save(path)
    return path


@pytest.fixture
def tab(window):
    window.tabs.setCurrentWidget(window.denoise_tab)
    return window.denoise_tab


def open_in(qtbot, tab, path, kind="none"):
    tab.noise_kind.setCurrentIndex(tab.noise_kind.findData(kind))
    with qtbot.waitSignal(tab.runner.finished, timeout=30_000):
        assert tab.open_image(path)


def settled(qtbot, panel, strength=None, timeout=90_000):
    """Wait until the preview for the current settings is drawn."""
    qtbot.waitUntil(lambda: not panel.busy() and panel.preview is not None
                    and (strength is None or panel.preview.level.strength == strength), timeout=timeout)
    return panel.preview


def roughness(image):
    return float(np.mean(np.abs(np.diff(image, axis=0))) + np.mean(np.abs(np.diff(image, axis=1))))


def test_the_estimated_noise_of_an_opened_image_is_shown_per_channel(qtbot, tab, tmp_path):
    panel = tab.strength_panel
    open_in(qtbot, tab, noisy_photo(tmp_path / "noisy.png"))
    qtbot.waitUntil(lambda: panel.estimate is not None, timeout=30_000)
    np.testing.assert_allclose(np.array(panel.estimate.sigma) * 255, [10, 20, 30], rtol=0.2)
    text = panel.estimate_label.text().replace("\u00a0", " ")
    assert text.startswith("Estimated noise: R ") and ", G " in text and ", B " in text and "of 255" in text
    r, g, b = (float(text.split(f"{c} ")[1].split(",")[0].split(" ")[0]) for c in "RGB")
    assert r < g < b
    settled(qtbot, panel)
    assert panel.told_label.text().startswith("Told: R") and "estimate x 1.00" in panel.told_label.text()


def test_the_slider_changes_the_live_preview_and_more_strength_is_smoother(qtbot, tab, tmp_path):
    panel = tab.strength_panel
    open_in(qtbot, tab, noisy_photo(tmp_path / "noisy.png", sigma=(20.0, 20.0, 20.0)))
    panel.slider.setValue(50)
    weak = settled(qtbot, panel, 0.5)
    drawn_weak = panel.output_view.shown()
    panel.slider.setValue(200)
    strong = settled(qtbot, panel, 2.0)
    assert strong.box == weak.box and np.array_equal(strong.noisy, weak.noisy)
    assert np.abs(strong.output - weak.output).mean() > 1 / 255
    assert roughness(strong.output) < 0.9 * roughness(weak.output) < 0.8 * roughness(weak.noisy)  # edges stay
    drawn = panel.output_view.shown()
    assert not np.array_equal(drawn, drawn_weak)  # what the user sees changed
    np.testing.assert_array_equal(drawn, np.round(np.clip(strong.output, 0, 1) * 255).astype(np.uint8))
    assert panel.value_label.text() == "2.00x" and panel.output_title.text() == "Denoised, 2.00x"


def test_quick_slider_moves_are_debounced_and_the_latest_wins(qtbot, tab, tmp_path, monkeypatch):
    panel = tab.strength_panel
    open_in(qtbot, tab, noisy_photo(tmp_path / "noisy.png"))
    settled(qtbot, panel, 1.0)
    moves, starts, shown = [], [], []
    real_start = panel.runner.start
    monkeypatch.setattr(panel.runner, "start", lambda job, name: starts.append(time.monotonic())
                        or real_start(job, name))
    panel.preview_shown.connect(lambda p: shown.append(p.level.strength))
    for value in range(110, 260, 10):  # a drag: 15 moves, each a few milliseconds after the last
        panel.slider.setValue(value)
        moves.append(time.monotonic())
        qtbot.wait(5)
    settled(qtbot, panel)
    assert shown[-1] == 2.5 and len(starts) < len(moves) / 2
    for started in starts:  # each preview began only once the slider had rested for DEBOUNCE_MS
        last_move = max(t for t in moves if t <= started)
        assert started - last_move >= DEBOUNCE_MS / 1000 - 0.01


def test_a_move_during_a_preview_is_previewed_when_it_ends(qtbot, tab, tmp_path, monkeypatch):
    panel = tab.strength_panel
    open_in(qtbot, tab, noisy_photo(tmp_path / "noisy.png"))
    settled(qtbot, panel, 1.0)
    real = preview_engine.preview_region
    monkeypatch.setattr(preview_engine, "preview_region", lambda *a, **k: time.sleep(1.0) or real(*a, **k))
    panel.slider.setValue(150)
    qtbot.waitUntil(panel.runner.is_running, timeout=10_000)
    panel.slider.setValue(200)  # its debounce ends while the 1.5x preview still runs
    qtbot.wait(DEBOUNCE_MS + 100)
    assert panel.runner.is_running()
    assert settled(qtbot, panel, 2.0, timeout=30_000).level.strength == 2.0


def test_clicking_the_image_moves_the_previewed_region(qtbot, tab, tmp_path):
    panel = tab.strength_panel
    open_in(qtbot, tab, noisy_photo(tmp_path / "noisy.png"))
    first = settled(qtbot, panel)
    canvas = tab.panels.canvas
    canvas.draw()
    x, y = tab.panels.axes("original").transData.transform((100, 20))  # column 100, row 20
    canvas.callbacks.process("button_press_event", MouseEvent("button_press_event", canvas, x, y, button=1))
    qtbot.waitUntil(lambda: panel.preview is not first and not panel.busy(), timeout=30_000)
    top, left, h, w = panel.preview.box
    assert top == 0 and abs(left + w / 2 - 100) <= 1 and panel.centre == pytest.approx((20, 100), abs=1)
    marker = panel._markers[0]
    assert marker.get_xy() == (left - 0.5, top - 0.5) and marker.axes is tab.panels.axes("original")


def test_the_run_uses_the_sliders_strength(qtbot, tab, tmp_path):
    panel = tab.strength_panel
    open_in(qtbot, tab, noisy_photo(tmp_path / "noisy.png"), kind="gaussian")
    tab.sigma.setValue(25.0)
    panel.slider.setValue(150)
    for method, box in tab.method_boxes.items():
        box.setChecked(method == BUNDLED)
    with qtbot.waitSignal(tab.runner.finished, timeout=180_000):
        click(qtbot, tab.denoise_button)
    assert tab.result.noise_level.strength == 1.5 and tab.result.noise_level.sigma == (25 / 255,)
    preview = settled(qtbot, panel, 1.5)
    top, left, h, w = preview.box  # the preview showed what the run made there
    run = tab.result.outputs[BUNDLED][top:top + h, left:left + w]  # the same, but for the U-Net's far context
    assert np.abs(preview.output - run).max() < 4 / 255 and np.abs(preview.output - run).mean() < 0.5 / 255


def test_a_missing_model_is_said_in_the_preview_and_the_estimate_still_shows(qtbot, tab, tmp_path, monkeypatch):
    monkeypatch.setattr(preview_engine, "bundled_denoiser_path", lambda channels: tmp_path / "gone.keras")
    panel = tab.strength_panel
    open_in(qtbot, tab, noisy_photo(tmp_path / "noisy.png"))
    qtbot.waitUntil(lambda: panel.output_view.text() == "No preview" and not panel.busy(), timeout=30_000)
    assert panel.region_label.text().startswith("No preview: The bundled denoiser gone.keras is missing")
    assert panel.estimate is not None and panel.estimate_label.text().startswith("Estimated noise: R")


def test_without_a_clean_original_the_table_shows_what_can_be_measured(qtbot, tab, window, tmp_path):
    open_in(qtbot, tab, noisy_photo(tmp_path / "noisy.png"))
    for method, box in tab.method_boxes.items():
        box.setChecked(method in ("wavelet", "tv"))
    with qtbot.waitSignal(tab.runner.finished, timeout=120_000):
        click(qtbot, tab.denoise_button)
    assert tab.metrics_note.text().startswith(results.NO_REFERENCE)
    table = tab.metrics_table
    headers = [table.horizontalHeaderItem(c).text() for c in range(table.columnCount())]
    assert headers == ["Method", results.NOISE_LEFT, "Seconds", "Megapixels/s"]
    assert "not better" in table.horizontalHeaderItem(1).toolTip()
    rows = tab.metrics()
    assert list(rows) == ["Input", "TV Chambolle", "Wavelet BayesShrink"]
    left = {name: float(row[results.NOISE_LEFT]) for name, row in rows.items()}
    assert 15 < left["Input"] < 25 and left["TV Chambolle"] < left["Input"] / 2
    bold = {(table.item(r, 0).text(), headers[c]) for r in range(table.rowCount())
            for c in range(1, table.columnCount()) if table.item(r, c).font().bold()}
    assert bold and all(column in ("Seconds", "Megapixels/s") for _, column in bold)  # the noise left: not ranked
    tab.method_combo.setCurrentIndex(tab.method_combo.findData("tv"))
    assert "noise left" in tab.panels.title("result")
