"""The Last.fm and Spotify clients over real HTTP against local emulators."""

from __future__ import annotations

import time

import pytest

from timbral_assets.sources.errors import SourceError
from timbral_assets.sources.http import RetryPolicy
from timbral_assets.sources.lastfm_api import LastfmApiError, LastfmClient, recent_tracks_to_table
from timbral_assets.sources.spotify_api import SpotifyClient, audio_features_to_table, search_page_to_table

from .emulators import LastfmEmulator, Scrobble, SpotifyEmulator, SpotifyTrack

DAY = 86_400
T0 = 1_740_787_200  # 2025-03-01T00:00:00Z


def _plays(n: int, start: int = T0) -> list[Scrobble]:
    return [Scrobble(start + i * 300, f"Artist {i % 7}", f"Song {i}", f"Album {i % 3}") for i in range(n)]


@pytest.fixture
def lastfm():
    with LastfmEmulator({"alice": _plays(450), "bob": _plays(1)},
                        now_playing={"alice": Scrobble(0, "Now", "Playing")}) as emu:
        yield emu


def client(emu, attempts: int = 4) -> LastfmClient:
    return LastfmClient(LastfmEmulator.API_KEY, emu.url + "/2.0/",
                        RetryPolicy(max_attempts=attempts, base_delay_s=0.01, max_delay_s=2.0, seed=1),
                        min_interval_s=0.0)


def test_recent_tracks_pages_through_the_window(lastfm):
    pages = list(client(lastfm).recent_tracks("alice", T0, T0 + DAY, limit=100))
    assert [p.page for p in pages] == [1, 2, 3]  # 288 plays in the first day, 100 per page
    table = recent_tracks_to_table(pages[0], "alice", "page-1.json")
    assert table.num_rows == 100  # the now-playing entry has no date and is skipped
    rows = sum(recent_tracks_to_table(p, "alice", "x").num_rows for p in pages)
    assert rows == 288
    first = lastfm.state.requests[0]
    assert first["from"] == str(T0) and first["to"] == str(T0 + DAY - 1)  # Last.fm's `to` is inclusive


def test_single_track_page_object_is_parsed(lastfm):
    pages = list(client(lastfm).recent_tracks("bob", T0, T0 + DAY))
    assert recent_tracks_to_table(pages[0], "bob", "x").column("track_name").to_pylist() == ["Song 0"]


def test_error_29_and_http_errors_are_retried(lastfm):
    lastfm.queue("lastfm_error_29", "http_500", "malformed_json")
    c = client(lastfm)
    pages = list(c.recent_tracks("alice", T0, T0 + 3600, limit=200))
    assert sum(recent_tracks_to_table(p, "alice", "x").num_rows for p in pages) == 12
    assert [r.split(" ")[0] for r in c.http.attempts_log] == ["Last.fm", "HTTP", "malformed"]


def test_http_429_waits_for_retry_after(lastfm):
    lastfm.queue("http_429")
    c = client(lastfm)
    started = time.perf_counter()
    list(c.recent_tracks("alice", T0, T0 + 3600))
    assert time.perf_counter() - started >= 1.0  # Retry-After: 1 beats the 10 ms backoff
    assert c.http.attempts_log == ["HTTP 429 rate limited"]


def test_gives_up_with_a_clear_error(lastfm):
    lastfm.queue(*["http_500"] * 3)
    with pytest.raises(SourceError, match=r"gave up .* after 3 attempts; last problem: HTTP 500"):
        list(client(lastfm, attempts=3).recent_tracks("alice", T0, T0 + 3600))


def test_non_retryable_api_error_fails_at_once(lastfm):
    lastfm.queue("lastfm_error_6")
    c = client(lastfm)
    with pytest.raises(LastfmApiError, match="error 6: User not found"):
        list(c.recent_tracks("alice", T0, T0 + 3600))
    assert len(lastfm.state.requests) == 1


