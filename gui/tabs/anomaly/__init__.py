"""Anomaly tab (tab, with its file actions in file_actions): the data and model settings (sources, model_box,
table_chooser) and the result views (views, score_plot, roc_plot, threshold_panel with the score choice,
anomaly_list, anomaly_views)."""
