"""The mood/energy model's pure side: features, labels, models and their evaluation (no Dagster imports)."""
