"""Denoise tab: the Photo page (photo_view, results, files, image_panels) and the Digits page
(digits_view)."""
