"""`timbral resolve-names`: many written names -> canonical entities, for artists or tracks.

Tracks go through the same pipeline as the catalog (standardise -> blocking + nearest neighbours ->
splink -> constrained clustering). Artists are names alone, so they are resolved by tiers of their own:
  1. repair and rules: URL escapes and mojibake undone, then the same folded name ("The Beatles",
     "beatles, the", "BEATLES", "Beatlés") or the same letters without spaces and punctuation ("AC/DC");
     the rules file's `not_an_artist` names get no entity and `replace_artist` spellings are replaced;
  2. fuzzy: typos ("Metalica"), linked only as true typos (`typo_score`), never across different digits,
     and clustered with constraints so one typo cannot chain two artists together; with an encoder,
     embedding neighbours too;
  3. alias forms and readings (`artist_aliases`): a credit's primary artist, "Last, First", "Band (UK)",
     "Band - Title", "X & His Orchestra", Japanese readings; linked only to an artist written on its own.
Listening (who plays which name) makes the most played spelling canonical and allows looser links
between names the same people play.
Each name gets the canonical id and name of its entity and a confidence: 1.0 for the canonical spelling
itself, the tier's confidence (rules 0.99, alias forms 0.8-0.9) or the similarity that linked it otherwise.
"""

from __future__ import annotations

import csv
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from rapidfuzz.distance import OSA, Indel, Levenshtein

from ..sources.delimited import DelimitedRows
from ..sources.errors import RowIssue
from .artist_aliases import FORM_CONFIDENCE, alias_forms, is_japanese, reading_key, repair
from .clustering import ClusterConfig, constrained_clusters
from .credits import parse_credit
from .embeddings import TextEncoder
from .matcher import MatcherConfig
from .pipeline import resolve
from .records import TrackRecord, album_keys, content_hash, standardise
from .rules_file import ResolutionRules, load_rules
from .text import fold, fold_artist
from .versions import DIFFERENT, parse_title

_DIGITS = re.compile(r"\d+")
_LIBRARY_ORDER = re.compile(r",\s*the$", re.I)  # "Beatles, The"
RULES_CONFIDENCE = 0.99
LINK = 0.85  # the score from which two keys are linked


@dataclass(frozen=True)
class ResolvedName:
    id: str
    name: str
    canonical_id: str
    canonical_name: str
    confidence: float
    tier: str  # canonical, rules, credit, fuzzy, semantic, probabilistic; unresolved for a row with a problem
    line: int = 0  # the input file's line, when read from one
    problem: str = ""  # why the row was not resolved

    @property
    def quality(self) -> str:
        """As the catalog grades a mapping: high, medium, low, or none for a row that names nothing."""
        if not self.canonical_name or self.tier in ("not_an_artist", "unresolved"):
            return "none"
        if self.confidence >= 0.95:
            return "high"
        return "medium" if self.confidence >= 0.8 else "low"


def display_choice(names: Sequence[str]) -> str:
    """The name to show for an entity: the most written spelling, preferring mixed case and accents."""
    counts = Counter(" ".join(n.split()) for n in names)
    return min(counts, key=lambda n: (n == n.lower() or n == n.upper(), -counts[n], bool(_LIBRARY_ORDER.search(n)),
                                      not any(ord(c) > 127 for c in n), -len(n), n))


def _compact(name: str) -> str:
    return fold_artist(name).replace(" ", "")


_SOUND_ALIKE = frozenset({frozenset("ck"), frozenset("cq"), frozenset("kq"), frozenset("sz"), frozenset("iy")})


def _slip_of_the_hand(a: str, b: str) -> bool:
    """One edit of the kinds hands and ears make: a doubled or undoubled letter ("Mellodrone"), a vowel
    dropped or added ("Radiohed", "Colours"), or a letter for one that sounds alike ("Replikants").
    Swaps of neighbours are checked by the caller."""
    ops = Levenshtein.editops(a, b)
    if len(ops) != 1:
        return False
    op = ops[0]
    if op.tag == "replace":
        return frozenset((a[op.src_pos], b[op.dest_pos])) in _SOUND_ALIKE
    longer, position = (a, op.src_pos) if op.tag == "delete" else (b, op.dest_pos)
    letter = longer[position]
    return letter in "aeiou" or (position > 0 and longer[position - 1] == letter) or (
        position + 1 < len(longer) and longer[position + 1] == letter)


