"""Anomaly detection by reconstruction error: scores, thresholds and the flag rule (scores), the data a
detector trains on and scores (data), the detector itself (detector), its file format (files) and the
scored CSV (scored_csv)."""
