/* timbral
description: Canonical artists, one row per normalised artist name, named by the best raw form (tb_display_rank).
checks:
  - unique: artist_id
  - not_null: artist_id
*/
WITH forms AS (
    SELECT artist_id, artist_raw, count(*) AS n,
           bool_or(tb_norm_text(artist_raw) IN (artist_norm, 'the ' || artist_norm)) AS clean
    FROM {{ ref('int_scrobble_tracks') }}
    GROUP BY ALL
),
display AS (
    SELECT artist_id, arg_max(artist_raw, tb_display_rank(artist_raw, clean, n)) AS artist_name FROM forms GROUP BY ALL
)
SELECT
    s.artist_id,
    d.artist_name,
    tb_most_common(histogram(s.artist_norm)) AS artist_norm,
    tb_most_common(histogram(s.artist_mbid)) AS artist_mbid,
    count(*) AS play_count,
    count(DISTINCT s.user_id) AS listener_count,
    count(DISTINCT s.track_id) AS track_count,
    min(s.played_at) AS first_played_at,
    max(s.played_at) AS last_played_at
FROM {{ ref('int_scrobble_tracks') }} s
JOIN display d USING (artist_id)
GROUP BY s.artist_id, d.artist_name
