"""The Sampling tab on small VAEs built directly (untrained weights still decode distinct images)."""
import numpy as np
import pytest
from matplotlib.backend_bases import MouseEvent

from engine.latent import codes as latent
from engine.models import guards
from engine.core.config import TrainConfig
from engine.data.dataset import Dataset


@pytest.fixture
def tiny_data():
    rng = np.random.default_rng(0)
    base = rng.random((3, 12, 12, 1)).astype(np.float32)
    labels = rng.integers(0, 3, 80)
    x = np.clip(base[labels] + 0.05 * rng.standard_normal((80, 12, 12, 1)), 0, 1).astype(np.float32)
    return Dataset(x[:60], x[60:], labels[:60], labels[60:], source="tiny", class_names=("a", "b", "c"))


def build(kind="vae", latent_size=2, **config):
    from engine.models.builders import build_autoencoder
    return build_autoencoder(TrainConfig(model_kind=kind, code_size=latent_size, **config), (12, 12, 1))


def show_sampling(qtbot, window, model, data):
    """Put model and data in the session, show the Sampling tab and wait until all is drawn."""
    tab = window.sampling_tab
    window.session.set_dataset(data)
    window.session.set_model(model, "built for a test")
    window.tabs.setCurrentWidget(tab)
    if guards.is_generative(model):
        qtbot.waitUntil(lambda: tab.view is not None and tab.strip_images is not None
                        and tab.sample_images is not None and not tab.runner.is_running(), timeout=60_000)
    else:
        qtbot.waitUntil(lambda: tab.message.isVisible(), timeout=10_000)
    return tab


def press(canvas, x, y, kind="button_press_event"):
    """A matplotlib mouse event at data point (x, y) of canvas.ax, as a click on the screen makes."""
    canvas.draw()
    px, py = canvas.ax.transData.transform((x, y))
    MouseEvent(kind, canvas, px, py, button=1)._process()


def test_plain_autoencoder_shows_the_message_and_disables_controls(qtbot, window, tiny_data):
    tab = show_sampling(qtbot, window, build("dense", 8), tiny_data)
    assert "not a VAE or AAE" in tab.message.text()
    assert not any(w.isEnabled() for w in tab.controls)
    assert tab.samples_grid.grid_shape() == (0, 0) and not tab.manifold.has_manifold()
    assert not tab.scatter.has_points()
    press(tab.scatter, 0.5, 0.5)  # clicking the empty plane does nothing, and nothing breaks
    assert tab.decoded_image is None
    tab.seed.setValue(5)
    assert not tab.runner.is_running()


def test_vae_then_plain_model_then_vae_again(qtbot, window, tiny_data):
    tab = show_sampling(qtbot, window, build("vae", 2), tiny_data)
    assert not tab.message.isVisible() and all(w.isEnabled() for w in tab.controls)
    show_sampling(qtbot, window, build("dense", 4), tiny_data)
    assert tab.message.isVisible() and not tab.resample_button.isEnabled()
    show_sampling(qtbot, window, build("aae", 3), tiny_data)
    assert not tab.message.isVisible() and tab.resample_button.isEnabled()
    assert "AAE, latent 3" in tab.model_label.text()


