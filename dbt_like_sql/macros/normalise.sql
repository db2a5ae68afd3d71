-- Normalisation shared by every catalog model. Tier 1 of resolution: deterministic and explainable.
-- Apostrophes vanish ("Don't" = "Dont"), '&' and '+' read as 'and', accents are stripped (NFC first),
-- and anything that is not a letter or digit becomes one space.
CREATE OR REPLACE MACRO tb_norm_text(s) AS
    trim(regexp_replace(
        regexp_replace(
            replace(replace(regexp_replace(lower(strip_accents(nfc_normalize(coalesce(s, '')))), '[''’‘`´]', '', 'g'),
                    '&', ' and '), '+', ' and '),
            '[^\p{L}\p{N}]+', ' ', 'g'),
        '\s+', ' ', 'g'));

-- Artist: drop an explicit featured-artist credit and a leading "The". "&", "x" and "with" stay, because
-- they are as often part of a name ("Simon & Garfunkel") as a credit; the resolver's rules decide those.
CREATE OR REPLACE MACRO tb_norm_artist(s) AS
    regexp_replace(
        tb_norm_text(regexp_replace(coalesce(s, ''), '\s+(feat\.?|ft\.?|featuring)\s+.*$', '', 'i')),
        '^the ', '');

-- Title: drop featured credits, remaster / year / radio-edit / single- and album-version suffixes and a
-- trailing [Label] bracket, which name the same recording. Live and remix markers are kept, in one
-- canonical form, because they name different recordings.
CREATE OR REPLACE MACRO tb_strip_feat(s) AS
    regexp_replace(regexp_replace(lower(trim(coalesce(s, ''))),
        '\s*[\(\[]\s*(feat\.?|ft\.?|featuring|with)\s[^\)\]]*[\)\]]', '', 'g'),
        '\s+(feat\.?|ft\.?|featuring)\s.*$', '');

-- A trailing [bracket] is a label or store tag unless it names a version.
CREATE OR REPLACE MACRO tb_strip_label_bracket(s) AS
    CASE WHEN regexp_matches(s, '\[[^\]]*(live|remix|mix|acoustic|demo|version|edit|remaster)[^\]]*\]\s*$') THEN s
         ELSE regexp_replace(s, '\s*\[[^\]]*\]\s*$', '')
    END;

CREATE OR REPLACE MACRO tb_strip_title_noise(s) AS
    regexp_replace(regexp_replace(
        tb_strip_label_bracket(tb_strip_feat(s)),
        '\s*(-\s*|[\(\[]\s*)((\d{4}\s+)?(digital(ly)?\s+)?remaster(ed)?(\s+\d{4})?(\s+version)?|radio edit|single version|album version|\d{4})\s*[\)\]]?\s*$', ''),
        '\s*(-\s*|[\(\[]\s*)live(\s+(at|from|in)\s+[^\)\]]*)?\s*[\)\]]?\s*$', ' (live)');

CREATE OR REPLACE MACRO tb_norm_title(s) AS tb_norm_text(tb_strip_title_noise(s));

-- Tags: one spelling per tag.
CREATE OR REPLACE MACRO tb_norm_tag(s) AS
    CASE regexp_replace(lower(trim(coalesce(s, ''))), '[\s_\-]+', ' ', 'g')
        WHEN 'hiphop' THEN 'hip hop'
        WHEN 'rnb' THEN 'r&b'
        WHEN 'r and b' THEN 'r&b'
        WHEN 'dnb' THEN 'drum and bass'
        WHEN 'drum n bass' THEN 'drum and bass'
        WHEN 'electronica' THEN 'electronic'
        ELSE regexp_replace(lower(trim(coalesce(s, ''))), '[\s_\-]+', ' ', 'g')
    END;

-- A placeholder says that the name is missing or unknown ("ID", "[unknown]", "?"); such a play cannot be
-- identified from its strings. A name in symbols only is a name ("!!!", "-//-", "[0_O]"), and "Untitled" is
-- the title some artists give a track (Interpol, R.E.M.).
CREATE OR REPLACE MACRO tb_is_placeholder(s) AS
    regexp_replace(regexp_replace(lower(trim(coalesce(s, ''))), '\s+', ' ', 'g'), '^[\[(<\s]+|[\])>\s]+$', '', 'g')
        IN ('', 'id', 'unknown', 'unknown artist', 'unknown track', 'unknown title', '?', '??', '???');

-- The normalised form, or where the normaliser leaves nothing (a name in symbols only) the name itself in
-- lower case: such a name still keys its own entity.
CREATE OR REPLACE MACRO tb_norm_or_self(normalised, s) AS
    coalesce(nullif(normalised, ''), lower(trim(s)));

-- The most common value of a histogram(x) map, ties to the greater value: unlike mode() and any_value(),
-- the same rows give the same answer however DuckDB's threads split them.
CREATE OR REPLACE MACRO tb_most_common(h) AS
    (list_sort(list_transform(map_entries(h), lambda e: {'n': e.value, 'v': e.key}), 'DESC')[1]).v;

-- How good a raw string is as the display form of its entity, highest first: needing no normalisation
-- beyond case and punctuation, not all lower case, most played, keeping its accents.
CREATE OR REPLACE MACRO tb_display_rank(raw, is_clean, plays) AS
    (is_clean, raw <> lower(raw), plays, regexp_matches(raw, '[^\x00-\x7F]'), raw);
