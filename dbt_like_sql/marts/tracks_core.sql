/* timbral
description: >
  Canonical tracks, one row per track_id. The title is the best raw form by tb_display_rank (clean, cased,
  most played, accented), so "Drunk in Love" wins over "drunk in love (Remastered)"; the artist name is
  the artist's display name from artists_core. Keys that vary across a track's plays (normalised
  strings, duration bucket, MusicBrainz id) take their most common value, ties to the greater one.
checks:
  - unique: track_id
  - not_null: track_id
  - name: row_count_sane
    description: at least one track, and never more tracks than distinct raw (artist, title) variants
    sql: >
      SELECT CASE WHEN n = 0 OR n > v THEN 1 ELSE 0 END FROM
        (SELECT count(*) AS n FROM {{ ref('tracks_core') }}),
        (SELECT count(*) AS v FROM (SELECT DISTINCT artist_name, track_name FROM {{ source('raw', 'raw_scrobbles') }}))
*/
WITH plays AS (
    SELECT *,
           tb_norm_text(track_raw) = title_norm AS clean_title,
           tb_norm_text(artist_raw) IN (artist_norm, 'the ' || artist_norm) AS clean_artist
    FROM {{ ref('int_scrobble_tracks') }}
),
title_forms AS (
    SELECT track_id, track_raw, count(*) AS n, bool_or(clean_title) AS clean FROM plays GROUP BY ALL
),
album_forms AS (
    SELECT track_id, album_raw, count(*) AS n FROM plays WHERE album_raw IS NOT NULL GROUP BY ALL
)
SELECT
    p.track_id,
    tb_most_common(histogram(p.artist_id)) AS artist_id,
    tb_most_common(histogram(a.artist_name)) AS artist_name,
    (SELECT arg_max(track_raw, tb_display_rank(track_raw, clean, n)) FROM title_forms f WHERE f.track_id = p.track_id) AS title,
    (SELECT arg_max(album_raw, (n, album_raw)) FROM album_forms f WHERE f.track_id = p.track_id) AS album,
    tb_most_common(histogram(p.artist_norm)) AS artist_norm,
    tb_most_common(histogram(p.title_norm)) AS title_norm,
    tb_most_common(histogram(p.duration_bucket)) AS duration_bucket,
    CAST(median(p.duration_ms) AS INTEGER) AS duration_ms,
    tb_most_common(histogram(p.track_mbid)) AS track_mbid,
    count(*) AS play_count,
    count(DISTINCT p.user_id) AS listener_count,
    count(DISTINCT (p.artist_raw, p.track_raw)) AS alias_count,
    min(p.played_at) AS first_played_at,
    max(p.played_at) AS last_played_at,
    tb_most_common(histogram(p.resolution_tier)) AS resolution_tier
FROM plays p
JOIN {{ ref('artists_core') }} a USING (artist_id)
GROUP BY p.track_id