def test_clicking_the_plane_decodes_that_point(qtbot, window, tiny_data):
    tab = show_sampling(qtbot, window, build("vae", 2), tiny_data)
    model, (x0, x1, y0, y1) = window.session.model, tab.view.plane.bounds
    decoded = []
    for x, y in ((x0 + 0.2 * (x1 - x0), y0 + 0.2 * (y1 - y0)), (x0 + 0.8 * (x1 - x0), y0 + 0.9 * (y1 - y0))):
        press(tab.scatter, x, y)
        press(tab.scatter, x, y, "button_release_event")
        assert tab.scatter.marker_position() == pytest.approx((x, y))
        expected = latent.decode(model, tab.view.plane.from_plane([[x, y]]))[0]
        np.testing.assert_allclose(tab.decoded_image, expected, atol=1e-6)
        np.testing.assert_allclose(tab.decoded.shown_image(0, 0), expected[..., 0], atol=1e-6)
        decoded.append(tab.decoded_image.copy())
    assert np.abs(decoded[0] - decoded[1]).max() > 1e-3
    # Dragging decodes along the way; moving without a button held does not.
    press(tab.scatter, x0 + 0.5 * (x1 - x0), y0 + 0.5 * (y1 - y0), "motion_notify_event")
    np.testing.assert_array_equal(tab.decoded_image, decoded[1])
    press(tab.scatter, x0 + 0.3 * (x1 - x0), y0 + 0.3 * (y1 - y0))
    press(tab.scatter, x0 + 0.6 * (x1 - x0), y0 + 0.4 * (y1 - y0), "motion_notify_event")
    assert tab.scatter.marker_position() == pytest.approx((x0 + 0.6 * (x1 - x0), y0 + 0.4 * (y1 - y0)))
    # Moving the marker alone redraws by blitting, not by rendering the whole scatter again.
    qtbot.waitUntil(lambda: not tab.scatter.is_dirty(), timeout=5000)
    qtbot.wait(300)
    blits, full = tab.scatter.blits, tab.scatter.full_draws
    px, py = tab.scatter.ax.transData.transform((x0 + 0.7 * (x1 - x0), y0 + 0.5 * (y1 - y0)))
    MouseEvent("motion_notify_event", tab.scatter, px, py, button=1)._process()
    qtbot.waitUntil(lambda: tab.scatter.blits > blits, timeout=5000)
    assert tab.scatter.full_draws == full


def test_scatter_shows_every_encoded_sample_coloured_by_label(qtbot, window, tiny_data):
    tab = show_sampling(qtbot, window, build("vae", 2), tiny_data)
    model = window.session.model
    np.testing.assert_allclose(tab.view.means, latent.encode_means(model, tiny_data.x_val), atol=1e-5)
    offsets = tab.scatter._scatter.get_offsets()
    assert len(offsets) == len(tiny_data.x_val)
    assert "latent z₁" in tab.scatter.ax.get_xlabel() and "latent z₂" in tab.scatter.ax.get_ylabel()
    assert [t.get_text() for t in tab.scatter._colorbar.ax.get_yticklabels()] == ["a", "b", "c"]
    low, high = tab.scatter.ax.get_ylim()
    assert low < high  # y grows upward


def test_refining_the_codes_redraws_the_scatter_and_reports_the_elbo(qtbot, window, tiny_data):
    from engine.latent import inference

    tab = show_sampling(qtbot, window, build("vae", 2), tiny_data)
    model = window.session.model
    assert tab.refine_steps.isEnabled() and tab.view.refine_steps == 0
    plain = inference.negative_elbo(model, tiny_data.x_val).sampled.mean()
    assert f"Mean −ELBO {plain:.2f} nats per sample (encoder posterior" in tab.plane_info.text()
    tab.refine_steps.setValue(7)
    qtbot.waitUntil(lambda: tab.view is not None and tab.view.refine_steps == 7 and not tab.runner.is_running(),
                    timeout=60_000)
    expected = inference.refine_posterior(model, tiny_data.x_val, steps=7)
    np.testing.assert_allclose(tab.view.means, expected.mean, atol=1e-5)
    assert not np.allclose(tab.view.means, latent.encode_means(model, tiny_data.x_val), atol=1e-5)
    assert len(tab.scatter._scatter.get_offsets()) == len(tiny_data.x_val)
    assert "after 7 refinement steps each" in tab.plane_info.text() and "refined posterior" in tab.plane_info.text()
    # The interpolation ends are refined codes too.
    pair = tiny_data.x_val[[tab.index_a.value(), tab.index_b.value()]]
    z = latent.encode_means(model, pair, refine_steps=7)
    np.testing.assert_allclose(tab.strip_images, latent.interpolate(model, z[0], z[1], tab.steps.value(),
                                                                    tab.mode.currentData()), atol=1e-5)
    # An AAE has no posterior to refine: the box is off and its codes are the encoder's.
    show_sampling(qtbot, window, build("aae", 2), tiny_data)
    assert not tab.refine_steps.isEnabled() and tab.view.refine_steps == 0 and tab.view.negative_elbo is None
    assert "−ELBO" not in tab.plane_info.text()


