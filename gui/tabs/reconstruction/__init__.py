"""Reconstruction tab: originals over reconstructions with their errors, and the error histogram."""
