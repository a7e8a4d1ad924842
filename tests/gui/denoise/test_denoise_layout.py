"""The Denoise tab's controls drawn as they should be."""
from PySide6.QtWidgets import QStyle


def test_the_sample_button_keeps_its_menu_arrow_clear_of_its_text(window):
    window.tabs.setCurrentWidget(window.denoise_tab)
    button = window.denoise_tab.sample_button
    assert button.menu() is window.denoise_tab.sample_menu and button.menu().actions()
    arrow = button.style().pixelMetric(QStyle.PixelMetric.PM_MenuButtonIndicator, None, button)
    assert button.width() >= button.fontMetrics().horizontalAdvance(button.text()) + arrow + 8


def test_the_table_bolds_the_best_of_each_column_and_names_the_best_method(window):
    import numpy as np

    from engine.data.noise import NoiseConfig
    from engine.denoise.metrics import MetricRow
    from engine.denoise.pipeline import DenoiseResult
    from gui.tabs.denoise import results
    from gui.tabs.denoise.photo_view import COLUMNS

    page = window.denoise_tab
    image = np.zeros((50, 50), np.float32)
    result = DenoiseResult(image, image, {"nlm": image, "tv": image}, {"nlm": "Non-local means", "tv": "TV"},
                           {"nlm": 2.0, "tv": 0.5}, [MetricRow("noisy", 20.0, 0.3), MetricRow("nlm", 29.0, 0.7),
                                                     MetricRow("tv", 28.0, 0.8)], NoiseConfig("gaussian", sigma=25))
    results.fill_metrics(page, result)
    table = page.metrics_table
    bold = {(table.item(r, 0).text(), COLUMNS[c]) for r in range(table.rowCount())
            for c in range(1, table.columnCount()) if table.item(r, c).font().bold()}
    assert bold == {("Non-local means", COLUMNS[1]), ("TV", COLUMNS[2]), ("TV", COLUMNS[3]), ("TV", COLUMNS[4])}
    assert page.metrics_note.text().startswith("Best for this image: Non-local means, 29.00 dB, 1.00 dB above TV")