def typo_score(a: str, b: str, min_length: int = 5, any_slip: bool = False) -> float:
    """How likely two compact artist keys are one name with a typo, in [0, 1]; at least LINK when linked.

    A typo is at most one edit (a swap of two neighbouring letters counts as one) in names of 5-12
    letters and two from 13 letters up, inside the name (the first letters agree and so do the last,
    unless the edit swaps them: "Badge" and "Badger", "Ill Bill" and "Kill Bill" are other artists), and
    never a change of digits. Under 9 letters one changed letter is as often another artist ("John Cage",
    "John Cale"; "Bride", "Bridge"), so only a swap or a slip of the hand counts there, unless `any_slip`
    (the two names are played by the same people). Jaro-Winkler is not used: its bonus for a shared start
    links "Chris Walken" to "Chris Thomas". A pair that is close but not a typo scores half its similarity,
    which counts against a chain merge.
    """
    similarity = Indel.normalized_similarity(a, b, score_cutoff=0.8)
    if not similarity or _DIGITS.findall(a) != _DIGITS.findall(b):
        return 0.0  # under 0.8 the half similarity would count for nothing either
    shorter = min(len(a), len(b))
    inside = a[0] == b[0] and (a[-1] == b[-1] or a[-2:] == b[-2:][::-1])
    allowed = 0 if shorter < min_length or not inside else (1 if shorter < 13 else 2)
    if allowed and OSA.distance(a, b, score_cutoff=allowed) <= allowed and similarity >= LINK:
        if shorter >= 9 or any_slip or Levenshtein.distance(a, b) == 2 or _slip_of_the_hand(a, b):
            return max(similarity, LINK)
    return similarity / 2


@dataclass(frozen=True)
class Listening:
    """Who plays each name (by row id), and how often: an alias is played by the same people as its
    canonical spelling, and the most played spelling is the canonical one."""
    plays: dict[str, int]
    listeners: dict[str, frozenset[str]]

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[str, str, int]]) -> Listening:
        """(user, name id, plays) rows."""
        plays: Counter = Counter()
        listeners: dict[str, set[str]] = defaultdict(set)
        for user, name_id, count in rows:
            plays[name_id] += count
            listeners[name_id].add(user)
        return cls(dict(plays), {k: frozenset(v) for k, v in listeners.items()})

    def share_listener(self, ids_a: Sequence[str], ids_b: Sequence[str]) -> bool:
        users = set().union(*(self.listeners.get(i, ()) for i in ids_a))
        return any(users & self.listeners.get(i, frozenset()) for i in ids_b)


