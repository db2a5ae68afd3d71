"""The rules tier of resolution on tricky real-world strings: folding, versions and credits."""

from __future__ import annotations

import pytest

from timbral_assets.resolution.credits import CreditRules, artist_keys, parse_credit
from timbral_assets.resolution.text import fold, fold_artist, script_of
from timbral_assets.resolution.versions import DIFFERENT, SAME, SOFT, parse_title, same_recording


@pytest.mark.parametrize("a, b", [
    ("Beyoncé", "BEYONCE"),
    ("Sigur Rós", "sigur ros"),
    ("Motörhead", "Motorhead"),
    ("ﾋﾞｮﾝｾ", "ビョンセ"),  # half-width Katakana is the same as full-width after NFKC
    ("Go‐Go’s", "Go-Go's"),
    ("Don’t Stop Me Now", "Dont Stop Me Now"),
    ("Simon & Garfunkel", "Simon and Garfunkel"),
    ("Florence + the Machine", "Florence and the Machine"),
    ("Ｒａｄｉｏｈｅａｄ", "Radiohead"),  # full-width Latin
    ("カスミ", "Kasumi"),
    ("Мумий Тролль", "Mumiy Troll"),
])
def test_fold_makes_spellings_meet(a, b):
    assert fold(a) == fold(b) != ""


def test_fold_keeps_what_differs():
    assert fold("Muse") != fold("Mouse")
    assert fold("AC/DC") == "ac dc"
    assert fold(None) == "" and fold("   ") == ""


@pytest.mark.parametrize("name", ["The Cure", "Cure, The", "cure", "  THE   CURE "])
def test_articles(name):
    assert fold_artist(name) == "cure"


def test_the_inside_a_name_stays():
    assert fold_artist("Florence + the Machine") == "florence and the machine"
    assert fold_artist("Theory of a Deadman") == "theory of a deadman"


def test_script_of():
    assert script_of("Björk") == "latin"
    assert script_of("Мумий Тролль") == "cyrillic"
    assert script_of("ビヨンセ") == "katakana"
    assert script_of("坂本龍一") == "cjk"
    assert script_of("123") == "none"


@pytest.mark.parametrize("title, base, version, relation", [
    ("Bohemian Rhapsody - Remastered 2011", "Bohemian Rhapsody", "remaster", SAME),
    ("Bohemian Rhapsody (2011 Remaster)", "Bohemian Rhapsody", "remaster", SAME),
    ("Song (1999)", "Song", "year", SAME),
    ("Song - Album Version", "Song", "album_version", SAME),
    ("Song - Radio Edit", "Song", "edit", SOFT),
    ("Song (Live at Wembley)", "Song", "live", DIFFERENT),
    ("Song - Live", "Song", "live", DIFFERENT),
    ("Song [Live]", "Song", "live", DIFFERENT),
    ("Song (DJ Koze Remix)", "Song", "remix", DIFFERENT),
    ("Song - Acoustic", "Song", "acoustic", DIFFERENT),
    ("All Too Well (Taylor's Version)", "All Too Well", "rerecorded", DIFFERENT),
    ("Song (Live) - Remastered 2009", "Song", "live", DIFFERENT),  # the strongest version wins
    ("Song", "Song", None, SAME),
    # from the real pingw33n and sachawheeler exports: other recordings however they are written
    ("Hide And Seek-Club Mix", "Hide And Seek", "remix", DIFFERENT),  # glued on with a bare hyphen
    ("Re-Mix Me", "Re-Mix Me", None, SAME),  # a one-word stem keeps its hyphen
    ("Fade To Grey (Original 12' Long Version)", "Fade To Grey", "extended", DIFFERENT),
    ("Busenfreund (Baby Mammoth Version 3)", "Busenfreund", "alternate", DIFFERENT),
    ("In Odense (Alternate)", "In Odense", "alternate", DIFFERENT),
    ("Two Dots (Prins Thomas Sneaky Edit)", "Two Dots", "named_version", DIFFERENT),
    ("Water Pressure Dub (Xoki Heavy Metal Version)", "Water Pressure Dub", "named_version", DIFFERENT),
    ("Song (Original Radio edit)", "Song", "edit", SOFT),  # the artist's own cuts stay soft or same
    ("Law of Life (Main Version)", "Law of Life", "album_version", SAME),
    ("Barcelona (Holden Bass Tool)", "Barcelona", "remix", DIFFERENT),
    ("Snowflake Dancer (animalZOO back to the future flip)", "Snowflake Dancer", "remix", DIFFERENT),
    ("Terminally Chill - Class Actress Cover", "Terminally Chill", "cover", DIFFERENT),
    ("Sun (Jazzy Gentle solareMix)", "Sun", "remix", DIFFERENT),
    ("Wait For Now (feat. Tawi", "Wait For Now", None, SAME),  # a credit cut off
    ("days_to_come_(feat_bajka)", "days to come", None, SAME),  # a file name
])
def test_versions(title, base, version, relation):
    parsed = parse_title(title)
    assert (parsed.base, parsed.version, parsed.relation) == (base, version, relation)


def test_parentheses_that_belong_to_the_title_stay():
    assert parse_title("(I Can't Get No) Satisfaction").base == "(I Can't Get No) Satisfaction"
    assert parse_title("Shine On You Crazy Diamond (Parts I-V)").base == "Shine On You Crazy Diamond (Parts I-V)"
    assert parse_title("Blue Monday - 1988").version == "year"


