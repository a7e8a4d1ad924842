"""Widgets several tabs (or the main window) share: the matplotlib canvas, image grids, the live loss plot,
form helpers, the export and architecture dialogs, and the recent-files list."""