def resolve_artist_names(rows: Sequence[tuple[str, str]], encoder: TextEncoder | None = None,
                         rules: ResolutionRules | None = None, min_length: int = 5,
                         semantic_min_cosine: float = 0.9, listening: Listening | None = None) -> list[ResolvedName]:
    rules = rules or load_rules()
    all_rows = list(rows)
    not_an_artist = {fold_artist(n) for n in rules.not_an_artist}
    replacements = {fold_artist(k): v for k, v in rules.replace_artist.items()}
    credit_rules = rules.credit_rules()
    rejected = [ResolvedName(i, n, "", "", 0.0, "not_an_artist") for i, n in rows if fold_artist(n) in not_an_artist]
    rows = [(i, n) for i, n in rows if fold_artist(n) not in not_an_artist]
    ids = [i for i, _ in rows]
    name_of = dict(rows)
    repaired = {i: repair(n) for i, n in rows}
    key_of = {i: _compact(replacements.get(fold_artist(n), n)) or fold(n) or n.strip().lower() for i, n in repaired.items()}
    # tier 1: one node per compact key; the fuzzy and credit tiers link keys
    ids_by_key: dict[str, list[str]] = defaultdict(list)
    for i in ids:
        ids_by_key[key_of[i]].append(i)
    keys = sorted(ids_by_key)
    primary_of = {}
    for i in ids:
        credit = parse_credit(repaired[i], credit_rules)
        if credit.featured and len(credit.primary) == 1 and _compact(credit.primary[0]) in ids_by_key:
            primary_of[key_of[i]] = _compact(credit.primary[0])
    # how often a key is played (with listening) or written, alone or as the primary artist of a credit
    weight = Counter({k: len(v) for k, v in ids_by_key.items()}) + Counter(primary_of.values())
    if listening is not None:
        weight = Counter({k: weight[k] + 1000 * sum(listening.plays.get(i, 0) for i in ids_by_key[k]) for k in keys})
    edges: dict[tuple[str, str], tuple[float, str]] = {}

    def link(a: str, b: str, score: float, tier: str) -> None:
        pair = (min(a, b), max(a, b))
        if a != b and (pair not in edges or score > edges[pair][0]):
            edges[pair] = (score, tier)

    # tier 3: typos, scored on blocks by the first three and the last three letters. Scores from 0.8 up are
    # kept as edges, and different digits as explicit non-matches, so clustering can refuse a chain.
    blocks: dict[str, list[str]] = defaultdict(list)
    for k in keys:
        # typos are letters of the Latin alphabet: a transliterated kanji name is not spelled, it is read
        if len(k) >= min_length and not is_japanese(repaired[ids_by_key[k][0]]):
            blocks["h" + k[:3]].append(k)
            blocks["t" + k[-3:]].append(k)
    for block in blocks.values():
        if len(block) > 2000:
            continue
        for x in range(len(block)):
            for y in range(x + 1, len(block)):
                a, b = block[x], block[y]
                score = typo_score(a, b)
                # only a close pair that is no typo by spelling alone can become one through shared listeners
                if 0 < score < LINK and listening is not None and listening.share_listener(ids_by_key[a], ids_by_key[b]):
                    score = typo_score(a, b, any_slip=True)
                if score >= 0.4:
                    link(a, b, score, "fuzzy")
    if encoder is not None:
        from .candidates import semantic_pairs

        vectors = encoder.encode([repaired[ids_by_key[k][0]] for k in keys])
        for a, b, cosine in semantic_pairs(keys, vectors, k=5, min_cosine=semantic_min_cosine):
            if _DIGITS.findall(a) == _DIGITS.findall(b) and (min(a, b), max(a, b)) not in edges:
                link(a, b, max(float(cosine), LINK), "semantic")
    clusters = constrained_clusters(
        keys, [(a, b, score) for (a, b), (score, _) in sorted(edges.items())],
        ClusterConfig(threshold=LINK, cannot_link_below=0.05, min_average=0.75, versions_must_agree=False))
    alias_keys = _link_aliases(keys, ids_by_key, repaired, clusters, weight, edges, listening,
                               credit_rules.belong_together)
    members: dict[str, list[str]] = defaultdict(list)
    for k in keys:
        members[clusters[k]].append(k)
    out = []
    for cluster_keys in members.values():
        # the canonical key is the most written one (a featuring credit never); its name the best spelling
        canonical_key = max(cluster_keys, key=lambda k: (k not in alias_keys, weight[k], len(k), k))
        canonical_name = display_choice([repaired[i] for i in ids_by_key[canonical_key]])
        canonical_id = "art_" + content_hash("artist", canonical_key)
        for k in cluster_keys:
            if k == canonical_key:
                score, tier = 1.0, "canonical"
            else:
                linked = [edges[p] for p in ((min(k, o), max(k, o)) for o in cluster_keys if o != k) if p in edges]
                score, tier = max(linked) if linked else (0.0, "fuzzy")
            for i in ids_by_key[k]:
                respelled = k == canonical_key and name_of[i] != canonical_name
                out.append(ResolvedName(i, name_of[i], canonical_id, canonical_name,
                                        RULES_CONFIDENCE if respelled else round(score, 4),
                                        "rules" if respelled else tier))
    order = {i: n for n, (i, _) in enumerate(all_rows)}
    return sorted(out + rejected, key=lambda r: order[r.id])


