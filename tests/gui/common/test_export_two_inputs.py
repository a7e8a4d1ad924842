"""A two-input model (the noise-level-aware denoiser) opened with File > Open model: the Reconstruction tab
says what it takes instead of crashing, Model > Architecture shows it, Model > Export offers only what
makes sense for it (the whole model, no built-in scaling) and writes a verified export."""
import numpy as np
import pytest

keras = pytest.importorskip("keras")


@pytest.fixture
def unet_file(tmp_path):
    from engine.models.denoiser import build_unet_denoiser
    from engine.models.files import save_model

    keras.utils.set_random_seed(6)
    model = build_unet_denoiser(1, (8, 16, 32), 1)
    layer = model.get_layer("noise")
    layer.set_weights([np.random.default_rng(6).normal(0, 0.2, w.shape).astype(np.float32)
                       for w in layer.get_weights()])
    return save_model(model, tmp_path / "unet.keras")


def test_open_architecture_and_export_of_a_two_input_denoiser(qtbot, window, messages, unet_file, tmp_path):
    rec = window.reconstruction_tab
    window.tabs.setCurrentWidget(rec)
    rec.open_model(str(unet_file))
    qtbot.waitUntil(lambda: window.session.model is not None, timeout=60_000)
    # a denoiser told the noise level has nothing to reconstruct: the tab says where to use it, no error box
    qtbot.waitUntil(lambda: "Denoise tab" in rec.summary.text(), timeout=60_000)
    qtbot.waitUntil(lambda: not rec.runner.is_running(), timeout=60_000)
    assert "noise level" in rec.summary.text() and not messages

    window.show_architecture()
    arch = window.architecture_dialog
    qtbot.addWidget(arch)
    assert sum(row.kind == "Input" for row in arch.diagram.rows) == 2
    arch.close()

    window.show_export()
    dialog = window.export_dialog
    qtbot.addWidget(dialog)
    assert [dialog.part.itemData(i) for i in range(dialog.part.count())] == ["model"]
    assert not dialog.raw_input.isEnabled() and not dialog.raw_input.isChecked()
    assert "noisy, noise_level" in dialog.raw_input.text()
    dialog.format.setCurrentIndex(dialog.format.findData("keras"))
    dialog.path.setText(str(tmp_path / "exported.keras"))
    dialog.start_export()
    qtbot.waitUntil(lambda: not dialog.runner.is_running(), timeout=120_000)
    assert dialog.report is not None, dialog.result.text()
    assert (tmp_path / "exported.keras").is_file() and dialog.report.max_abs_diff <= 1e-5
    dialog.close()
