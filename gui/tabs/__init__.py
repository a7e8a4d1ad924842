"""One package per tab, each holding the tab and the widgets only it uses. Tabs talk through the shared
Session (gui.session) and signals, never through each other."""