def _link_aliases(keys: list[str], ids_by_key: dict[str, list[str]], name_of: dict[str, str],
                  clusters: dict[str, str], weight: Counter, edges: dict,
                  listening: Listening | None, belong_together: frozenset[str]) -> set[str]:
    """The alias tiers, after the typo clusters: a key left on its own joins the artist one of its alias
    forms names ("A feat. B", "Smith, John", "Band (UK)", ...), when that artist is written on its own;
    then names that read alike across scripts or word orders ("相川七瀬", "Aikawa Nanase") join up.
    `name_of` holds the repaired names; a name the rules say belongs together ("Crosby, Stills, Nash &
    Young") is never split. Returns the keys that joined; they are never canonical."""
    cluster_size = Counter(clusters.values())
    target: dict[str, tuple[str, str]] = {}
    for key in keys:
        if cluster_size[clusters[key]] > 1:
            continue
        for name in dict.fromkeys(name_of[i] for i in ids_by_key[key]):
            if fold_artist(name) in belong_together:
                continue
            found = next(((form_key, kind) for form, kind, partner in alias_forms(name)
                          if (form_key := _compact(form)) != key and form_key in ids_by_key
                          and (not partner or _compact(partner) in ids_by_key)), None)
            if found:
                target[key] = found
                weight[found[0]] += 1  # an artist named in others' credits is the better known spelling
                break
    joined = set()
    for key in sorted(target):
        seen, (to, kind) = {key}, target[key]
        while to in target and to not in seen and cluster_size[clusters[to]] == 1:
            seen.add(to)
            to = target[to][0]
        if to in seen:
            continue
        clusters[key] = clusters[to]
        joined.add(key)
        edges[(min(key, to), max(key, to))] = (FORM_CONFIDENCE[kind], kind)
    # readings: a singleton joins the most played other key that sounds the same, when one of the two is
    # written in Japanese; two Latin names only when they are the same three or more words in another
    # order, or the same two words ("Yoshida Tatsuya") played by one listener ("Black Jack" is not "Jack Black")
    cluster_size = Counter(clusters.values())
    by_reading: dict[str, list[str]] = defaultdict(list)
    for key in keys:
        reading = reading_key(name_of[ids_by_key[key][0]])
        if reading:
            by_reading[reading].append(key)

    def reads_alike(a: str, b: str) -> bool:
        name_a, name_b = name_of[ids_by_key[a][0]], name_of[ids_by_key[b][0]]
        if is_japanese(name_a) or is_japanese(name_b):
            return True
        words = _word_set(name_a)
        return words == _word_set(name_b) and (len(words) > 2 or (
            listening is not None and listening.share_listener(ids_by_key[a], ids_by_key[b])))

    for members in by_reading.values():
        if len({clusters[k] for k in members}) < 2:
            continue
        for key in sorted(members, key=lambda k: (weight[k], k)):  # the less played joins the more played
            if cluster_size[clusters[key]] > 1 or key in joined:
                continue
            others = [o for o in members if clusters[o] != clusters[key] and reads_alike(key, o)]
            if others:
                to = max(others, key=lambda o: (cluster_size[clusters[o]], weight[o], o))
                cluster_size[clusters[to]] += 1
                clusters[key] = clusters[to]
                joined.add(key)
                edges[(min(key, to), max(key, to))] = (FORM_CONFIDENCE["reading"], "reading")
    return joined


def _word_set(name: str) -> tuple[str, ...]:
    return tuple(sorted(fold_artist(name).split()))


def _track_display(title: str) -> str:
    """A title without the tags that name the same recording; a live take or remix keeps its version."""
    parsed = parse_title(title)
    return title if parsed.relation == DIFFERENT or not parsed.base else parsed.base


@dataclass(frozen=True)
class TrackName:
    id: str
    name: str
    artist: str = ""
    album: str = ""
    duration_s: str = ""
    year: str = ""
    line: int = 0
    problem: str = ""  # the row could not be read (then only `line` is known) or names nothing to resolve
    distinct_within: str = ""  # rows with one non-empty value here never resolve to one entity
    recording_id: str = ""  # a MusicBrainz recording id: rows with two different ones never resolve to one track


def resolve_names(rows: Sequence[TrackName], entity: str, encoder: TextEncoder | None = None,
                  rules: ResolutionRules | None = None, listening: Listening | None = None,
                  one_library: bool = False) -> list[ResolvedName]:
    """Exactly one result per row, in order. Rows with a name are resolved (ids may repeat or be empty:
    rows are told apart by position); a row with a problem keeps it, is its own entity when it has an id,
    and has quality none. `listening` (artists only) is keyed by the rows' ids; `one_library` (tracks only)
    see resolve_track_names."""
    usable = [n for n, r in enumerate(rows) if not r.problem]
    keyed = [replace(rows[n], id=str(n)) for n in usable]
    if entity == "artist":
        by_position = None
        if listening is not None:
            by_position = Listening({str(n): listening.plays[rows[n].id] for n in usable if rows[n].id in listening.plays},
                                    {str(n): listening.listeners[rows[n].id] for n in usable
                                     if rows[n].id in listening.listeners})
        resolved = resolve_artist_names([(r.id, r.name) for r in keyed], encoder, rules, listening=by_position)
    else:
        resolved = resolve_track_names(keyed, encoder, rules, one_library=one_library)
    out: list[ResolvedName] = []
    by_position = {int(r.id): r for r in resolved}
    for n, row in enumerate(rows):
        if n in by_position:
            out.append(replace(by_position[n], id=row.id, line=row.line))
        else:
            own = (f"{entity[:3]}_row_" + content_hash("unresolved", row.id, str(row.line))) if row.id else ""
            out.append(ResolvedName(row.id, row.name, own, "", 0.0, "unresolved", row.line, row.problem))
    return out


