/* timbral
description: >
  Every identifiable scrobble with its canonical track and artist from entity resolution (resolution.entity_clusters,
  keyed by the raw artist and title), flagged with the mapping's quality. A spelling that nothing matched
  surely (quality low) is its own track, so its plays still count; only placeholders ('ID - ID', '[unknown]')
  stay out.
checks:
  - unique: scrobble_id
  - name: every_identifiable_play_mapped
    description: every play of a real artist and title reaches a canonical track; only placeholders stay out
    sql: >
      SELECT count(*) FROM {{ ref('stg_scrobbles') }} s
      WHERE NOT s.is_unidentified
        AND NOT EXISTS (SELECT 1 FROM {{ ref('int_scrobble_tracks') }} t WHERE t.scrobble_id = s.scrobble_id)
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
WHERE NOT s.is_unidentified
