"""Anomaly tab: the data and model settings (sources, model_box, table_chooser) and the result views
(views, score_plot, roc_plot, threshold_panel, anomaly_list, anomaly_views)."""
