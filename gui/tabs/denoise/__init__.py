"""Denoise tab: the Photo page (photo_view, results, files, image_panels) and the Digits page
(digits_view)."""

# The recent images in the settings; the File menu reads them there while the tab is not built yet.
RECENT_KEY = "denoise/recent"
