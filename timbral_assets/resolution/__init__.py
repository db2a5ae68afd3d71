"""Entity resolution, pure Python: normalise and transliterate, parse credits and versions, (later) block,
score, embed, add listening context and cluster. No Dagster imports here."""
