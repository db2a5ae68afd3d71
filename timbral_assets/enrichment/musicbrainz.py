"""A MusicBrainz web service (ws/2, JSON) client that keeps to MusicBrainz's rules, and the label lookup built on it.

The rules (musicbrainz.org/doc/MusicBrainz_API/Rate_Limiting): at most one request per second, a
User-Agent naming the application, its version and a contact, and backing off when the server answers 503.
Every response is cached in the bucket by its URL, so a retried track, a rerun or a second home costs no
request.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from urllib.parse import urlencode

import requests

from ..bucket import Bucket
from ..resolution.text import fold, fold_artist
from ..sources.errors import SourceError
from ..sources.http import JsonHttp, RetryPolicy

DEFAULT_USER_AGENT = "Timbral/0.1 ( https://github.com/timbral/timbral ; timbral@example.org )"
CACHE_PREFIX = "musicbrainz/cache"
NO_LABEL = "[no label]"  # MusicBrainz's special label for self-released records


def lucene_phrase(text: str) -> str:
    """A quoted Lucene phrase: quotes and backslashes escaped."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass
class MusicBrainzClient:
    base_url: str  # e.g. https://musicbrainz.org/ws/2
    user_agent: str = DEFAULT_USER_AGENT
    min_interval_s: float = 1.0
    interval_jitter_s: float = 0.1
    cache: Bucket | None = None
    max_attempts: int = 5
    requests_made: int = 0
    cache_hits: int = 0
    _http: JsonHttp = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.user_agent or "/" not in self.user_agent:
            raise ValueError("MusicBrainz needs a User-Agent of the form 'Application/version ( contact )'")
        session = requests.Session()
        session.headers.update({"User-Agent": self.user_agent, "Accept": "application/json"})
        # backoff on 503 starts at twice the interval: the server says we were too fast
        policy = RetryPolicy(max_attempts=self.max_attempts, base_delay_s=max(2 * self.min_interval_s, 0.01),
                             max_delay_s=60.0, jitter=0.2, seed=0)
        self._http = JsonHttp("MusicBrainz", policy=policy, min_interval_s=self.min_interval_s,
                              interval_jitter_s=self.interval_jitter_s, session=session, timeout_s=30.0)

    def get(self, path: str, params: dict) -> dict:
        url = f"{self.base_url.rstrip('/')}/{path.lstrip('/')}?{urlencode(sorted({**params, 'fmt': 'json'}.items()))}"
        key = f"{CACHE_PREFIX}/{hashlib.sha256(url.encode()).hexdigest()}.json"
        if self.cache is not None and self.cache.exists(key):
            try:
                cached = json.loads(self.cache.read_bytes(key))
            except ValueError:
                cached = None  # a write cut short by a crash: ask again
            if cached is not None:
                self.cache_hits += 1
                return cached
        self.requests_made += 1
        payload, body = self._http.request("GET", url, check=_check)
        if self.cache is not None:
            self.cache.put_bytes(key, body)
        return payload

    def search_recordings(self, artist: str, title: str, limit: int = 5) -> list[dict]:
        query = f"recording:{lucene_phrase(title)} AND artist:{lucene_phrase(artist)}"
        return self.get("recording", {"query": query, "limit": limit}).get("recordings", [])

    def release_labels(self, release_id: str) -> list[str]:
        release = self.get(f"release/{release_id}", {"inc": "labels"})
        names = [(li.get("label") or {}).get("name") for li in release.get("label-info") or []]
        return [n for n in dict.fromkeys(names) if n and n != NO_LABEL]


def _check(payload: dict, status: int) -> None:
    if status >= 400:
        raise SourceError(f"MusicBrainz: HTTP {status}: {payload.get('error', payload)}")


@dataclass(frozen=True)
class MusicBrainzLabel:
    label: str
    confidence: float
    recording_id: str
    release_id: str


def credited_artist(recording: dict) -> str:
    return "".join(c.get("name", "") + c.get("joinphrase", "") for c in recording.get("artist-credit") or [])


def find_label(client: MusicBrainzClient, artist: str, title: str, max_releases: int = 2) -> MusicBrainzLabel | None:
    """The label of the first release of the best recording whose title and credited artist both match.
    Confidence: 0.90 for a search score of 95 or more and one label, 0.80 for several labels on the
    release (the first is taken) or a lower score."""
    want_title, want_artist = fold(title), fold_artist(artist)
    matches = [r for r in client.search_recordings(artist, title)
               if fold(r.get("title")) == want_title and fold_artist(credited_artist(r)) == want_artist]
    for recording in sorted(matches, key=lambda r: -int(r.get("score") or 0)):
        for release in (recording.get("releases") or [])[:max_releases]:
            labels = client.release_labels(release["id"])
            if labels:
                strong = int(recording.get("score") or 0) >= 95 and len(labels) == 1
                return MusicBrainzLabel(labels[0], 0.90 if strong else 0.80, recording["id"], release["id"])
        break  # the best match's releases carry no label; lesser matches are other recordings
    return None
