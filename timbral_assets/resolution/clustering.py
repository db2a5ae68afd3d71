"""From scored pairs to entities.

Plain connected components over the pairs above a threshold chain unrelated records together through
one bad link: A~B and B~C put A with C even when A-C was scored and clearly is not a match. The
constrained clustering here takes edges strongest first and refuses a merge when
  - any pair across the two clusters was scored below `cannot_link_below` (explicit negative evidence),
  - the mean scored probability across the two clusters is below `min_average`,
  - the merge would put two records of one `group` in one cluster (two different recordings in one
    release, two records of one duplicate-free source), or two different version kinds,
  - the two clusters hold records whose recording markers conflict (markers.py: another part, movement,
    take, section of a work, remixer, or a reprise),
  - the two clusters hold two titles of one album (`listed_once`): an album lists each track once, so
    "Parabol" and "Parabola" both on Lateralus are two tracks (`one_listing`),
  - the two clusters hold two records that must stay `apart` (one listener played both within one
    listening of an album: assignment.album_session_pairs),
  - the two clusters hold two titles one word apart, where that word is another word and not the same one
    mistyped (`one_word_apart`: "East Side Wall" / "West Side Wall", "Night Intro" / "Night Outro", "Shame
    of the Nation" / "State of the Nation").
The result depends only on the edges, not on their input order (ties broken by id).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType

from rapidfuzz import fuzz
from rapidfuzz.distance import OSA

from .markers import conflicting_sets, number_word, parse_markers
from .text import script_of
from .versions import tail_names_another_recording

TYPO_ALIKE = 85  # rapidfuzz ratio from which two words of one album's titles are one word mistyped ("aeon" / "kaon" 75)


@dataclass(frozen=True)
class ClusterConfig:
    threshold: float = 0.9
    cannot_link_below: float = 0.05
    min_average: float = 0.5
    versions_must_agree: bool = True  # live / remix / acoustic ... never join the original recording
    # listening (the catalog, one listener's export): words that one title adds after another name another
    # recording unless they are a same-recording tail (versions.tail_names_another_recording). Not for
    # catalogs merged from many databases (MusicBrainz-20K), whose sources append albums and notes at will
    tails_name_recordings: bool = False
    # listening too: an edit (radio, single, "(Edit)") is another recording than the original, as MusicBrainz
    # keeps it. Merged catalogs append such tags loosely (MusicBrainz-20K pair F1 fell to 0.9499 with it)
    edits_are_recordings: bool = False


def connected_components(ids: Iterable[str], edges: Iterable[tuple[str, str, float]], threshold: float) -> dict[str, str]:
    """Baseline: record -> cluster id (the smallest member id), linking every edge at or above threshold."""
    parent = {i: i for i in ids}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b, p in edges:
        if p >= threshold:
            ra, rb = find(a), find(b)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
    return {i: find(i) for i in parent}


def constrained_clusters(ids: Iterable[str], edges: Iterable[tuple[str, str, float]], config: ClusterConfig = ClusterConfig(),
                         exclusive_group: Mapping[str, object] | None = None,
                         version: Mapping[str, str] | None = None,
                         anchors: Mapping[str, str] | None = None,
                         markers: Mapping[str, str] | None = None,
                         listed_once: Mapping[str, tuple[str, str]] | None = None,
                         titles: Mapping[str, str] | None = None,
                         recordings: Mapping[str, str] | None = None,
                         keyed: Collection[tuple[str, str]] = (),
                         apart: Iterable[tuple[str, str]] = ()) -> dict[str, str]:
    """record -> cluster id (the smallest member id). `exclusive_group[record]` marks records that can
    never share a cluster with another of the same value; `version[record]` must agree within a cluster.
    `anchors[record]` is the existing entity a record already belongs to: records of one anchor start
    together, and two different anchors are never merged (existing ids stay stable). `markers[record]` are
    its recording markers as `markers.format_markers` writes them: every two records of a cluster must have
    compatible ones. `listed_once[record]` is (album, title key): two records of one album join only when
    their titles are one listing (`one_listing`). `titles[record]` is its title key: no cluster may hold two
    that are `one_word_apart`. `recordings[record]` is the MusicBrainz recording its plays carry: two clusters
    that each carry recordings, none of them shared, join only along a `keyed` edge (a, b), a < b: one folded
    artist and title, which MusicBrainz often holds twice (a single's and an album's recording). Each pair of
    `apart` is two records that no cluster may hold together, whatever links them."""
    ids = list(ids)
    members: dict[str, list[str]] = {}
    root: dict[str, str] = {}
    by_anchor: dict[str, list[str]] = defaultdict(list)
    for i in ids:
        if anchors and anchors.get(i) is not None:
            by_anchor[anchors[i]].append(i)
        else:
            members[i], root[i] = [i], i
    anchor_of: dict[str, set] = {i: set() for i in members}
    for anchor, group in by_anchor.items():
        first = min(group)
        members[first] = sorted(group)
        anchor_of[first] = {anchor}
        for i in group:
            root[i] = first
    scored: dict[tuple[str, str], float] = {}
    strong = []
    for a, b, p in edges:
        key = (a, b) if a < b else (b, a)
        scored[key] = max(p, scored.get(key, 0.0))
    for (a, b), p in scored.items():
        if p >= config.threshold:
            strong.append((-p, a, b))
    strong.sort()
    groups: dict[str, set] = {i: ({exclusive_group[i]} if exclusive_group and exclusive_group.get(i) is not None else set())
                              for i in members}
    def version_of(i: str) -> str | None:
        kind = version.get(i) if version else None
        return "original" if kind == "edit" and not config.edits_are_recordings else kind

    versions: dict[str, set] = {i: {kind} if (kind := version_of(i)) else set() for i in members}
    recording_ids: dict[str, set] = {i: set() for i in members}
    keyed_pairs = {(a, b) if a < b else (b, a) for a, b in keyed}
    # cluster -> the records that none of its records may join
    kept_from: dict[str, set] = defaultdict(set)
    for a, b in apart:
        if a in root and b in root:
            kept_from[root[a]].add(b)
            kept_from[root[b]].add(a)
    # cluster -> marker kind -> the values its records carry; records with the same markers share one object
    marks: dict[str, Mapping[str, frozenset]] = {}
    # cluster -> album -> the title keys its records carry there
    listings: dict[str, dict[str, set]] = defaultdict(dict)
    # cluster -> its records' distinct title keys
    keys: dict[str, set] = defaultdict(set)
    known: frozenset | None = None  # the input's vocabulary, read when a pair first needs it (seldom)

    def one_word_between(x: str, y: str) -> bool:
        nonlocal known
        if known is None and not isinstance(word_change(x, y), bool):
            known = known_words(titles.values())
        return one_word_apart(x, y, known or frozenset())
    for first, group in members.items():
        if markers and len(group) == 1:
            marks[first] = marker_sets(markers.get(first) or "")
        elif markers:  # an anchor's records mostly share one marker text: union each distinct text once
            texts = iter(sorted({markers.get(i) or "" for i in group}))
            marks[first] = marker_sets(next(texts))
            for text in texts:
                marks[first] = _union(marks[first], marker_sets(text))
        for i in group:
            if titles and titles.get(i):
                keys[first].add(titles[i])
            if listed_once and listed_once.get(i):
                album, title = listed_once[i]
                listings[first].setdefault(album, set()).add(title)
            if exclusive_group and exclusive_group.get(i) is not None:
                groups[first].add(exclusive_group[i])
            if kind := version_of(i):
                versions[first].add(kind)
            if recordings and recordings.get(i):
                recording_ids[first].add(recordings[i])

    for _, a, b in strong:
        ra, rb = root[a], root[b]
        if ra == rb:
            continue
        if groups[ra] & groups[rb] or (anchor_of[ra] and anchor_of[rb] and anchor_of[ra] != anchor_of[rb]):
            continue
        if config.versions_must_agree and len(versions[ra] | versions[rb]) > 1:
            continue
        if (recording_ids[ra] and recording_ids[rb] and recording_ids[ra].isdisjoint(recording_ids[rb])
                and (a, b) not in keyed_pairs):
            continue
        if markers and marks[ra] is not marks[rb] and conflicting_sets(marks[ra], marks[rb]):
            continue
        if listed_once and _two_listings(listings[ra], listings[rb]):
            continue
        if kept_from and any(x in kept_from[ra] for x in members[rb]):  # both sides hold each pair
            continue
        if titles and any(one_word_between(x, y) or (config.tails_name_recordings and (
                tail_names_another_recording(x, y) or tail_names_another_recording(y, x)))
                          for x in keys[ra] for y in keys[rb] if x != y):
            continue
        small, large = (ra, rb) if len(members[ra]) <= len(members[rb]) else (rb, ra)
        total, count, vetoed = 0.0, 0, False
        for x in members[small]:
            for y in members[large]:
                p = scored.get((x, y) if x < y else (y, x))
                if p is None:
                    continue
                if p < config.cannot_link_below:
                    vetoed = True
                    break
                total += p
                count += 1
            if vetoed:
                break
        if vetoed or (count and total / count < config.min_average):
            continue
        new_root = min(ra, rb)
        old_root = rb if new_root == ra else ra
        for x in members[old_root]:
            root[x] = new_root
        members[new_root].extend(members.pop(old_root))
        groups[new_root] |= groups.pop(old_root)
        versions[new_root] |= versions.pop(old_root)
        recording_ids[new_root] |= recording_ids.pop(old_root)
        if markers:
            old_marks = marks.pop(old_root)
            if old_marks is not marks[new_root]:
                marks[new_root] = _union(marks[new_root], old_marks)
        anchor_of[new_root] |= anchor_of.pop(old_root)
        if listed_once:
            for album, listed in listings.pop(old_root, {}).items():
                listings[new_root].setdefault(album, set()).update(listed)
        if titles:
            keys[new_root] |= keys.pop(old_root, set())
        if old_root in kept_from:
            kept_from[new_root] |= kept_from.pop(old_root)
    return dict(root)


def one_listing(a: str, b: str) -> bool:
    """Whether two title keys found on one album can be one track: the same but for spaces ("TheForest"), one
    cut off from the other ("Phones Machines and King Kon"), one written in another script ("Angel i zmeja" /
    "Ангел и змея"), or the same words in the same order give or take a typo in each ("Price On You Head").
    Another word, a word more or another order is another track of the album: "The Bell Tune" / "The Tone
    Tune", "Night Intro" / "Night Outro", "Outer Happy / Inner Sad" / "Outer Sad / Inner Happy". A typo that
    makes another word ("Parabol" / "Parabola") still passes."""
    if a == b or a.replace(" ", "") == b.replace(" ", ""):
        return True
    short, long = sorted((a, b), key=len)
    if len(short) >= 8 and long.startswith(short) and long[len(short)] != " ":  # cut inside a word
        return True
    scripts = {script_of(a), script_of(b)}
    if len(scripts) == 2 and "none" not in scripts:
        return True
    words_a, words_b = a.split(), b.split()
    return len(words_a) == len(words_b) and all(fuzz.ratio(x, y) >= TYPO_ALIKE for x, y in zip(words_a, words_b, strict=True))


_ONE_WORD = frozenset({"and", "n", "&", "+", "y", "et", "und", "e", "vs", "versus", "v", "x"})  # "Rock n Roll" = "Rock and Roll"


# a word of this many distinct titles of the input is a word, not a typo's (2 or 5 score MusicBrainz-20K alike)
KNOWN_WORD_TITLES = 3
TYPO_FORM_RATIO = 5


def known_words(title_keys: Iterable[str]) -> frozenset:
    """The words (of three letters or more) of at least KNOWN_WORD_TITLES distinct titles: the input's own
    vocabulary, where a typo's word ("saltwatr", "bordem") seldom is. A common typo recurs in a large input
    ("runing"), so a word one edit from a word of TYPO_FORM_RATIO times as many titles is left out."""
    counts: Counter = Counter()
    for key in set(title_keys):
        counts.update(set(key.split()))
    frequent = {w: n for w, n in counts.items() if n >= KNOWN_WORD_TITLES and len(w) > 2}
    by_deletion: dict[str, list[str]] = defaultdict(list)  # words one edit apart share a key
    for w in counts:
        for key in _one_deletion(w):
            by_deletion[key].append(w)
    return frozenset(w for w, n in frequent.items()
                     if not any(counts[o] >= TYPO_FORM_RATIO * n for key in _one_deletion(w) for o in by_deletion[key]))


def _one_deletion(word: str) -> set[str]:
    """The word and every string one letter shorter: two words one edit apart share one of these."""
    return {word} | {word[:i] + word[i + 1:] for i in range(len(word))}


def one_word_apart(a: str, b: str, known: frozenset = frozenset()) -> bool:
    """Whether two title keys are the same words but one, which is another word rather than the same one
    mistyped: another number ("essential two" / "essential three"), or a word that starts with another letter
    and is not alike ("east side wall" / "west side wall", "s bahn" / "u bahn", "aeon interlude" / "kaon
    interlude"): hands and ears seldom change a word's first letter, and one word is all that tells such
    titles apart, so every string measure scores them as one. Two edits apart also, when both words are
    `known` words of the input ("shame of the nation" / "state of the nation").
    Let through: a word that ends the other ("f" / "of", "o caminho" / "no caminho"), "2" and "two", "n" and
    "and", two letters swapped ("hweels" / "wheels"), a word written over its neighbour ("are are so"), and a
    digit word against a word (a title that is only a track number, "007", says nothing of the words it
    stands for; numbers are the recording markers' to judge). Two edits inside a word that is not a known
    word pass: MusicBrainz-20K's sources mistype words that way ("Questão de Bordem"), and its pair F1 fell
    from 0.9506 to 0.9493 when every word of up to 6 letters was held to one edit; with known words it stays."""
    change = word_change(a, b)
    return change if isinstance(change, bool) else change[0] in known and change[1] in known


@lru_cache(maxsize=1 << 16)
def word_change(a: str, b: str) -> bool | tuple[str, str]:
    """`one_word_apart` without the vocabulary: True or False, or the two words two edits apart, which are
    two titles when both are known words."""
    words_a, words_b = a.split(), b.split()
    if len(words_a) != len(words_b):
        return False
    changed = [n for n, (x, y) in enumerate(zip(words_a, words_b, strict=True)) if x != y]
    if len(changed) != 1:
        return False
    n = changed[0]
    x, y = words_a[n], words_b[n]
    if any(words[n] in words[max(0, n - 1):n] + words[n + 1:n + 2] for words in (words_a, words_b)):
        return False  # a word written twice over its neighbour ("are are so beautiful") is a slip
    number_x, number_y = number_word(x), number_word(y)
    if number_x is not None and number_y is not None:
        return number_x != number_y  # "essential two" / "essential three"
    if x.isdigit() or y.isdigit() or {x, y} <= _ONE_WORD or sorted(x) == sorted(y) or x.endswith(y) or y.endswith(x):
        return False
    if x[0] != y[0] and fuzz.ratio(x, y) < TYPO_ALIKE:
        return True
    return (x, y) if OSA.distance(x, y) > 1 else False


def _two_listings(a: Mapping[str, set], b: Mapping[str, set]) -> bool:
    for album in a.keys() & b.keys():
        if any(not one_listing(x, y) for x in a[album] for y in b[album] if x != y):
            return True
    return False


@lru_cache(maxsize=1 << 16)
def marker_sets(text: str) -> Mapping[str, frozenset]:
    """A record's markers as kind -> values, shared by every record written alike (read-only)."""
    return MappingProxyType({kind: frozenset([value]) for kind, value in parse_markers(text).items()})


def _union(a: Mapping[str, frozenset], b: Mapping[str, frozenset]) -> Mapping[str, frozenset]:
    return {kind: a.get(kind, frozenset()) | b.get(kind, frozenset()) for kind in a.keys() | b.keys()}


def clusters_of(assignment: Mapping[str, str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = defaultdict(list)
    for record, cluster in assignment.items():
        out[cluster].append(record)
    return out