def test_resample_with_a_seed(qtbot, window, tiny_data):
    tab = show_sampling(qtbot, window, build("vae", 2), tiny_data)
    tab.grid_size.setValue(4)
    qtbot.waitUntil(lambda: tab.samples_grid.grid_shape() == (4, 4) and not tab.runner.is_running(), timeout=10_000)
    first = tab.samples_grid.shown_image(0, 0).copy()
    seed = tab.seed.value()
    tab.resample_button.click()
    assert tab.seed.value() == seed + 1
    qtbot.waitUntil(lambda: not np.array_equal(tab.samples_grid.shown_image(0, 0), first), timeout=10_000)
    tab.seed.setValue(seed)
    qtbot.waitUntil(lambda: np.array_equal(tab.samples_grid.shown_image(0, 0), first), timeout=10_000)
    model = window.session.model
    expected = latent.decode(model, latent.sample_prior(model, 16, seed))
    np.testing.assert_allclose(tab.sample_images, expected, atol=1e-6)
    np.testing.assert_allclose(tab.samples_grid.shown_image(1, 2), expected[1 * 4 + 2, ..., 0], atol=1e-6)


def test_manifold_for_a_2d_latent_space_is_upright(qtbot, window, tiny_data):
    tab = show_sampling(qtbot, window, build("vae", 2), tiny_data)
    qtbot.waitUntil(tab.manifold.has_manifold, timeout=10_000)
    view, model, n = tab.manifold, window.session.model, tab.manifold_size.value()
    assert view.grid_x.shape == (n,) and view.grid_y.shape == (n,)
    low, high = view.ax.get_ylim()
    assert low < high  # y grows upward on screen, as in the scatter
    assert view.grid_y[0] > view.grid_y[-1]
    for row, col in ((0, 0), (n - 1, 0), (0, n - 1)):  # top-left is (lowest x, highest y)
        expected = latent.decode(model, [[view.grid_x[col], view.grid_y[row]]])[0, ..., 0]
        np.testing.assert_allclose(view.shown_tile(row, col), expected, atol=1e-6)
    # The top-left tile is drawn at the top left of the axes: highest y in data coordinates.
    extent = view._image.get_extent()
    assert extent[3] > extent[2] and view._image.origin == "upper"


def test_manifold_is_explained_absent_for_a_larger_latent_space(qtbot, window, tiny_data):
    tab = show_sampling(qtbot, window, build("vae", 5), tiny_data)
    assert not tab.manifold.has_manifold()
    assert "2-D latent space" in tab.manifold.message() and "5 dimensions" in tab.manifold.message()
    assert not tab.save_manifold_button.isEnabled()
    assert tab.view.plane.pca is not None and "principal component" in tab.scatter.ax.get_xlabel()
    assert "PCA of the 5-D latent means" in tab.plane_info.text()
    (x0, x1, y0, y1) = tab.view.plane.bounds
    press(tab.scatter, (x0 + x1) / 2 + 0.1, y1 - 0.01)
    assert tab.decoded_image is not None and tab.decoded_image.shape == (12, 12, 1)