def _recordings(rows: Sequence[TrackName], rules: ResolutionRules) -> dict[str, str]:
    """Row id -> its MusicBrainz recording, recordings known to be one (rules.same_recording) as one."""
    same = rules.recording_ids()
    ids = {r.id: r.recording_id.strip().lower() for r in rows if r.recording_id.strip()}
    return {row: same.get(recording, recording) for row, recording in ids.items()}


def resolve_track_names(rows: Sequence[TrackName], encoder: TextEncoder | None = None,
                        rules: ResolutionRules | None = None, threshold: float = 0.9,
                        model_json: dict | None = None, one_library: bool = False) -> list[ResolvedName]:
    """Tracks by the catalog's pipeline; `model_json` is a saved splink model (else trained on the input,
    which needs a few hundred names for EM to find its feet; smaller inputs rest on the rules tier).
    Rows that share a `distinct_within` value (one duplicate-free source, one album) never merge.
    `one_library`: the rows come from one library (one listener's export), where an album lists each track
    once, so two titles of one artist's album are two tracks unless they are one listing
    (`clustering.one_listing`: a typo within words, spacing, a cut-off or another script). Not for inputs that
    mix sources, which copy one album's titles with typos (MusicBrainz-20K)."""
    rules = rules or load_rules()
    records = []
    albums = album_keys((r.name, r.album) for r in rows)  # a title may carry its album where another row says so
    for r in rows:
        artist, title = rules.prepare(r.artist, r.name, albums if not r.album.strip() else None)
        records.append(standardise(r.id, title, artist, r.album, r.duration_s, r.year, rules=rules.credit_rules(),
                                   known_albums=albums))
    if not records:
        return []
    distinct = {r.id: r.distinct_within for r in rows if r.distinct_within} or None
    result = resolve(records, encoder=encoder, matcher_config=MatcherConfig(use_embeddings=False),
                     cluster_config=ClusterConfig(threshold=threshold), model_json=model_json,
                     exclusive_group=distinct)
    key_of = {r.record_id: (r.artist_key, r.title_key) for r in records}
    edges = list(zip(result.pairs["unique_id_l"].to_pylist(), result.pairs["unique_id_r"].to_pylist(),
                     result.pairs["match_probability"].to_pylist(), strict=True))
    # the rules tier: one folded artist and title (version kind included) is one track, whatever splink says
    first_with_key: dict[tuple[str, str], str] = {}
    for r in records:
        if r.title_key and key_of[r.record_id] in first_with_key:
            edges.append((first_with_key[key_of[r.record_id]], r.record_id, 1.0))
        elif r.title_key:
            first_with_key[key_of[r.record_id]] = r.record_id
    rule_linked = {(a, b) for a, b, p in edges if p == 1.0 and key_of[a] == key_of[b]}
    assignment = constrained_clusters([r.record_id for r in records], edges,
                                      ClusterConfig(threshold=threshold, tails_name_recordings=one_library,
                                                    edits_are_recordings=one_library),
                                      exclusive_group=distinct, version={r.record_id: r.version for r in records},
                                      markers={r.record_id: r.markers for r in records},
                                      titles={r.record_id: r.title_key for r in records},
                                      listed_once=_album_listings(records) if one_library else None,
                                      recordings=_recordings(rows, rules), keyed=rule_linked)
    best: dict[str, float] = defaultdict(float)
    for a, b, p in edges:
        if assignment[a] == assignment[b] and (a, b) not in rule_linked:
            best[a], best[b] = max(best[a], p), max(best[b], p)
    by_cluster: dict[str, list[int]] = defaultdict(list)
    for n, record in enumerate(records):
        by_cluster[assignment[record.record_id]].append(n)
    out: list[ResolvedName | None] = [None] * len(rows)
    taken: set[str] = set()
    for positions in by_cluster.values():
        keys = Counter(key_of[records[n].record_id] for n in positions)
        canonical_key = min(keys, key=lambda k: (-keys[k], k))
        # the canonical name is the title without remaster / album-version tags
        canonical_name = display_choice([_track_display(records[n].title) for n in positions
                                         if key_of[records[n].record_id] == canonical_key])
        canonical_id = "trk_" + content_hash("track", *canonical_key)
        if canonical_id in taken:  # one key, two recordings that markers keep apart ("Synchronicity I" / "II")
            canonical_id = "trk_" + content_hash("track", *canonical_key, min(records[n].record_id for n in positions))
        taken.add(canonical_id)
        for n in positions:
            same_key = key_of[records[n].record_id] == canonical_key
            if same_key:
                confidence = 1.0 if " ".join(rows[n].name.split()) == canonical_name else RULES_CONFIDENCE
            else:
                confidence = best[records[n].record_id]
            out[n] = ResolvedName(rows[n].id, rows[n].name, canonical_id, canonical_name, round(confidence, 4),
                                  "canonical" if confidence == 1.0 else ("rules" if same_key else "probabilistic"))
    return [r for r in out if r is not None]


