"""Deterministic names for the synthetic world, plus the transliterations used by its messy variants.

Names are built from romaji syllables so that a Katakana rendering exists for every generated word;
that gives the world real other-script variants ("カスミ" for "Kasumi") without a dictionary.
"""

from __future__ import annotations

import numpy as np

GENRES: list[str] = [
    "rock", "indie rock", "alternative", "punk", "post-punk", "metal", "black metal", "doom metal",
    "pop", "synthpop", "k-pop", "j-pop", "hip hop", "trap", "r&b", "soul", "funk", "disco",
    "house", "techno", "trance", "drum and bass", "dubstep", "ambient", "idm", "jazz", "bebop",
    "blues", "country", "folk", "bluegrass", "reggae", "latin", "bossa nova", "classical",
    "soundtrack", "shoegaze", "dream pop", "emo", "grunge",
]

# Extra tag words per genre family; the first word of the genre picks the family.
GENRE_MOOD_TAGS: dict[str, list[str]] = {
    "rock": ["guitar", "energetic", "classic", "anthemic"],
    "indie": ["lo-fi", "melancholic", "jangly"],
    "alternative": ["90s", "moody", "guitar"],
    "punk": ["fast", "angry", "diy"],
    "post-punk": ["dark", "angular", "80s"],
    "metal": ["heavy", "aggressive", "riffs"],
    "black": ["atmospheric", "raw", "cold"],
    "doom": ["slow", "heavy", "sludge"],
    "pop": ["catchy", "upbeat", "radio"],
    "synthpop": ["80s", "synth", "danceable"],
    "k-pop": ["korean", "idol", "upbeat"],
    "j-pop": ["japanese", "anime", "upbeat"],
    "hip": ["rap", "beats", "urban"],
    "trap": ["808", "dark", "rap"],
    "r&b": ["smooth", "sensual", "groove"],
    "soul": ["vocal", "warm", "classic"],
    "funk": ["groove", "bass", "danceable"],
    "disco": ["dance", "70s", "party"],
    "house": ["dance", "club", "deep"],
    "techno": ["club", "dark", "minimal"],
    "trance": ["euphoric", "uplifting", "club"],
    "drum": ["fast", "breakbeat", "bass"],
    "dubstep": ["wobble", "bass", "heavy"],
    "ambient": ["calm", "chill", "atmospheric"],
    "idm": ["glitch", "experimental", "electronic"],
    "jazz": ["smooth", "instrumental", "saxophone"],
    "bebop": ["swing", "instrumental", "fast"],
    "blues": ["guitar", "sad", "soulful"],
    "country": ["americana", "storytelling", "twang"],
    "folk": ["acoustic", "singer-songwriter", "mellow"],
    "bluegrass": ["banjo", "acoustic", "fast"],
    "reggae": ["chill", "roots", "summer"],
    "latin": ["dance", "summer", "spanish"],
    "bossa": ["brazilian", "chill", "mellow"],
    "classical": ["orchestral", "piano", "calm"],
    "soundtrack": ["cinematic", "orchestral", "epic"],
    "shoegaze": ["dreamy", "noise", "wall of sound"],
    "dream": ["dreamy", "ethereal", "mellow"],
    "emo": ["sad", "emotional", "guitar"],
    "grunge": ["90s", "distorted", "angst"],
}

# (energy, valence) centres per genre family, 0..1: the latent mood the audio features derive from.
GENRE_MOOD_CENTRE: dict[str, tuple[float, float]] = {
    "rock": (0.75, 0.5), "indie": (0.6, 0.45), "alternative": (0.65, 0.4), "punk": (0.9, 0.55),
    "post-punk": (0.7, 0.3), "metal": (0.92, 0.3), "black": (0.95, 0.15), "doom": (0.7, 0.15),
    "pop": (0.7, 0.72), "synthpop": (0.7, 0.62), "k-pop": (0.8, 0.75), "j-pop": (0.78, 0.7),
    "hip": (0.68, 0.5), "trap": (0.7, 0.35), "r&b": (0.55, 0.55), "soul": (0.5, 0.62),
    "funk": (0.72, 0.8), "disco": (0.8, 0.85), "house": (0.82, 0.65), "techno": (0.88, 0.35),
    "trance": (0.85, 0.55), "drum": (0.93, 0.45), "dubstep": (0.9, 0.35), "ambient": (0.15, 0.35),
    "idm": (0.5, 0.35), "jazz": (0.35, 0.55), "bebop": (0.55, 0.6), "blues": (0.45, 0.35),
    "country": (0.55, 0.65), "folk": (0.3, 0.45), "bluegrass": (0.6, 0.7), "reggae": (0.55, 0.75),
    "latin": (0.78, 0.82), "bossa": (0.35, 0.65), "classical": (0.2, 0.4), "soundtrack": (0.4, 0.3),
    "shoegaze": (0.6, 0.3), "dream": (0.4, 0.45), "emo": (0.72, 0.2), "grunge": (0.8, 0.3),
}