@pytest.mark.parametrize("mode", ["linear", "slerp"])
def test_interpolation_strip(qtbot, window, tiny_data, mode):
    tab = show_sampling(qtbot, window, build("vae", 3), tiny_data)
    tab.index_a.setValue(2)
    tab.index_b.setValue(7)
    tab.mode.setCurrentIndex(tab.mode.findData(mode))
    tab.steps.setValue(6)
    qtbot.waitUntil(lambda: tab.strip.grid_shape() == (1, 6) and not tab.runner.is_running(), timeout=10_000)
    model = window.session.model
    ends = latent.decode(model, latent.encode_means(model, tiny_data.x_val[[2, 7]]))
    assert len(tab.strip_images) == 6
    np.testing.assert_allclose(tab.strip_images[0], ends[0], atol=1e-5)
    np.testing.assert_allclose(tab.strip_images[-1], ends[1], atol=1e-5)
    np.testing.assert_allclose(tab.strip.shown_image(0, 5), ends[1, ..., 0], atol=1e-5)
    assert np.abs(tab.strip_images[1] - tab.strip_images[0]).max() > 0  # it moves between the ends
    np.testing.assert_allclose(tab.thumbnails.shown_image(0, 1), tiny_data.x_val[7, ..., 0])
    assert tab.thumbnails.shown_caption(0).startswith("A #2")
    expected = latent.interpolate(model, *latent.encode_means(model, tiny_data.x_val[[2, 7]]), 6, mode)
    np.testing.assert_allclose(tab.strip_images, expected, atol=1e-5)


def test_saving_grids_writes_pngs(qtbot, window, tiny_data, tmp_path):
    tab = show_sampling(qtbot, window, build("vae", 2), tiny_data)
    qtbot.waitUntil(tab.manifold.has_manifold, timeout=10_000)
    for name, canvas in (("samples.png", tab.samples_grid), ("strip", tab.strip), ("manifold.png", tab.manifold),
                         ("plane.png", tab.scatter)):
        assert tab.save_png_to(canvas, tmp_path / name)
        path = tmp_path / (name if name.endswith(".png") else name + ".png")
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifold.png", "plane.png", "samples.png", "strip.png"]
    assert not tab.save_png_to(tab.strip, tmp_path / "missing" / "x.png")  # no folder: a message, no file
    assert "Could not save" in window.status_label.text()


def test_refreshes_only_when_shown(qtbot, window, tiny_data):
    tab = window.sampling_tab
    window.session.set_dataset(tiny_data)
    window.session.set_model(build("vae", 2), "built for a test")
    qtbot.wait(200)
    assert tab.view is None and not tab.runner.is_running() and tab.sample_images is None
    window.tabs.setCurrentWidget(tab)
    qtbot.waitUntil(lambda: tab.view is not None, timeout=60_000)


def test_sampling_settings_persist(qtbot, settings, messages):
    from gui.main_window import MainWindow
    first = MainWindow(settings)
    qtbot.addWidget(first)
    tab = first.sampling_tab
    tab.grid_size.setValue(5)
    tab.seed.setValue(42)
    tab.steps.setValue(12)
    tab.refine_steps.setValue(25)
    tab.mode.setCurrentIndex(tab.mode.findData("slerp"))
    first.close()
    second = MainWindow(settings)
    qtbot.addWidget(second)
    tab = second.sampling_tab
    assert (tab.grid_size.value(), tab.seed.value(), tab.steps.value(), tab.mode.currentData()) == (5, 42, 12, "slerp")
    assert tab.refine_steps.value() == 25
    assert second.tabs.tabText(second.tabs.indexOf(tab)) == "Sampling"
    second.close()


