"""Model > Architecture: the summary and the layer diagram of the session's model; the diagram saves as PNG."""
import pytest

from engine.core.config import TrainConfig
from engine.models.builders import build_autoencoder


@pytest.mark.parametrize("kind", ["conv", "vae"])
def test_architecture_dialog_lists_every_layer_and_saves_png(qtbot, window, messages, tmp_path, kind):
    model = build_autoencoder(TrainConfig(model_kind=kind, code_size=8), (28, 28, 1))
    window.session.set_model(model, "built for a test")
    window.show_architecture()
    dialog = window.architecture_dialog
    qtbot.addWidget(dialog)
    texts = " ".join(dialog.diagram.box_texts())
    assert "(None, 28, 28, 1)" in texts and ("Conv2D" in texts if kind == "conv" else "Dense" in texts)
    assert len(dialog.diagram.rows) >= 6
    assert "Total params" in dialog.summary.toPlainText()
    table = dialog.table  # a parameter column per layer, and the totals, as Keras counts them
    per_layer = [int(table.item(r, 4).text().replace(",", "")) for r in range(table.rowCount() - 2)]
    total = int(table.item(table.rowCount() - 2, 4).text().replace(",", ""))
    assert table.horizontalHeaderItem(4).text() == "Parameters" and total == model.count_params() > 0
    assert sum(per_layer) == total and table.item(table.rowCount() - 1, 1).text() == "Trainable"
    path = tmp_path / "diagram.png"
    assert dialog.save_png(str(path)) and path.read_bytes()[:4] == b"\x89PNG"


def test_architecture_without_a_model_says_what_to_do(qtbot, window, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    shown = []
    monkeypatch.setattr(QMessageBox, "information", staticmethod(lambda *a, **k: shown.append(a[2])))
    window.session.model = None
    window.show_architecture()
    assert shown and "train one" in shown[0]
