"""A Last.fm API 2.0 client: user.getRecentTracks (paged, from/to), user.getTopArtists, user.getTopTracks,
library.getArtists. Rate-limit errors (29) and HTTP 429 back off and retry; other API errors fail clearly."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pyarrow as pa

from .errors import SourceError
from .http import JsonHttp, RetryableResponse, RetryPolicy
from .scrobble_files import FILE_SCROBBLE_SCHEMA, stable_scrobble_id

DEFAULT_BASE_URL = "https://ws.audioscrobbler.com/2.0/"
DEFAULT_MIN_INTERVAL_S = 0.2  # Last.fm's terms ask for no more than 5 requests per second
RETRYABLE_API_ERRORS = {8: "operation failed", 11: "service offline", 16: "temporarily unavailable",
                        29: "rate limit exceeded"}


class LastfmApiError(SourceError):
    def __init__(self, code: int, message: str, method: str):
        self.code = code
        super().__init__(f"Last.fm {method} failed with error {code}: {message}")


@dataclass(frozen=True)
class Page:
    method: str
    params: dict
    page: int
    total_pages: int
    body: bytes
    payload: dict


@dataclass
class LastfmClient:
    api_key: str
    base_url: str = DEFAULT_BASE_URL
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    min_interval_s: float = DEFAULT_MIN_INTERVAL_S
    http: JsonHttp | None = None

    def __post_init__(self) -> None:
        if not self.api_key:
            raise SourceError("Last.fm needs an API key: set LASTFM_API_KEY (https://www.last.fm/api/account/create)")
        self.http = self.http or JsonHttp("Last.fm", self.policy, min_interval_s=self.min_interval_s)

    def call(self, method: str, **params) -> tuple[dict, bytes]:
        query = {"method": method, "api_key": self.api_key, "format": "json", **params}

        def check(payload: dict, status: int) -> None:
            if isinstance(payload, dict) and "error" in payload:
                code = int(payload["error"])
                if code in RETRYABLE_API_ERRORS:
                    raise RetryableResponse(f"Last.fm error {code} ({RETRYABLE_API_ERRORS[code]})")
                raise LastfmApiError(code, str(payload.get("message", "")), method)
            if status >= 400:
                raise SourceError(f"Last.fm {method}: HTTP {status} without an error code")

        return self.http.request("GET", self.base_url, check=check, params=query)

    def pages(self, method: str, root: str, limit: int = 200, max_pages: int | None = None, **params) -> Iterator[Page]:
        page, total = 1, 1
        while page <= total and (max_pages is None or page <= max_pages):
            payload, body = self.call(method, limit=limit, page=page, **params)
            try:
                attr = payload[root]["@attr"]
                total = int(attr.get("totalPages", 1))
            except (KeyError, TypeError, ValueError):
                raise SourceError(f"Last.fm {method}: the response has no {root}.@attr.totalPages") from None
            yield Page(method, params, page, total, body, payload)
            page += 1

    def recent_tracks(self, user: str, from_ts: int, to_ts: int, limit: int = 200) -> Iterator[Page]:
        """Plays of `user` with from_ts <= uts < to_ts (Last.fm's `to` is inclusive, so we pass to_ts - 1)."""
        return self.pages("user.getRecentTracks", "recenttracks", limit=limit, user=user,
                          extended=0, **{"from": from_ts, "to": to_ts - 1})

    def top_artists(self, user: str, period: str = "overall", limit: int = 200, max_pages: int | None = None):
        return self.pages("user.getTopArtists", "topartists", limit=limit, max_pages=max_pages, user=user, period=period)

    def top_tracks(self, user: str, period: str = "overall", limit: int = 200, max_pages: int | None = None):
        return self.pages("user.getTopTracks", "toptracks", limit=limit, max_pages=max_pages, user=user, period=period)

    def library_artists(self, user: str, limit: int = 200, max_pages: int | None = None):
        return self.pages("library.getArtists", "artists", limit=limit, max_pages=max_pages, user=user)


def _text(value) -> str | None:
    if isinstance(value, dict):
        value = value.get("#text") or value.get("name")
    if value is None:
        return None
    value = str(value).strip()
    return value or None


def recent_tracks_to_table(page: Page, user: str, source_file: str) -> pa.Table:
    """Parse one getRecentTracks page; the now-playing entry has no date and is not a scrobble yet."""
    tracks = page.payload["recenttracks"].get("track", [])
    if isinstance(tracks, dict):  # Last.fm returns an object, not a list, for a single track
        tracks = [tracks]
    cols: dict[str, list] = {name: [] for name in FILE_SCROBBLE_SCHEMA.names}
    for i, t in enumerate(tracks):
        date = t.get("date")
        if not date or (t.get("@attr") or {}).get("nowplaying") == "true":
            continue
        uts = int(date["uts"])
        artist, title = _text(t.get("artist")), _text(t.get("name"))
        if not artist or not title:
            continue
        played = uts * 1_000_000
        artist_mbid = (t.get("artist") or {}).get("mbid") if isinstance(t.get("artist"), dict) else None
        album = t.get("album") if isinstance(t.get("album"), dict) else {}
        cols["scrobble_id"].append(stable_scrobble_id(user, played, artist, title))
        cols["user_id"].append(user)
        cols["played_at"].append(played)
        cols["artist_name"].append(artist)
        cols["track_name"].append(title)
        cols["album_name"].append(_text(album))
        cols["artist_mbid"].append(artist_mbid or None)
        cols["track_mbid"].append(t.get("mbid") or None)
        cols["album_mbid"].append(album.get("mbid") or None)
        cols["duration_ms"].append(None)
        cols["source_file"].append(source_file)
        cols["source_line"].append(i + 1)
    arrays = [pa.array(cols[f.name], type=pa.int64()).cast(f.type) if f.name == "played_at"
              else pa.array(cols[f.name], type=f.type) for f in FILE_SCROBBLE_SCHEMA]
    return pa.Table.from_arrays(arrays, schema=FILE_SCROBBLE_SCHEMA)
