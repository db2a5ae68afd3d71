/* timbral
description: >
  Every raw scrobble with normalised artist, title and album strings and a 30-second duration bucket. A
  double scrobble (the same user, instant, artist and title, so the same scrobble_id: real exports carry
  them) counts once: the row with the first source line stays.
  Incremental: each daily partition replaces only its own plays. Normalisation runs once per distinct
  (artist, track, album) string, not once per play.
materialized: incremental
window_column: play_date
checks:
  - name: rows_match_raw
    description: the window holds exactly as many plays as raw_scrobbles has distinct scrobbles
    sql: >
      SELECT abs((SELECT count(DISTINCT scrobble_id) FROM {{ source('raw', 'raw_scrobbles') }}
                  WHERE play_date >= {{ window_start }} AND play_date < {{ window_end }})
               - (SELECT count(*) FROM {{ ref('stg_scrobbles') }}
                  WHERE play_date >= {{ window_start }} AND play_date < {{ window_end }}))
*/
WITH plays AS (
    SELECT *
    FROM {{ source('raw', 'raw_scrobbles') }}
    WHERE play_date >= {{ window_start }} AND play_date < {{ window_end }}
),
strings AS (
    SELECT DISTINCT artist_name, track_name, album_name FROM plays
),
normalised AS (
    SELECT
        artist_name, track_name, album_name,
        tb_norm_or_self(tb_norm_artist(artist_name), artist_name) AS artist_norm,
        tb_norm_or_self(tb_norm_title(track_name), track_name) AS title_norm,
        nullif(tb_norm_text(album_name), '') AS album_norm,
        tb_is_placeholder(artist_name) OR tb_is_placeholder(track_name) AS is_placeholder
    FROM strings
)
SELECT
    p.scrobble_id,
    p.user_id,
    p.played_at,
    p.play_date,
    p.artist_name AS artist_raw,
    p.track_name AS track_raw,
    p.album_name AS album_raw,
    p.artist_mbid,
    p.track_mbid,
    p.album_mbid,
    p.duration_ms,
    p.source,
    n.artist_norm,
    n.title_norm,
    n.album_norm,
    n.is_placeholder AS is_unidentified
FROM plays p
JOIN normalised n
  ON n.artist_name = p.artist_name AND n.track_name = p.track_name
 AND n.album_name IS NOT DISTINCT FROM p.album_name
QUALIFY row_number() OVER (PARTITION BY p.scrobble_id ORDER BY p.source, p.source_file, p.source_line) = 1