def test_featured_and_label_tags_in_titles():
    t = parse_title("Drunk in Love (feat. JAY-Z) [Parkwood]")
    assert (t.base, t.featured, t.label_tag, t.version) == ("Drunk in Love", ("JAY-Z",), "Parkwood", None)
    t = parse_title("Stay feat. Justin Bieber")
    assert (t.base, t.featured) == ("Stay", ("Justin Bieber",))
    assert parse_title("Strobe [mau5trap]").key == parse_title("Strobe").key
    assert parse_title("Song (Live)").key != parse_title("Song").key


def test_same_recording():
    song, remaster = parse_title("Song"), parse_title("Song - 2011 Remaster")
    live, live_other = parse_title("Song (Live)"), parse_title("Song - Live at Budokan")
    edit = parse_title("Song - Radio Edit")
    assert same_recording(song, remaster) is True
    assert same_recording(song, live) is False
    assert same_recording(live, live_other) is True  # one says only "live": cannot tell them apart
    assert same_recording(parse_title("Song (A Remix)"), parse_title("Song (B Remix)")) is False
    assert same_recording(song, edit, 240, 236) is True
    assert same_recording(song, edit, 300, 210) is False


def test_featuring_always_splits():
    c = parse_credit("Beyoncé feat. JAY-Z")
    assert (c.primary, c.featured, c.key) == (("Beyoncé",), ("JAY-Z",), "beyonce")
    c = parse_credit("Mark Ronson ft. Bruno Mars & Someone Else")
    assert c.featured == ("Bruno Mars", "Someone Else")


def test_ampersand_splits_only_between_known_artists():
    known = artist_keys(["JAY-Z", "Kanye West", "Calvin Harris", "Dua Lipa"])
    assert parse_credit("JAY-Z & Kanye West", known=known).primary == ("JAY-Z", "Kanye West")
    assert parse_credit("Calvin Harris x Dua Lipa", known=known).primary == ("Calvin Harris", "Dua Lipa")
    assert parse_credit("Dmitri & Frida", known=known).primary == ("Dmitri & Frida",)  # a duo we do not know
    assert parse_credit("Simon & Garfunkel", known=artist_keys(["Simon", "Garfunkel"])).primary == ("Simon & Garfunkel",)
    assert parse_credit("AC/DC", known=artist_keys(["AC", "DC"])).primary == ("AC/DC",)
    assert parse_credit("Earth, Wind & Fire").primary == ("Earth, Wind & Fire",)


def test_belong_together_rules_are_extensible():
    rules = CreditRules.with_names(["Dmitri & Frida"])
    assert parse_credit("Dmitri & Frida", rules, known=artist_keys(["Dmitri", "Frida"])).primary == ("Dmitri & Frida",)
    assert parse_credit("Dmitri & Frida", known=artist_keys(["Dmitri", "Frida"])).primary == ("Dmitri", "Frida")
    assert parse_credit("X feat. Crosby, Stills, Nash & Young").featured == ("Crosby, Stills, Nash & Young",)


@pytest.mark.parametrize("text, kind", [
    ("Live in Tokyo", "live"), ("In Concert", "live"), ("Unplugged", "live"),
    ("Notuv Remix", "remix"), ("Rmx", "remix"), ("Teddy G. Dub", "remix"), ("VIP", "remix"), ("Bootleg", "remix"),
    ("animalZOO flip", "remix"), ("Bass Tool", "remix"), ("Refix", "remix"), ("Reshape", "remix"), ("Rerub", "remix"),
    ("Reversion", "remix"), ("the reflex revision", "remix"), ("Rework", "remix"), ("Muttermix", "remix"), ("Lackluster Wavplayermx", "remix"),
    ("Feedbackapella", "instrumental"), ("A Cappella", "instrumental"), ("variation", "alternate"),
    ("Revised", "revisited"), ("ukr", "language"), ("Daytrotter Session", "session"), ("BBC Radio One", "session"),
    ("Class Actress Cover", "cover"), ("Acoustic", "acoustic"), ("Demo", "demo"), ("Karaoke", "instrumental"),
    ("Re-recorded", "rerecorded"), ("Taylor's Version", "rerecorded"), ("Extended", "extended"), ("ext", "extended"),
    ("12 Inch Version", "extended"), ("Long Version", "extended"), ("Reprise", "reprise"), ("Outtake", "outtake"),
    ("Alt Take", "outtake"), ("Interlude", "interlude"), ("Intro", "interlude"), ("Prologue", "interlude"), ("Alternative", "alternate"), ("Early Version", "alternate"),
    ("Version 2", "alternate"), ("Revisited", "revisited"), ("Reimagined", "revisited"), ("Backwards", "revisited"),
    ("Spanish Version", "language"), ("Dogg Edit", "named_version"), ("Radio Edit", "edit"), ("Edit", "edit"),
    ("2011 Remaster", "remaster"), ("Digitally Remastered", "remaster"), ("Album Version", "album_version"),
    ("Mono", "album_version"), ("Stereo", "album_version"), ("Explicit", "explicit"), ("Clean", "explicit"),
    ("1999", "year"), ("Original Broadway Cast Recording", "cast"), ("Clean Edit", "explicit"),
])
def test_every_version_kind_is_read(text, kind):
    """One text per kind: also proves the one-search gate in version_kind lets every kind through."""
    from timbral_assets.resolution.versions import VERSION_KINDS, version_kind

    assert kind in {k for k, _, _ in VERSION_KINDS}
    assert version_kind(text)[0] == kind


def test_every_version_kind_has_an_example():
    from timbral_assets.resolution.versions import VERSION_KINDS

    examples = {kind for _, kind in test_every_version_kind_is_read.pytestmark[0].args[1]}
    assert {k for k, _, _ in VERSION_KINDS} <= examples
