"""Recommendation, pure Python: interactions, the models (popularity, item-KNN, RP3beta, EASE, ALS, tag and
vector content, session co-play), the hybrid fusion and its tuning, post-filters, cold start and the offline
metrics. Nothing here imports Dagster."""
