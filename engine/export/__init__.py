"""Exporting models in the formats people deploy: what an export holds (plans), the app's preprocessing
built into the graph or written as a snippet (preprocessing), the format writers and readers (formats),
and writing with verification against the app's model (writer)."""
