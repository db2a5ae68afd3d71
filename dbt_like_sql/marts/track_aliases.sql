/* timbral
description: >
  Every raw (artist, title) variant and the canonical track it maps to, with the resolution tier that
  decided it (manual, exact_id, deterministic, rules, probabilistic, semantic), the method, a confidence and
  a quality level (exact, high, medium, low, none). A low variant is a track of its own (suggested_track_id names
  the one it nearly matched); plays of every quality count downstream, flagged (int_scrobble_tracks).
checks:
  - not_null: track_id
  - name: every_scrobble_mapped
    description: every identifiable raw scrobble has an alias row (placeholders such as "ID - ID" are excluded)
    sql: >
      SELECT count(*) FROM {{ source('raw', 'raw_scrobbles') }} r
      WHERE NOT (tb_is_placeholder(r.artist_name) OR tb_is_placeholder(r.track_name))
        AND NOT EXISTS (SELECT 1 FROM {{ ref('track_aliases') }} a
                        WHERE a.artist_raw = r.artist_name AND a.track_raw = r.track_name)
  - name: alias_key_unique
    description: one row per (artist_raw, track_raw)
    sql: >
      SELECT count(*) - count(DISTINCT (artist_raw, track_raw)) FROM {{ ref('track_aliases') }}
*/
SELECT
    'ali_' || substr(md5(v.artist_raw || chr(31) || v.track_raw), 1, 16) AS alias_id,
    v.artist_raw,
    v.track_raw,
    v.artist_key,
    v.title_key,
    v.version,
    c.track_id,
    c.artist_id,
    c.tier,
    c.method,
    c.confidence,
    c.quality,
    c.suggested_track_id,
    v.play_count,
    v.first_seen
FROM {{ source('resolution', 'variants') }} v
JOIN {{ source('resolution', 'entity_clusters') }} c USING (variant_id)
