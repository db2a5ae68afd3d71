/* timbral
description: User tag assignments per artist (hetrec format), with one spelling per tag.
*/
SELECT
    tb_norm_artist(artist_name) AS artist_norm,
    tb_norm_tag(tag) AS tag,
    count(DISTINCT user_id) AS taggers
FROM {{ source('raw', 'raw_artist_tags') }}
WHERE artist_name IS NOT NULL AND tb_norm_tag(tag) <> ''
GROUP BY ALL
