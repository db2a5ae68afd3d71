/* timbral
description: AOTY albums unnested to one row per listed track, with scores, genres and normalised keys.
*/
SELECT
    a.aoty_album_id,
    tb_norm_artist(a.artist) AS artist_norm,
    tb_norm_text(a.title) AS album_norm,
    tb_norm_title(t.title) AS title_norm,
    t.number AS track_number,
    t.length_s,
    a.release_date,
    year(a.release_date) AS release_year,
    a.album_type,
    a.label,
    list_transform(a.genres, lambda g: tb_norm_tag(g)) AS genres,
    a.critic_score,
    a.user_score,
    a.ratings_count
FROM {{ source('raw', 'raw_aoty_albums') }} a, unnest(a.tracks) AS u(t)
