/* timbral
description: >
  Each identifiable scrobble with its canonical track and artist from entity resolution (resolution.entity_clusters,
  keyed by the raw artist and title). Only mappings of quality exact, high or medium feed this table and
  so every aggregate and model downstream; low-quality matches stay in track_aliases, flagged.
checks:
  - unique: scrobble_id
*/
SELECT
    s.scrobble_id, s.user_id, s.played_at, s.play_date,
    s.artist_raw, s.track_raw, s.album_raw, s.album_norm, s.track_mbid, s.artist_mbid, s.duration_ms,
    s.artist_norm, s.title_norm,
    k.duration_bucket, c.track_id, c.artist_id, c.tier AS resolution_tier, c.quality AS resolution_quality
FROM {{ ref('stg_scrobbles') }} s
JOIN {{ ref('int_track_keys') }} k
  ON k.artist_norm = s.artist_norm AND k.title_norm = s.title_norm
 AND k.observed_bucket IS NOT DISTINCT FROM CAST(round(s.duration_ms / 30000.0) AS INTEGER)
JOIN {{ source('resolution', 'variants') }} v ON v.artist_raw = s.artist_raw AND v.track_raw = s.track_raw
JOIN {{ source('resolution', 'entity_clusters') }} c USING (variant_id)
WHERE NOT s.is_unidentified AND c.quality IN ('exact', 'high', 'medium')
