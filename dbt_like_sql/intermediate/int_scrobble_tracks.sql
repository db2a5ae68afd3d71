/* timbral
description: Each identifiable scrobble with its canonical track_id (tier 1, deterministic hash).
checks:
  - unique: scrobble_id
*/
SELECT
    s.scrobble_id, s.user_id, s.played_at, s.play_date,
    s.artist_raw, s.track_raw, s.album_raw, s.album_norm, s.track_mbid, s.artist_mbid, s.duration_ms,
    s.artist_norm, s.title_norm,
    k.duration_bucket, k.track_id, k.artist_id
FROM {{ ref('stg_scrobbles') }} s
JOIN {{ ref('int_track_keys') }} k
  ON k.artist_norm = s.artist_norm AND k.title_norm = s.title_norm
 AND k.observed_bucket IS NOT DISTINCT FROM CAST(round(s.duration_ms / 30000.0) AS INTEGER)
WHERE NOT s.is_unidentified
