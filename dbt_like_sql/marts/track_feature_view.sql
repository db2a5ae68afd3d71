/* timbral
description: >
  One wide row per canonical track: identity and play statistics, its top tags, Spotify audio features
  (averaged when several Spotify rows match), the AOTY album's release year and scores, and the label with
  where it came from (aoty, title, musicbrainz, store_page) and its confidence, from enrichment_status.
checks:
  - unique: track_id
  - name: one_row_per_track
    description: exactly one row per tracks_core row
    sql: SELECT abs((SELECT count(*) FROM {{ ref('tracks_core') }}) - (SELECT count(*) FROM {{ ref('track_feature_view') }}))
*/
WITH tags AS (
    SELECT track_id,
           list(tag ORDER BY weight DESC, tag)[1:10] AS top_tags,
           count(*) AS tag_count
    FROM {{ ref('track_tags') }}
    GROUP BY track_id
),
spotify AS (
    SELECT t.track_id,
           count(*) AS spotify_matches,
           max(s.popularity) AS spotify_popularity,
           round(avg(s.danceability), 6) AS danceability, round(avg(s.energy), 6) AS energy, round(avg(s.valence), 6) AS valence,
           round(avg(s.tempo), 6) AS tempo, round(avg(s.loudness), 6) AS loudness, round(avg(s.acousticness), 6) AS acousticness,
           round(avg(s.instrumentalness), 6) AS instrumentalness, round(avg(s.speechiness), 6) AS speechiness,
           round(avg(s.liveness), 6) AS liveness, bool_or(s.explicit) AS explicit
    FROM {{ ref('tracks_core') }} t
    JOIN {{ ref('stg_spotify_tracks') }} s USING (artist_norm, title_norm)
    GROUP BY t.track_id
),
aoty AS (
    SELECT t.track_id,
           min(a.release_year) AS release_year,
           round(avg(a.critic_score), 6) AS album_critic_score,
           round(avg(a.user_score), 6) AS album_user_score
    FROM {{ ref('tracks_core') }} t
    JOIN {{ ref('stg_aoty_album_tracks') }} a USING (artist_norm, title_norm)
    GROUP BY t.track_id
)
SELECT
    c.track_id, c.artist_id, c.artist_name, c.title, c.album, c.duration_ms, c.track_mbid,
    c.play_count, c.listener_count, c.alias_count, c.first_played_at, c.last_played_at,
    ar.play_count AS artist_play_count,
    coalesce(tg.top_tags, []) AS top_tags,
    coalesce(tg.tag_count, 0) AS tag_count,
    sp.spotify_matches, sp.spotify_popularity, sp.danceability, sp.energy, sp.valence, sp.tempo,
    sp.loudness, sp.acousticness, sp.instrumentalness, sp.speechiness, sp.liveness, sp.explicit,
    ao.release_year, ao.album_critic_score, ao.album_user_score,
    en.label, en.label_source, en.label_confidence
FROM {{ ref('tracks_core') }} c
LEFT JOIN {{ ref('artists_core') }} ar USING (artist_id)
LEFT JOIN tags tg USING (track_id)
LEFT JOIN spotify sp USING (track_id)
LEFT JOIN aoty ao USING (track_id)
LEFT JOIN {{ source('enrichment', 'enrichment_status') }} en USING (track_id)
