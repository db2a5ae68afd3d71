"""A Spotify Web API client: client-credentials token, track search and audio features."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pyarrow as pa

from .errors import SourceError
from .http import JsonHttp, RetryPolicy
from .metadata_files import AUDIO_FEATURE_FIELDS, AUDIO_FEATURES_SCHEMA, SPOTIFY_TRACKS_SCHEMA

DEFAULT_TOKEN_URL = "https://accounts.spotify.com/api/token"
DEFAULT_API_URL = "https://api.spotify.com/v1"


@dataclass
class SpotifyClient:
    client_id: str
    client_secret: str
    token_url: str = DEFAULT_TOKEN_URL
    api_url: str = DEFAULT_API_URL
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    http: JsonHttp | None = None
    _token: str | None = None
    _token_expires: float = 0.0

    def __post_init__(self) -> None:
        if not self.client_id or not self.client_secret:
            raise SourceError("Spotify needs SPOTIFY_CLIENT_ID and SPOTIFY_CLIENT_SECRET (client-credentials flow)")
        self.http = self.http or JsonHttp("Spotify", self.policy)

    def token(self) -> str:
        if self._token is None or time.time() > self._token_expires - 30:
            payload, _ = self.http.request("POST", self.token_url, data={"grant_type": "client_credentials"},
                                           auth=(self.client_id, self.client_secret))
            if "access_token" not in payload:
                raise SourceError(f"Spotify token endpoint answered without access_token: {str(payload)[:200]}")
            self._token = payload["access_token"]
            self._token_expires = time.time() + float(payload.get("expires_in", 3600))
        return self._token

    def get(self, path: str, **params) -> tuple[dict, bytes]:
        def check(payload: dict, status: int) -> None:
            if status == 401:
                raise _Unauthorised()
            if status >= 400:
                error = payload.get("error") if isinstance(payload, dict) else None
                message = error.get("message", error) if isinstance(error, dict) else payload
                raise SourceError(f"Spotify GET {path} failed with HTTP {status}: {str(message)[:200]}")

        for _attempt in range(2):
            try:
                return self.http.request("GET", f"{self.api_url}{path}", check=check, params=params,
                                         headers={"Authorization": f"Bearer {self.token()}"})
            except _Unauthorised:
                self._token = None  # expired or revoked: fetch a new token once
        raise SourceError(f"Spotify GET {path}: still unauthorised after refreshing the token")

    def search_tracks(self, query: str, limit: int = 50, max_results: int = 1000) -> Iterator[tuple[dict, bytes]]:
        offset = 0
        while offset < max_results:
            payload, body = self.get("/search", q=query, type="track", limit=limit, offset=offset)
            yield payload, body
            items = payload.get("tracks", {}).get("items", [])
            if not items or not payload["tracks"].get("next"):
                break
            offset += len(items)

    def audio_features(self, track_ids: list[str]) -> Iterator[tuple[dict, bytes]]:
        for start in range(0, len(track_ids), 100):  # the API takes at most 100 ids per call
            yield self.get("/audio-features", ids=",".join(track_ids[start : start + 100]))


def search_page_to_table(payload: dict, genre: str | None, source_file: str) -> pa.Table:
    cols: dict[str, list] = {n: [] for n in SPOTIFY_TRACKS_SCHEMA.names}
    for i, item in enumerate(payload.get("tracks", {}).get("items", [])):
        if not item or not item.get("id"):
            continue
        cols["spotify_track_id"].append(item["id"])
        cols["artists"].append([a.get("name") for a in item.get("artists", []) if a.get("name")])
        cols["album_name"].append((item.get("album") or {}).get("name"))
        cols["track_name"].append(item.get("name"))
        cols["popularity"].append(item.get("popularity"))
        cols["duration_ms"].append(item.get("duration_ms"))
        cols["explicit"].append(item.get("explicit"))
        cols["track_genre"].append(genre)
        cols["source_file"].append(source_file)
        cols["source_line"].append(i + 1)
    return pa.table(cols, schema=SPOTIFY_TRACKS_SCHEMA)


def audio_features_to_table(payload: dict, source_file: str) -> pa.Table:
    cols: dict[str, list] = {n: [] for n in AUDIO_FEATURES_SCHEMA.names}
    for i, item in enumerate(payload.get("audio_features") or []):
        if not item:  # the API returns null for ids it has no features for
            continue
        cols["spotify_track_id"].append(item["id"])
        for f in AUDIO_FEATURE_FIELDS:
            value = item.get(f)
            cols[f].append(None if value is None else (int(value) if f in ("key", "mode", "time_signature") else float(value)))
        cols["source_file"].append(source_file)
        cols["source_line"].append(i + 1)
    return pa.table(cols, schema=AUDIO_FEATURES_SCHEMA)


class _Unauthorised(Exception):
    pass
