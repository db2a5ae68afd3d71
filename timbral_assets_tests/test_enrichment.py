"""Enrichment: title labels, the cool-down policy (hypothesis), the MusicBrainz client and the store scraper over
real HTTP against local emulators, unknown-artist identification, and the DJ-tracklist reader."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from timbral_assets.bucket import Bucket
from timbral_assets.enrichment import cooldown as cd
from timbral_assets.enrichment.hunter import LabelHunter, TrackToEnrich
from timbral_assets.enrichment.identify import Context, Play, comparison_pairs, identify, tier
from timbral_assets.enrichment.musicbrainz import MusicBrainzClient, find_label
from timbral_assets.enrichment.scraper import StoreScraper, label_from_page, parse_robots
from timbral_assets.enrichment.title_labels import label_from_titles, parse_title_label
from timbral_assets.resolution.text import fold
from timbral_assets.sources.metadata_files import read_dj_tracklists
from timbral_assets.sources.synthetic.services import (
    PAGE_STYLES,
    MusicBrainzEmulator,
    StoreEmulator,
    WorldTrack,
    load_world_tracks,
    track_page,
)

NOW = datetime(2026, 3, 1, 12, 0)


# --- title labels -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("title, label, confidence", [
    ("Night Drive [Glass Records]", "Glass Records", 0.90),
    ("Night Drive [GLASS RECORDS]", "Glass Records", 0.90),
    ("Night Drive [Hyperdub]", "Hyperdub", 0.80),
    ("Night Drive (Warp Recordings)", "Warp Recordings", 0.90),
    ("Night Drive - Ninja Tune Music", "Ninja Tune Music", 0.90),
    ("Night Drive [Live]", None, None),
    ("Night Drive [Extended Mix]", None, None),
    ("Night Drive [feat. Someone]", None, None),
    ("Night Drive (Radio Edit)", None, None),
    ("Night Drive (2011 Remaster)", None, None),
    ("Night Drive (Interlude)", None, None),
    # forms seen in real Last.fm exports: the label in brackets after a remix credit, a netlabel; and
    # brackets that are not labels: a BPM, a premiere, a CD-R dubplate, an abbreviated "f." credit
    ("Night Drive (Someone VIP) [Offworld]", "Offworld", 0.80),
    ("Night Drive [Subtle Audio]", "Subtle Audio", 0.90),
    ("Night Drive [138.85]", None, None),
    ("Night Drive [Strictly 140 Premiere]", None, None),
    ("Night Drive [CDR]", None, None),
    ("Night Drive [f. Someone]", None, None),
    ("Night Drive [someone_static_remix]", None, None),
    ("Night Drive [UK]", None, None),
    ("Night Drive [out may 1st on bandcamp]", None, None),
    ("Night Drive", None, None),
])
def test_title_labels(title, label, confidence):
    found = parse_title_label(title)
    assert (found.label if found else None) == label
    if found:
        assert found.confidence == confidence


def test_spellings_that_agree_raise_the_confidence_and_the_majority_wins():
    found = label_from_titles(["Drift [Glass Records]", "drift [GLASS RECORDS]", "Drift [Other Label]", "Drift"])
    assert found.label == "Glass Records" and found.confidence == pytest.approx(0.95)
    assert label_from_titles(["Drift", "Drift (Live)"]) is None


# --- the cool-down policy -----------------------------------------------------------------------------------

track_ids = st.text(min_size=1, max_size=20)
strategies = st.sampled_from(cd.STRATEGIES)


@settings(max_examples=300, deadline=None)
@given(strategy=strategies, track=track_ids, failures=st.integers(1, 5), has_label=st.booleans(),
       recent=st.booleans())
def test_jitter_stays_within_ten_percent(strategy, track, failures, has_label, recent):
    policy = cd.CooldownPolicy(strategy=strategy)
    base = policy.base_delay_days(failures, has_label, recent) * 86_400
    delay = policy.delay(track, failures, has_label, recent).total_seconds()
    assert base * 0.9 - 1 <= delay <= base * 1.1 + 1
    assert policy.delay(track, failures, has_label, recent) == policy.delay(track, failures, has_label, recent)


@settings(max_examples=200, deadline=None)
@given(strategy=strategies, failures=st.integers(1, 20), has_label=st.booleans(), recent=st.booleans(),
       multiplier=st.floats(1.0, 4.0))
def test_backoff_is_monotone_in_the_failures(strategy, failures, has_label, recent, multiplier):
    policy = cd.CooldownPolicy(strategy=strategy, multiplier=multiplier)
    assert (policy.base_delay_days(failures + 1, has_label, recent)
            >= policy.base_delay_days(failures, has_label, recent) > 0)


@settings(max_examples=200, deadline=None)
@given(strategy=strategies, max_attempts=st.integers(1, 8), track=track_ids, release_year=st.none() | st.integers(1950, 2026))
def test_attempts_are_capped_and_an_exhausted_track_is_never_tried_again(strategy, max_attempts, track, release_year):
    policy = cd.CooldownPolicy(strategy=strategy, max_attempts=max_attempts)
    entry, now = cd.QueueEntry(track), NOW
    for attempt in range(1, max_attempts + 1):
        assert cd.is_due(entry, now)
        entry = cd.after_attempt(entry, False, now, policy, release_year=release_year, error="not found")
        assert entry.retry_attempts == attempt
        if attempt < max_attempts:
            assert entry.status == cd.COOLING_DOWN and entry.retry_after > now
            assert not cd.is_due(entry, now) and cd.is_due(entry, entry.retry_after)
            now = entry.retry_after
    assert entry.status == cd.EXHAUSTED and entry.retry_after is None and not cd.is_due(entry, now + timedelta(days=9999))
    with pytest.raises(ValueError, match="exhausted"):
        cd.after_attempt(entry, True, now, policy)


def test_adaptive_delays_follow_the_track():
    policy = cd.CooldownPolicy("adaptive")
    assert policy.base_delay_days(1, has_label=True) == 60 and policy.base_delay_days(1, recent_release=True) == 45
    assert policy.base_delay_days(1) == 30 and policy.base_delay_days(3, recent_release=True) == 180
    assert policy.is_recent(2025, NOW) and not policy.is_recent(2019, NOW) and not policy.is_recent(None, NOW)
    found = cd.after_attempt(cd.QueueEntry("t"), True, NOW, policy)
    assert found.status == cd.ENRICHED and found.retry_after is None and found.retry_attempts == 1
    with pytest.raises(ValueError, match="unknown cool-down strategy"):
        cd.CooldownPolicy("linear")


@settings(max_examples=20, deadline=None)
@given(strategy=strategies, failures=st.integers(1, 3), salt=st.text(max_size=5))
def test_a_thousand_failures_spread_over_the_window_instead_of_one_day(strategy, failures, salt):
    policy = cd.CooldownPolicy(strategy=strategy)
    base_days = policy.base_delay_days(failures)
    due_days = Counter((NOW + policy.delay(f"{salt}trk_{i:05d}", failures)).date() for i in range(1000))
    window_days = 0.2 * base_days  # ±10%
    # every day of the window's interior gets some, and no day more than 2.5x its fair share
    assert len(due_days) >= int(window_days) - 1
    assert max(due_days.values()) <= max(2.5 * 1000 / window_days, 60)


# --- MusicBrainz --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def world_tracks(tiny_world) -> list[WorldTrack]:
    return load_world_tracks(tiny_world)


def test_musicbrainz_client_keeps_to_one_request_per_second(world_tracks, tmp_path):
    """8 requests (4 searches, then their release lookups) against an emulator that answers 503 to any
    request sooner than 1 s after the last: the client never trips it, and its labels are the right ones."""
    with MusicBrainzEmulator(world_tracks, min_interval_s=1.0, coverage=1.0, label_right=1.0) as mb:
        client = MusicBrainzClient(f"{mb.url}/ws/2", cache=Bucket(str(tmp_path / "bucket")))
        one_per_album = list({t.album_id: t for t in reversed(world_tracks)}.values())[:4]  # releases are cached
        found = [(t, find_label(client, t.artist, t.title)) for t in one_per_album]
        assert len(mb.requests) == 8 and mb.rate_limited == 0
        gaps = [b[0] - a[0] for a, b in zip(mb.requests, mb.requests[1:], strict=False)]
        assert min(gaps) >= 0.99
        assert all(hit is not None and fold(hit.label) == fold(t.label) for t, hit in found)
        assert all(0.6 <= hit.confidence <= 0.95 for _, hit in found)
        # the responses are cached in the bucket: the same questions cost no request
        again = MusicBrainzClient(f"{mb.url}/ws/2", cache=Bucket(str(tmp_path / "bucket")))
        assert find_label(again, one_per_album[0].artist, one_per_album[0].title) == found[0][1]
        assert again.requests_made == 0 and again.cache_hits == 2 and len(mb.requests) == 8


def test_musicbrainz_client_backs_off_on_503_and_names_itself(world_tracks):
    with MusicBrainzEmulator(world_tracks, min_interval_s=0.05, coverage=1.0) as mb:
        # a bare client is refused: MusicBrainz asks for a User-Agent naming the application and a contact
        assert requests.get(f"{mb.url}/ws/2/recording?query=x&fmt=json", timeout=5).status_code == 403
        with pytest.raises(ValueError, match="User-Agent"):
            MusicBrainzClient(mb.url, user_agent="curl")
        client = MusicBrainzClient(f"{mb.url}/ws/2", min_interval_s=0.05, interval_jitter_s=0.01)
        mb.forced_503 = 2  # a busy server: the next two requests are refused
        t = world_tracks[3]
        before = len(mb.requests)
        recordings = client.search_recordings(t.artist, t.title)
        asked = mb.requests[before:]
        assert recordings and recordings[0]["score"] == 100 and len(asked) == 3
        gaps = [b[0] - a[0] for a, b in zip(asked, asked[1:], strict=False)]
        assert min(gaps) >= 0.09  # backoff starts at twice the interval
        # a query with quotes and backslashes is escaped, not broken
        assert client.search_recordings('Say "Hi" \\o/', "Nothing") == []


def test_musicbrainz_label_needs_the_artist_and_title_to_match(world_tracks):
    with MusicBrainzEmulator(world_tracks, min_interval_s=0.0, coverage=1.0) as mb:
        client = MusicBrainzClient(f"{mb.url}/ws/2", min_interval_s=0.0, interval_jitter_s=0.0)
        t = world_tracks[5]
        assert find_label(client, "Somebody Else Entirely", t.title) is None  # same title, other artist
        assert find_label(client, t.artist.upper(), t.title.lower()).label == t.label  # spelling does not matter


# --- store pages --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("style", PAGE_STYLES)
def test_every_page_style_gives_its_label(style):
    t = WorldTrack(0, "Ada Lopez", "Night & Day", "Album", "alb", "Glass Records", 2020, "mbid", "art")
    assert label_from_page(track_page(t, "Glass Records", style))[0] == "Glass Records"
    assert label_from_page(track_page(t, None, style)) is None


def test_broken_markup_and_robots():
    broken = "<html><body><div><ul><li>Artist: X<li class=label>Label: Warp Records<li>Year: 2001</ul></b><p>Buy"
    assert label_from_page(broken) == ("Warp Records", 0.65)
    assert label_from_page("<p>Record label: Planet Mu</p><p>x") == ("Planet Mu", 0.60)
    assert label_from_page("<<<>>>") is None and label_from_page("") is None
    rules = parse_robots("User-agent: Other\nDisallow: /\n\nUser-agent: *\nCrawl-delay: 3\nDisallow: /private/\n",
                         "Timbral/0.1 ( x )")
    assert rules.crawl_delay_s == 3 and not rules.allows("/private/page") and rules.allows("/track/1")
    own = parse_robots("User-agent: timbral\nCrawl-delay: 9\n", "Timbral/0.1 ( x )")
    assert own.crawl_delay_s == 9


def test_scraper_respects_the_crawl_delay_and_finds_labels(world_tracks, tmp_path):
    with StoreEmulator(world_tracks, crawl_delay_s=0.3, coverage=1.0, label_wrong=0.0, no_label=0.0) as store:
        scraper = StoreScraper(store.url, min_delay_s=0.05, cache=Bucket(str(tmp_path / "bucket")))
        one_per_style = {}
        for t in world_tracks:
            one_per_style.setdefault(store.pages[t.index][2], t)
        assert set(one_per_style) == set(PAGE_STYLES)  # broken markup among them
        hits = [(t, scraper.find_label(t.artist, t.title)) for t in one_per_style.values()]
        assert scraper.delay_s == 0.3 and store.too_fast == 0
        assert all(h is not None and h.label == t.label for t, h in hits)
        assert scraper.get(f"{store.url}/private/x") is None  # disallowed: not fetched
        assert all(not path.startswith("/private") for _, path in store.requests)
        assert scraper.find_label("Nobody", "Nothing") is None


# --- the hunter ---------------------------------------------------------------------------------------------

def test_hunter_tries_titles_then_musicbrainz_then_the_store(world_tracks):
    known, unknown_to_mb = world_tracks[0], world_tracks[1]
    with (MusicBrainzEmulator([known], min_interval_s=0.0, coverage=1.0, label_right=1.0) as mb,
          StoreEmulator([unknown_to_mb], crawl_delay_s=0.0, coverage=1.0, label_wrong=0.0, no_label=0.0) as store):
        hunter = LabelHunter(MusicBrainzClient(f"{mb.url}/ws/2", min_interval_s=0.0, interval_jitter_s=0.0),
                             StoreScraper(store.url, min_delay_s=0.0))
        by_title = hunter.hunt(TrackToEnrich("a", known.artist, known.title, (f"{known.title} [Tape Editions]",)))
        assert (by_title.finding.source, by_title.finding.label, by_title.remote_tried) == ("title", "Tape Editions", False)
        assert len(mb.requests) == 0
        by_mb = hunter.hunt(TrackToEnrich("b", known.artist, known.title))
        assert by_mb.finding.source == "musicbrainz" and by_mb.finding.label == known.label
        by_store = hunter.hunt(TrackToEnrich("c", unknown_to_mb.artist, unknown_to_mb.title))
        assert by_store.finding.source == "store_page" and by_store.finding.label == unknown_to_mb.label
        nowhere = hunter.hunt(TrackToEnrich("d", "Nobody", "Nothing"))
        assert nowhere.finding is None and nowhere.remote_tried and nowhere.error == "no source knows its label"
        titles_only = hunter.hunt(TrackToEnrich("e", "Nobody", "Nothing"), remote=False)
        assert titles_only.finding is None and not titles_only.remote_tried
        stats = hunter.stats_dict()
        assert stats["title"]["tried"] == 5 and stats["title"]["found"] == 1
        assert stats["musicbrainz"]["found"] == 1 and stats["musicbrainz"]["not_found"] == 2
        assert stats["store_page"]["found"] == 1 and stats["store_page"]["not_found"] == 1
    # a source that is down is an error of the attempt, not a crash; the next source is still asked
    dead = LabelHunter(MusicBrainzClient("http://127.0.0.1:9/ws/2", min_interval_s=0.0, max_attempts=1))
    outcome = dead.hunt(TrackToEnrich("f", "A", "B"))
    assert outcome.finding is None and outcome.remote_tried and "musicbrainz" in outcome.error
    assert dead.stats_dict()["musicbrainz"]["errors"] == 1


# --- unknown-artist identification --------------------------------------------------------------------------

def _set(set_id: str, dj: str, artists: list[str | None], labels: list[str | None] | None = None) -> Context:
    labels = labels or [None] * len(artists)
    return Context(set_id, "dj_set", dj, dj, [
        Play(a, lab, None if a else f"{set_id}#{i}") for i, (a, lab) in enumerate(zip(artists, labels, strict=True))])


def test_identification_names_the_artist_the_context_points_to():
    """Sets where a DJ plays mostly their own tracks: an ID between two of them is the DJ; an ID in a set of
    strangers with no link is left unknown."""
    contexts = []
    for s in range(40):
        artists = (["dj", "dj", "dj", "a", "dj", None, "dj", "dj", "b", "dj"] if s % 2
                   else ["x", "y", None, "z", "w", "v"])
        contexts.append(_set(f"s{s}", "dj" if s % 2 else f"other{s}", artists))
    pairs = comparison_pairs(contexts, {})
    occurrences = [(f"s{s}#{5 if s % 2 else 2}", "dj_set") for s in range(40)]
    results, models = identify(pairs, occurrences)
    assert [r.occurrence_id for r in results] == [o for o, _ in occurrences]
    own = [r for r in results if int(r.occurrence_id[1:].split("#")[0]) % 2]
    strangers = [r for r in results if not int(r.occurrence_id[1:].split("#")[0]) % 2]
    assert all(r.artist == "dj" and r.tier in ("high", "medium") for r in own)
    assert all(r.artist is None and r.tier == "rejected" and r.probability < 0.7 for r in strangers)
    assert all(0.0 <= r.probability <= 1.0 and r.probability >= r.runner_up_probability for r in results)
    fitted = models["dj_set"]
    assert fitted["model"].converged and 0 < fitted["model"].none_prior < 1
    # the self-check on the held-out half of the masked known plays: what it accepts is right
    assert fitted["check"]["accepted"] > 0 and fitted["check"]["precision"] == 1.0
    assert tier(0.86) == "high" and tier(0.85) == "medium" and tier(0.70) == "medium" and tier(0.69) == "rejected"


def test_a_label_shown_on_the_id_brings_in_the_labels_artists():
    artist_labels = {"mate": {"glass records"}, "stranger": {"other"}}
    contexts = [_set("s1", "dj", ["dj", "mate", "x", "y"]), _set("s2", "dj", ["mate", "z", None, "w"],
                                                                  [None, None, "Glass Records", None])]
    pairs = comparison_pairs(contexts, artist_labels)
    unknown = {c: lv for o, c, lv, m in zip(pairs.occurrence, pairs.candidate, pairs.levels, pairs.masked, strict=True)
               if o == "s2#2" and not m}
    assert set(unknown) == {"dj", "mate", "z", "w"}
    assert unknown["mate"][2] == 2 and unknown["z"][2] == 1  # the label matches / is unknown
    assert unknown["dj"][3] == 4  # the owner is a candidate


def test_no_candidates_means_unknown():
    results, _ = identify(comparison_pairs([], {}), [("lonely", "session")])
    assert results[0].artist is None and results[0].n_candidates == 0 and results[0].tier == "rejected"


# --- the tracklist reader ---------------------------------------------------------------------------------

def test_dj_tracklists_reader_keeps_good_rows_and_names_bad_ones(tmp_path):
    rows = [
        {"set_id": "s1", "dj": "Ada", "played_on": "2025-03-01", "position": 1, "artist": "Bo", "title": "T1", "label": "L"},
        {"set_id": "s1", "dj": "Ada", "played_on": "2025-03-01", "position": 2, "artist": "ID", "title": "ID"},
        {"set_id": "s1", "dj": "Ada", "played_on": "2025-03-01", "position": 2, "artist": "Cy", "title": "T3"},
        {"set_id": "s1", "dj": "Ada", "played_on": "2025-03-01", "position": 0, "artist": "Cy", "title": "T4"},
        {"set_id": "s1", "dj": "Ada", "played_on": "March", "position": 5, "artist": "Cy", "title": "T5"},
        {"set_id": "s1", "played_on": "2025-03-01", "position": 6, "artist": "Cy", "title": "T6"},
    ]
    path = tmp_path / "sets.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n{broken\n")
    imported = read_dj_tracklists(path)
    table = imported.tables["dj_tracklists"]
    assert table.num_rows == 2 and table["position"].to_pylist() == [1, 2] and table["label"].to_pylist() == ["L", None]
    problems = {(i.line, i.field) for i in imported.issues}
    assert problems == {(3, "position"), (4, "position"), (5, "played_on"), (6, "dj"), (7, "(json)")}
    assert all(i.file == str(path) for i in imported.issues)