def genre_family(genre: str) -> str:
    return genre.split(" ")[0].split("-")[0] if genre not in GENRE_MOOD_TAGS else genre


SYLLABLES = [
    "ka", "ki", "ku", "ke", "ko", "sa", "shi", "su", "se", "so", "ta", "chi", "tsu", "te", "to",
    "na", "ni", "nu", "ne", "no", "ha", "hi", "fu", "he", "ho", "ma", "mi", "mu", "me", "mo",
    "ya", "yu", "yo", "ra", "ri", "ru", "re", "ro", "wa", "ga", "gi", "gu", "ge", "go",
    "za", "ji", "zu", "ze", "zo", "da", "de", "do", "ba", "bi", "bu", "be", "bo",
    "pa", "pi", "pu", "pe", "po", "a", "i", "u", "e", "o", "n",
]

KATAKANA = {
    "ka": "カ", "ki": "キ", "ku": "ク", "ke": "ケ", "ko": "コ", "sa": "サ", "shi": "シ", "su": "ス",
    "se": "セ", "so": "ソ", "ta": "タ", "chi": "チ", "tsu": "ツ", "te": "テ", "to": "ト", "na": "ナ",
    "ni": "ニ", "nu": "ヌ", "ne": "ネ", "no": "ノ", "ha": "ハ", "hi": "ヒ", "fu": "フ", "he": "ヘ",
    "ho": "ホ", "ma": "マ", "mi": "ミ", "mu": "ム", "me": "メ", "mo": "モ", "ya": "ヤ", "yu": "ユ",
    "yo": "ヨ", "ra": "ラ", "ri": "リ", "ru": "ル", "re": "レ", "ro": "ロ", "wa": "ワ", "ga": "ガ",
    "gi": "ギ", "gu": "グ", "ge": "ゲ", "go": "ゴ", "za": "ザ", "ji": "ジ", "zu": "ズ", "ze": "ゼ",
    "zo": "ゾ", "da": "ダ", "de": "デ", "do": "ド", "ba": "バ", "bi": "ビ", "bu": "ブ", "be": "ベ",
    "bo": "ボ", "pa": "パ", "pi": "ピ", "pu": "プ", "pe": "ペ", "po": "ポ", "a": "ア", "i": "イ",
    "u": "ウ", "e": "エ", "o": "オ", "n": "ン",
}

CYRILLIC = {
    "shch": "щ", "sh": "ш", "ch": "ч", "ts": "ц", "ya": "я", "yu": "ю", "yo": "ё", "zh": "ж", "kh": "х",
    "a": "а", "b": "б", "v": "в", "g": "г", "d": "д", "e": "е", "z": "з", "i": "и", "y": "й",
    "k": "к", "l": "л", "m": "м", "n": "н", "o": "о", "p": "п", "r": "р", "s": "с", "t": "т",
    "u": "у", "f": "ф", "h": "х", "c": "к", "w": "в", "x": "кс", "q": "к", "j": "дж",
}
_CYRILLIC_KEYS = sorted(CYRILLIC, key=len, reverse=True)

