/* timbral
description: >
  One row per (normalised artist, normalised title, recording) with its deterministic track_id.
  A key whose plays all report durations within 20 s of each other is one recording (bucket NULL);
  when durations spread wider, each 30-second bucket is its own recording and plays without a
  duration join the key's most-played bucket.
checks:
  - not_null: track_id
*/
WITH key_plays AS (
    SELECT artist_norm, title_norm,
           CAST(round(duration_ms / 30000.0) AS INTEGER) AS observed_bucket,
           count(*) AS n_plays,
           min(duration_ms) AS min_ms, max(duration_ms) AS max_ms
    FROM {{ ref('stg_scrobbles') }}
    WHERE NOT is_unidentified
    GROUP BY ALL
),
per_key AS (
    SELECT artist_norm, title_norm,
           coalesce(max(max_ms) - min(min_ms) > 20000, false) AS several_recordings,
           arg_max(observed_bucket, (n_plays, observed_bucket)) FILTER (WHERE observed_bucket IS NOT NULL) AS modal_bucket
    FROM key_plays
    GROUP BY ALL
),
keyed AS (
    SELECT p.artist_norm, p.title_norm, p.observed_bucket, p.n_plays,
           CASE WHEN k.several_recordings THEN coalesce(p.observed_bucket, k.modal_bucket) END AS duration_bucket
    FROM key_plays p JOIN per_key k USING (artist_norm, title_norm)
)
SELECT
    artist_norm,
    title_norm,
    observed_bucket,
    duration_bucket,
    'trk_' || substr(md5(artist_norm || chr(31) || title_norm || chr(31) || coalesce(CAST(duration_bucket AS VARCHAR), 'na')), 1, 16)
        AS track_id,
    'art_' || substr(md5(artist_norm), 1, 16) AS artist_id,
    n_plays
FROM keyed
