/* timbral
description: >
  Every raw (artist, title) variant and the canonical track it maps to, with the resolution tier, the
  method and a confidence. Tier 1 is the deterministic normalised hash: confidence 1.0 when only case,
  spacing, punctuation or accents differ from the key, 0.9 when normalisation removed a credit, a
  version suffix or a bracket. Later tiers (exact ids, rules, splink, embeddings) add rows with their own tier.
checks:
  - not_null: track_id
  - name: every_scrobble_mapped
    description: every identifiable raw scrobble has an alias row (placeholders such as "ID - ID" are excluded)
    sql: >
      SELECT count(*) FROM {{ source('raw', 'raw_scrobbles') }} r
      WHERE NOT (tb_is_placeholder(r.artist_name) OR tb_is_placeholder(r.track_name))
        AND tb_norm_artist(r.artist_name) <> '' AND tb_norm_title(r.track_name) <> ''
        AND NOT EXISTS (SELECT 1 FROM {{ ref('track_aliases') }} a
                        WHERE a.artist_raw = r.artist_name AND a.track_raw = r.track_name)
  - name: alias_key_unique
    description: one row per (artist_raw, track_raw, duration_bucket, tier)
    sql: >
      SELECT count(*) - count(DISTINCT (artist_raw, track_raw, duration_bucket, tier)) FROM {{ ref('track_aliases') }}
*/
SELECT
    'ali_' || substr(md5(artist_raw || chr(31) || track_raw || chr(31) || coalesce(CAST(duration_bucket AS VARCHAR), 'na')), 1, 16)
        AS alias_id,
    artist_raw,
    track_raw,
    duration_bucket,
    any_value(artist_norm) AS artist_norm,
    any_value(title_norm) AS title_norm,
    any_value(track_id) AS track_id,
    'deterministic' AS tier,
    'normalised_hash' AS method,
    CASE WHEN tb_norm_text(artist_raw) IN (any_value(artist_norm), 'the ' || any_value(artist_norm))
              AND tb_norm_text(track_raw) = any_value(title_norm)
         THEN 1.0 ELSE 0.9 END::DOUBLE AS confidence,
    count(*) AS play_count,
    min(played_at) AS first_played_at,
    max(played_at) AS last_played_at
FROM {{ ref('int_scrobble_tracks') }}
GROUP BY artist_raw, track_raw, duration_bucket