WORDS = [
    "love", "night", "heart", "fire", "rain", "summer", "ghost", "river", "light", "dream", "shadow",
    "city", "dance", "gold", "silver", "storm", "ocean", "midnight", "stars", "echo", "wild", "blue",
    "electric", "paper", "glass", "broken", "golden", "neon", "velvet", "crimson", "hollow", "silent",
    "burning", "falling", "running", "lonely", "sweet", "cold", "distant", "secret", "young", "lost",
    "moon", "sun", "road", "home", "kingdom", "garden", "mirror", "machine", "engine", "wolves",
    "tiger", "owls", "satellite", "harbor", "violet", "thunder", "winter", "autumn", "spring", "honey",
    "diamond", "cherry", "paradise", "highway", "wonder", "signal", "static", "fever", "horizon",
]
TITLE_TEMPLATES = [
    "{A} {N}", "{N}", "The {A} {N}", "{N} of {N2}", "{V} {N}", "Don't {V2} Me", "I'm {A}",
    "{A} {N} {N2}", "Can't Stop {V}", "{N} in the {N2}", "My {A} {N}", "{N} & {N2}", "Let's {V2}",
]
VERBS = ["Running", "Falling", "Dreaming", "Burning", "Dancing", "Waiting", "Chasing", "Breaking", "Holding"]
VERBS_BARE = ["Leave", "Stop", "Forget", "Call", "Hold", "Save", "Break", "Wake", "Follow", "Dance"]
PERSON_FIRST = [
    "Marisol", "Kasumi", "Jonas", "Élodie", "Björn", "Zoë", "Renée", "Tomás", "Anaïs", "Søren", "Malik",
    "Priya", "Dmitri", "Léa", "Ines", "Noah", "Ada", "Otis", "Frida", "José", "Chloé", "Mateo", "Yuna",
]
PERSON_LAST = [
    "Ortega", "Lindqvist", "Moreau", "Nakamura", "Okafor", "Brandt", "Castillo", "Dubois", "Kovač",
    "Müller", "Sørensen", "Reyes", "Haddad", "Kim", "Novak", "Ferreira", "Walsh", "Lopez", "Jäger",
]
LABEL_WORDS = ["Records", "Recordings", "Music", "Sound", "Audio", "Tapes", "Editions", "Label"]
VENUES = ["Wembley", "Budokan", "Red Rocks", "Glastonbury", "the BBC", "Paradiso", "the Fillmore", "KEXP"]


def romaji_word(rng: np.random.Generator, n_syllables: int) -> list[str]:
    syl = [SYLLABLES[i] for i in rng.integers(0, len(SYLLABLES) - 6, size=n_syllables)]
    return syl


def to_katakana(syllables: list[str]) -> str:
    return "".join(KATAKANA[s] for s in syllables)


def to_cyrillic(text: str) -> str:
    """Letter-by-letter transliteration of Latin text into Cyrillic, longest digraph first."""
    out: list[str] = []
    i = 0
    lower = text.lower()
    while i < len(lower):
        for key in _CYRILLIC_KEYS:
            if lower.startswith(key, i):
                piece = CYRILLIC[key]
                out.append(piece.upper() if text[i].isupper() else piece)
                i += len(key)
                break
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def pick(rng: np.random.Generator, items: list[str]) -> str:
    return items[int(rng.integers(0, len(items)))]


def artist_name(rng: np.random.Generator) -> tuple[str, list[str] | None]:
    """A display name and, for romaji names, its syllables (so a Katakana form exists)."""
    style = rng.random()
    if style < 0.22:
        return f"{pick(rng, PERSON_FIRST)} {pick(rng, PERSON_LAST)}", None
    if style < 0.45:
        return f"The {pick(rng, WORDS).title()} {pick(rng, WORDS).title()}", None
    if style < 0.55:
        return f"{pick(rng, WORDS).title()} {pick(rng, WORDS).title()}", None
    if style < 0.75:
        syl = romaji_word(rng, int(rng.integers(2, 5)))
        return "".join(syl).title(), syl
    if style < 0.82:
        return f"{pick(rng, PERSON_FIRST)} & {pick(rng, PERSON_FIRST)}", None
    if style < 0.88:
        return f"DJ {''.join(romaji_word(rng, 2)).title()}", None
    if style < 0.94:
        return f"{pick(rng, WORDS).title()}{pick(rng, ['', 's', 'z'])}", None
    return f"{pick(rng, WORDS).upper()}/{pick(rng, WORDS).upper()}", None


def track_title(rng: np.random.Generator) -> str:
    template = pick(rng, TITLE_TEMPLATES)
    return template.format(
        A=pick(rng, WORDS).title(), N=pick(rng, WORDS).title(), N2=pick(rng, WORDS).title(),
        V=pick(rng, VERBS), V2=pick(rng, VERBS_BARE),
    )


def album_title(rng: np.random.Generator) -> str:
    style = rng.random()
    if style < 0.5:
        return f"{pick(rng, WORDS).title()} {pick(rng, WORDS).title()}"
    if style < 0.8:
        return pick(rng, WORDS).title()
    return f"The {pick(rng, WORDS).title()} Sessions"


def label_name(rng: np.random.Generator) -> str:
    return f"{pick(rng, WORDS).title()} {pick(rng, LABEL_WORDS)}"
