"""A search campaign: config, evaluation on Ray, journal, MLflow tracking and the driver loop."""