def test_opened_vae_file_without_data_loads_the_test_digits(qtbot, window, tmp_path):
    """File > Open model with no data yet: the tab loads the MNIST test digits and encodes them."""
    from engine.models.builders import build_autoencoder
    from engine.models.files import save_model
    path = save_model(build_autoencoder(TrainConfig(model_kind="vae", code_size=2), (28, 28, 1)), tmp_path / "v.keras")
    tab = window.sampling_tab
    window.tabs.setCurrentWidget(tab)
    assert "No model yet" in tab.message.text() and not tab.resample_button.isEnabled()
    window.reconstruction_tab.open_model(str(path))
    qtbot.waitUntil(lambda: tab.view is not None and not tab.runner.is_running(), timeout=60_000)
    assert "VAE, latent 2" in tab.model_label.text() and str(path) in tab.model_label.text()
    assert len(tab.view.points) == min(len(window.session.dataset.x_val), 5000)
    qtbot.waitUntil(lambda: not window.reconstruction_tab.runner.is_running(), timeout=60_000)


def test_model_that_does_not_fit_the_data_is_explained(qtbot, window, tiny_data):
    from engine.models.builders import build_autoencoder
    tab = window.sampling_tab
    window.session.set_dataset(tiny_data)  # 12x12 images
    window.session.set_model(build_autoencoder(TrainConfig(model_kind="vae", code_size=2), (28, 28, 1)), "test")
    window.tabs.setCurrentWidget(tab)
    qtbot.waitUntil(lambda: "Could not encode" in tab.scatter.message(), timeout=60_000)
    assert "28x28x1" in tab.scatter.message()
    qtbot.waitUntil(lambda: tab.sample_images is not None and not tab.runner.is_running(), timeout=60_000)
    assert tab.resample_button.isEnabled()  # the prior samples need no data


def test_a_click_on_the_plane_says_what_was_decoded_where(qtbot, window, tiny_data, monkeypatch):
    tab = show_sampling(qtbot, window, build("vae", 2), tiny_data)
    assert window.status_label.text().startswith("Encoded")
    (x0, x1, y0, y1) = tab.view.plane.bounds
    x, y = x0 + 0.2 * (x1 - x0), y0 + 0.7 * (y1 - y0)
    press(tab.scatter, x, y)
    assert window.status_label.text().startswith(f"Decoded the latent point z = ({x:.2f}, {y:.2f})")
    monkeypatch.setattr(tab, "model_busy", lambda: True)  # e.g. the Reconstruction tab's job holds the model
    press(tab.scatter, x0 + 0.5 * (x1 - x0), y, "motion_notify_event")
    assert "busy" in window.status_label.text() and f"({x0 + 0.5 * (x1 - x0):.2f}, {y:.2f})" in \
        window.status_label.text()
    monkeypatch.undo()
    tab._decode_waiting_pick()
    assert window.status_label.text().startswith(f"Decoded the latent point z = ({x0 + 0.5 * (x1 - x0):.2f}")
    tab = show_sampling(qtbot, window, build("vae", 5), tiny_data)  # a plane of principal components
    (x0, x1, y0, y1) = tab.view.plane.bounds
    press(tab.scatter, (x0 + x1) / 2, (y0 + y1) / 2)
    assert "PCA of the 5-D latent means, as a 5-D code" in window.status_label.text()


def test_the_prior_samples_and_the_manifold_fill_the_right_column(qtbot):
    from gui.tabs.sampling.sampling_view import SamplingView
    from tests.gui.helpers import shown

    view = shown(qtbot, SamplingView(), 1260, 680)  # the tab in a 1280x760 window
    rng = np.random.default_rng(0)
    view.samples_grid.set_images([rng.random((8, 28, 28, 1)) for _ in range(8)], [""] * 8)
    view.manifold.set_manifold(rng.random((225, 28, 28, 1)), np.linspace(-1, 1, 15), np.linspace(1, -1, 15))

    def sides():
        view.samples_grid.draw()
        view.manifold.draw()
        return view.samples_grid.ax.get_window_extent().width, view.manifold.ax.get_window_extent().width

    qtbot.waitUntil(lambda: sides()[0] >= 0.65 * view.samples_grid.width(), timeout=5000)  # was under half
    samples, manifold = sides()
    assert abs(samples - manifold) <= 0.15 * manifold  # the two squares about the same size
