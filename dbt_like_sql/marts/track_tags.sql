/* timbral
description: >
  Weighted, deduplicated tags per track from three sources: Spotify genre (weight 1.0 on the matching
  track), AOTY album genres (1.0 for the first genre, 0.6 for the rest, on the album's listed tracks) and
  Last.fm user tags on the artist (0.5 x the tag's share of the artist's taggers). Weights add up across
  sources and are scaled so each track's strongest tag is 1.0; tags under 0.05 are dropped.
checks:
  - name: weights_in_range
    description: every weight is in (0, 1]
    sql: SELECT count(*) FROM {{ ref('track_tags') }} WHERE NOT (weight > 0 AND weight <= 1)
  - name: tag_unique_per_track
    description: one row per (track_id, tag)
    sql: SELECT count(*) - count(DISTINCT (track_id, tag)) FROM {{ ref('track_tags') }}
*/
WITH tracks AS (
    SELECT track_id, artist_norm, title_norm FROM {{ ref('tracks_core') }}
),
spotify AS (
    SELECT t.track_id, s.genre AS tag, 1.0 AS w, 'spotify' AS source
    FROM tracks t JOIN {{ ref('stg_spotify_tracks') }} s USING (artist_norm, title_norm)
    WHERE s.genre IS NOT NULL AND s.genre <> ''
),
aoty AS (
    SELECT t.track_id, g.genre AS tag, CASE WHEN g.pos = 1 THEN 1.0 ELSE 0.6 END AS w, 'aoty' AS source
    FROM tracks t
    JOIN {{ ref('stg_aoty_album_tracks') }} a USING (artist_norm, title_norm),
         unnest(a.genres) WITH ORDINALITY AS g(genre, pos)
    WHERE g.genre <> ''
),
artist_tags AS (
    SELECT artist_norm, tag, taggers / sum(taggers) OVER (PARTITION BY artist_norm) AS share
    FROM {{ ref('stg_artist_tags') }}
),
lastfm AS (
    SELECT t.track_id, a.tag, 0.5 * a.share AS w, 'lastfm' AS source
    FROM tracks t JOIN artist_tags a USING (artist_norm)
),
combined AS (
    SELECT track_id, tag, sum(w) AS raw_weight, list_sort(list(DISTINCT source)) AS sources
    FROM (SELECT DISTINCT * FROM (SELECT * FROM spotify UNION ALL SELECT * FROM aoty UNION ALL SELECT * FROM lastfm))
    GROUP BY track_id, tag
),
scaled AS (
    SELECT *, raw_weight / max(raw_weight) OVER (PARTITION BY track_id) AS weight FROM combined
)
SELECT track_id, tag, round(weight, 4) AS weight, sources
FROM scaled
WHERE weight >= 0.05