def test_bad_api_key_and_missing_key():
    with pytest.raises(SourceError, match="LASTFM_API_KEY"):
        LastfmClient("")
    with LastfmEmulator({"alice": _plays(3)}) as emu:
        bad = LastfmClient("wrong", emu.url + "/2.0/", RetryPolicy(max_attempts=2, base_delay_s=0.01))
        with pytest.raises(LastfmApiError, match="error 10"):
            bad.call("user.getRecentTracks", user="alice")


def test_requests_are_spaced_to_respect_the_rate_limit(lastfm):
    c = LastfmClient(LastfmEmulator.API_KEY, lastfm.url + "/2.0/", RetryPolicy(max_attempts=2, base_delay_s=0.01),
                     min_interval_s=0.2)
    started = time.perf_counter()
    pages = list(c.recent_tracks("alice", T0, T0 + DAY, limit=50))
    assert len(pages) == 6
    assert time.perf_counter() - started >= 5 * 0.2  # 6 requests, at most 5 per second


def test_top_artists_top_tracks_and_library(lastfm):
    c = client(lastfm)
    top = list(c.top_artists("alice", limit=5))
    assert [p.page for p in top] == [1, 2]  # 7 artists, 5 per page
    assert top[0].payload["topartists"]["artist"][0]["playcount"] == "65"
    library = list(c.library_artists("alice", limit=50))
    assert sum(int(a["playcount"]) for a in library[0].payload["artists"]["artist"]) == 450
    tracks = list(c.top_tracks("alice", limit=200, max_pages=1))
    assert len(tracks) == 1 and len(tracks[0].payload["toptracks"]["track"]) == 200


@pytest.fixture
def spotify():
    tracks = [SpotifyTrack(f"id{i:03d}", f"Tune {i}", ["Band", "Guest"] if i % 10 == 0 else ["Band"], "LP",
                           "shoegaze" if i % 2 else "ambient", energy=i / 250) for i in range(250)]
    with SpotifyEmulator(tracks) as emu:
        yield emu


def spotify_client(emu) -> SpotifyClient:
    return SpotifyClient(SpotifyEmulator.CLIENT_ID, SpotifyEmulator.CLIENT_SECRET, emu.url + "/api/token",
                         emu.url + "/v1", RetryPolicy(max_attempts=4, base_delay_s=0.01, seed=1))


def test_spotify_search_pages_and_audio_features_in_batches_of_100(spotify):
    c = spotify_client(spotify)
    pages = list(c.search_tracks("genre:shoegaze", limit=50))
    assert len(pages) == 3
    tracks = [search_page_to_table(p, "shoegaze", "x") for p, _ in pages]
    ids = [i for t in tracks for i in t["spotify_track_id"].to_pylist()]
    assert len(ids) == 125 and len(set(ids)) == 125
    assert tracks[0]["artists"].to_pylist()[0] == ["Band"]
    batches = list(c.audio_features(ids + ["unknown-id"]))
    assert len(batches) == 2  # 126 ids -> 100 + 26
    features = [audio_features_to_table(p, "x") for p, _ in batches]
    assert sum(f.num_rows for f in features) == 125  # the unknown id comes back null and is skipped
    assert spotify.tokens_issued == 1


def test_spotify_refreshes_an_expired_token_and_retries_429(spotify):
    spotify.state.retry_after_s = "0"
    c = spotify_client(spotify)
    list(c.search_tracks("genre:ambient", limit=50, max_results=50))
    spotify.queue("expire_token", "http_429")
    payload, _ = c.get("/search", q="genre:ambient", type="track", limit=10, offset=0)
    assert len(payload["tracks"]["items"]) == 10
    assert spotify.tokens_issued == 2


def test_spotify_rejects_bad_credentials(spotify):
    with pytest.raises(SourceError, match="SPOTIFY_CLIENT_ID"):
        SpotifyClient("", "")
    bad = SpotifyClient("cid", "wrong", spotify.url + "/api/token", spotify.url + "/v1",
                        RetryPolicy(max_attempts=2, base_delay_s=0.01))
    with pytest.raises(SourceError, match="invalid_client"):
        bad.token()
