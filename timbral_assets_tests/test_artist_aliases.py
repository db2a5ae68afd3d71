"""The forms a written artist name may stand for (pure functions; the resolver's use is in test_resolve_names)."""

from __future__ import annotations

from timbral_assets.resolution.artist_aliases import alias_forms, legacy_decodings, reading_key, repair


def test_repair_undoes_url_escapes_and_utf8_mojibake_only():
    assert repair("The%20Alarm") == "The Alarm"
    assert repair("Bj%C3%B6rk") == "Björk"
    assert repair("Nattvindens GrÃ¥t") == "Nattvindens Gråt"
    assert repair("100% Pure Love") == "100% Pure Love"  # not an escape
    assert repair("Beyoncé") == "Beyoncé" and repair("Mötley Crüe") == "Mötley Crüe"
    assert repair("jai%20uttal%20-") == "jai uttal"


def test_legacy_decodings_keep_only_east_asian_letters():
    assert "女子十二乐坊" in legacy_decodings("Å®×ÓÊ®¶þÀÖ·»")  # GBK read as Latin-1
    assert legacy_decodings("Café Tacuba") == [] and legacy_decodings("Björk") == []


def _forms(name):
    return [(form, kind) for form, kind, _ in alias_forms(name)]


def test_alias_forms_by_kind_and_partner_rules():
    assert ("Eminem", "credit") in _forms("Eminem feat. Dr. Dre")
    assert ("John Smith", "last_first") in _forms("Smith, John")
    assert ("Bob Dylan", "last_first") in _forms("Dylan, Bob & Joan Baez")  # a form of a form keeps its kind
    assert ("Band Of Horses", "bracket") in _forms("Band Of Horses (US)")
    assert ("Band Of Horses", "track_number") in _forms("08- Band Of Horses")
    assert ("Band Of Horses", "artist_title") in _forms("Band Of Horses - The Funeral")
    assert ("Count Basie", "ensemble") in _forms("Count Basie & His Orchestra")
    assert ("Merseys", "credit") not in _forms("Merseys, The")  # library order is not a credit
    # a one-word "A & B" names A only if B is an artist too; a backing band needs nothing
    assert [p for f, k, p in alias_forms("Angels & Agony") if f == "Angels"] == ["Agony"]
    assert [p for f, k, p in alias_forms("Prince & The Revolution") if f == "Prince"] == [""]
    # the title-first order only from a long left side
    assert ("William Shatner", "artist_title") in _forms("Lucy in the Sky with Diamonds - William Shatner")
    assert ("Girl", "artist_title") not in _forms("Ilhan Ersahin - Girl")
    assert _forms("22-20s") == [] or all(f != "20s" for f, _ in _forms("22-20s"))


def test_reading_key_meets_across_scripts_orders_and_romanisations():
    assert reading_key("相川七瀬") == reading_key("Aikawa Nanase") == reading_key("Nanase Aikawa")
    assert reading_key("Ohkawa") == reading_key("Ookawa") == reading_key("Okawa")
    assert reading_key("吉田達也") == reading_key("Tatsuya Yoshida")
    assert reading_key("ABC") == ""  # too short to mean anything
    assert reading_key("Blink-182") != reading_key("Blink-183")
