/* timbral
description: >
  Canonical albums: one row per (canonical artist, folded album title), named by the most played raw form.
  Editions in brackets ("Deluxe", "Remastered") fold into the album; tracks come from entity resolution.
checks:
  - unique: album_id
  - not_null: album_id
*/
WITH album_plays AS (
    SELECT artist_id, album_norm, album_raw, track_id, user_id
    FROM {{ ref('int_scrobble_tracks') }}
    WHERE album_norm IS NOT NULL AND album_norm <> ''
),
forms AS (
    SELECT artist_id, album_norm, album_raw, count(*) AS n FROM album_plays GROUP BY ALL
)
SELECT
    'alb_' || substr(md5(p.artist_id || chr(31) || p.album_norm), 1, 16) AS album_id,
    p.artist_id,
    (SELECT arg_max(f.album_raw, (f.n, f.album_raw)) FROM forms f
     WHERE f.artist_id = p.artist_id AND f.album_norm = p.album_norm) AS album_name,
    p.album_norm,
    count(*) AS play_count,
    count(DISTINCT p.track_id) AS track_count,
    count(DISTINCT p.user_id) AS listener_count
FROM album_plays p
GROUP BY p.artist_id, p.album_norm
