"""The Denoise tab's controls drawn as they should be."""
from PySide6.QtWidgets import QStyle


def test_the_sample_button_keeps_its_menu_arrow_clear_of_its_text(window):
    window.tabs.setCurrentWidget(window.denoise_tab)
    button = window.denoise_tab.sample_button
    assert button.menu() is window.denoise_tab.sample_menu and button.menu().actions()
    arrow = button.style().pixelMetric(QStyle.PixelMetric.PM_MenuButtonIndicator, None, button)
    assert button.width() >= button.fontMetrics().horizontalAdvance(button.text()) + arrow + 8
