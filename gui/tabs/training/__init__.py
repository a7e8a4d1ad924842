"""Training tab: the settings form (form) and the live run (tab)."""
