/* timbral
description: Spotify tracks with audio features and normalised keys (first credited artist, title).
checks:
  - not_null: spotify_track_id
*/
SELECT
    t.spotify_track_id,
    t.artists,
    t.artists[1] AS primary_artist,
    t.album_name,
    t.track_name,
    t.popularity,
    t.duration_ms,
    t.explicit,
    tb_norm_tag(t.track_genre) AS genre,
    tb_norm_artist(t.artists[1]) AS artist_norm,
    tb_norm_title(t.track_name) AS title_norm,
    f.danceability, f.energy, f.valence, f.tempo, f.loudness, f.acousticness,
    f.instrumentalness, f.speechiness, f.liveness, f."key", f."mode", f.time_signature
FROM {{ source('raw', 'raw_spotify_tracks') }} t
LEFT JOIN (
    SELECT DISTINCT ON (spotify_track_id) * FROM {{ source('raw', 'raw_spotify_audio_features') }}
    ORDER BY spotify_track_id, source_file, source_line
) f USING (spotify_track_id)
WHERE t.artists IS NOT NULL AND len(t.artists) > 0 AND t.track_name IS NOT NULL
