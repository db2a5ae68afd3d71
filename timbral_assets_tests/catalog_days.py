"""A small catalog resolved day by day through the same catalog functions the assets call."""

from __future__ import annotations

from timbral_assets.resolution import catalog
from timbral_assets.resolution.matcher import MatcherConfig

PLAYS_DAY_1 = [
    ("Beyoncé", "Drunk in Love", 323), ("beyonce", "drunk in love", 323), ("Beyoncé feat. JAY-Z", "Drunk in Love", 323),
    ("Radiohead", "Karma Police", 264), ("Radiohead", "Karma Police (Live)", 290), ("Radiohead", "Paranoid Android", 383),
    ("AC/DC", "Thunderstruck", 292), ("Simon & Garfunkel", "The Boxer", 308), ("Portishead", "Roads", 305),
    ("Massive Attack", "Teardrop", 330), ("Bjork", "Joga", 305), ("Daft Punk", "One More Time", 320),
]
PLAYS_DAY_2 = [("Radiohaed", "Karma Police", 264), ("Radiohead", "Paranoid Androdi", 383), ("Daft Punk", "Veridis Quo", 345),
               ("Teardrop", "Massive Attack", 330)]  # artist and title exchanged


def resolve_day(con, day: str, plays, rules, model_json=None):
    con.execute("CREATE OR REPLACE TABLE plays (artist_raw VARCHAR, track_raw VARCHAR, album_raw VARCHAR, "
                "duration_ms BIGINT, track_mbid VARCHAR, artist_mbid VARCHAR, user_id VARCHAR)")
    for i, (artist, title, seconds) in enumerate(plays):
        for user in range(3):
            con.execute("INSERT INTO plays VALUES (?, ?, NULL, ?, NULL, NULL, ?)", [artist, title, seconds * 1000, f"u{(i + user) % 5}"])
    run = catalog.resolve_window(con, "SELECT * FROM plays", day, rules, model_json=model_json,
                                 matcher_config=MatcherConfig(u_max_pairs=1e4, prior=0.01))
    return run.model_json, dict(con.execute("SELECT v.artist_raw || ' - ' || v.track_raw, c.track_id FROM "
                                        "resolution.entity_clusters c JOIN resolution.variants v USING (variant_id)").fetchall())
