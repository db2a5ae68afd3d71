"""Enrichment, pure Python (no Dagster): the label hunter and its sources, the cool-down retry policy, and
unknown-artist identification from listening context."""