def _album_listings(records: list[TrackRecord]) -> dict[str, tuple[str, str]]:
    """record -> (its artist's album, its title key), for records with an album: an album lists a track once."""
    return {r.record_id: (f"{r.artist_key}\x1f{r.album_key}", r.title_key) for r in records
            if r.album_key and r.title_key}


NAME_COLUMNS = {"artist": ("id", "name"), "track": ("id", "name", "artist", "album", "duration_s", "year")}
REQUIRED_COLUMNS = {"artist": ("id", "name"), "track": ("id", "name", "artist")}


def read_names(path: Path, entity: str, distinct_within: str | None = None) -> tuple[list[TrackName], list[RowIssue]]:
    """Every record of a names CSV, in file order: one that cannot be read is kept as a row with its line
    and problem, one without a name carries the problem "empty name". The issues name file, line and field.
    `distinct_within` names a further column whose values keep rows apart (see resolve_track_names)."""
    columns = {c: (c,) for c in NAME_COLUMNS[entity]}
    if entity == "track":
        columns["recording_id"] = ("recording_id", "recording_mbid", "track_mbid", "mbid")
    required = set(REQUIRED_COLUMNS[entity])
    if distinct_within:
        columns["distinct_within"] = (distinct_within,)
        required.add("distinct_within")
    reader = DelimitedRows(str(path), columns=columns, required=frozenset(required))
    rows, issues = [], []
    for line, fields in reader:
        value = {c: fields[i].strip() for c, i in reader.positions.items()}
        problem = "" if value["name"] else "empty name"
        if problem:
            issues.append(RowIssue(str(path), line, "name", problem))
        rows.append(TrackName(**value, line=line, problem=problem))
    rows += [TrackName("", "", line=i.line, problem=f"unreadable record: {i.field}: {i.message}") for i in reader.issues]
    return sorted(rows, key=lambda r: r.line), sorted(reader.issues + issues, key=lambda i: i.line)


def read_listening(path: Path) -> tuple[Listening, list[RowIssue]]:
    """Play counts as `user id plays` rows, split by commas, tabs or spaces (Audioscrobbler's
    user_artist_data.txt as it comes); a header line is skipped, a bad row is an issue naming its line."""
    rows, issues = [], []
    with path.open(encoding="utf-8", errors="replace") as handle:
        for line, text in enumerate(handle, start=1):
            fields = [f for f in re.split(r"[,\t ]+", text.strip()) if f]
            if not fields:
                continue
            if len(fields) != 3:
                issues.append(RowIssue(str(path), line, "row", f"expected user, id, plays; found {len(fields)} fields"))
            elif not fields[2].isdigit():
                if line > 1:  # the first line may be a header
                    issues.append(RowIssue(str(path), line, "plays", f"not a whole number: {fields[2]!r}"))
            else:
                rows.append((fields[0], fields[1], int(fields[2])))
    return Listening.from_rows(rows), issues


NAME_OUTPUT = ["line", "id", "name", "canonical_id", "canonical_name", "confidence", "quality", "problem"]


def write_names(path: Path, resolved: Sequence[ResolvedName]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(NAME_OUTPUT)
        for r in resolved:
            writer.writerow([r.line, r.id, r.name, r.canonical_id, r.canonical_name, f"{r.confidence:.4f}",
                             r.quality, r.problem])
