"""Small local HTTP servers that speak the Last.fm 2.0 and Spotify Web API JSON formats, with injectable faults.

They bind 127.0.0.1 on a free port and serve from in-memory data; tests talk to them over real HTTP.
"""

from __future__ import annotations

import base64
import json
import threading
from collections import Counter, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

# Faults a test can queue; each is used by exactly one request, in order.
FAULTS = ("lastfm_error_29", "lastfm_error_6", "http_429", "http_500", "malformed_json", "expire_token", "http_404_html")


@dataclass
class Scrobble:
    uts: int
    artist: str
    track: str
    album: str = ""
    artist_mbid: str = ""
    track_mbid: str = ""


@dataclass
class EmulatorState:
    faults: deque[str] = field(default_factory=deque)
    requests: list[dict] = field(default_factory=list)
    retry_after_s: str = "1"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class _Base:
    handler_cls: type[BaseHTTPRequestHandler]

    def __init__(self) -> None:
        self.state = EmulatorState()
        emulator = self

        class Handler(self.handler_cls):  # type: ignore[misc, valid-type]
            owner = emulator

            def log_message(self, *args) -> None:  # keep test output quiet
                pass

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def queue(self, *faults: str) -> None:
        for f in faults:
            assert f in FAULTS, f
            self.state.faults.append(f)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


class _Handler(BaseHTTPRequestHandler):
    owner: _Base

    def _send(self, status: int, body: bytes, content_type: str = "application/json", headers: dict | None = None):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, obj, status: int = 200) -> None:
        self._send(status, json.dumps(obj).encode())

    def _generic_fault(self, fault: str) -> bool:
        if fault == "http_429":
            self._send(429, b'{"error": "rate limited"}', headers={"Retry-After": self.owner.state.retry_after_s})
        elif fault == "http_500":
            self._send(500, b"<html>Internal Server Error</html>", "text/html")
        elif fault == "malformed_json":
            self._send(200, b'{"recenttracks": {"track": [ {"artist": ')
        elif fault == "http_404_html":
            self._send(404, b"<html>not found</html>", "text/html")
        else:
            return False
        return True

    def _next_fault(self) -> str | None:
        faults = self.owner.state.faults
        return faults.popleft() if faults else None


class LastfmEmulator(_Base):
    """GET /2.0/?method=...: user.getRecentTracks, user.getTopArtists, user.getTopTracks, library.getArtists."""

    API_KEY = "test-key"

    def __init__(self, scrobbles: dict[str, list[Scrobble]], now_playing: dict[str, Scrobble] | None = None):
        self.scrobbles = scrobbles
        self.now_playing = now_playing or {}

        class Handler(_Handler):
            def do_GET(self) -> None:  # noqa: N802
                q = {k: v[0] for k, v in parse_qs(urlparse(self.path).query).items()}
                self.owner.state.requests.append(q)
                fault = self._next_fault()
                if fault and self._generic_fault(fault):
                    return
                if fault == "lastfm_error_29":
                    return self._json({"error": 29, "message": "Rate Limit Exceeded"})
                if fault == "lastfm_error_6":
                    return self._json({"error": 6, "message": "User not found"})
                if q.get("api_key") != LastfmEmulator.API_KEY:
                    return self._json({"error": 10, "message": "Invalid API key"}, 403)
                user = q.get("user", "")
                if user not in self.owner.scrobbles:
                    return self._json({"error": 6, "message": "User not found"}, 404)
                method = q.get("method", "").lower()
                handler = {
                    "user.getrecenttracks": self.owner.recent_tracks,
                    "user.gettopartists": self.owner.top_artists,
                    "user.gettoptracks": self.owner.top_tracks,
                    "library.getartists": self.owner.library_artists,
                }.get(method)
                if handler is None:
                    return self._json({"error": 3, "message": "Invalid Method"}, 400)
                self._json(handler(user, q))

        self.handler_cls = Handler
        super().__init__()

    @staticmethod
    def _page(items: list, q: dict) -> tuple[list, dict]:
        limit = int(q.get("limit", 50))
        page = int(q.get("page", 1))
        total_pages = max(1, -(-len(items) // limit))
        attr = {"page": str(page), "perPage": str(limit), "totalPages": str(total_pages), "total": str(len(items))}
        return items[(page - 1) * limit : page * limit], attr

    def recent_tracks(self, user: str, q: dict) -> dict:
        lo, hi = int(q.get("from", 0)), int(q.get("to", 2**40))
        plays = sorted((s for s in self.scrobbles[user] if lo <= s.uts <= hi), key=lambda s: -s.uts)
        items, attr = self._page(plays, q)
        tracks = [
            {"artist": {"mbid": s.artist_mbid, "#text": s.artist}, "streamable": "0", "mbid": s.track_mbid,
             "album": {"mbid": "", "#text": s.album}, "name": s.track, "url": "https://www.last.fm/music/x",
             "date": {"uts": str(s.uts), "#text": "01 Jan 2025, 00:00"}}
            for s in items
        ]
        np_track = self.now_playing.get(user)
        if np_track is not None and attr["page"] == "1":
            tracks.insert(0, {"artist": {"mbid": "", "#text": np_track.artist}, "name": np_track.track,
                              "album": {"mbid": "", "#text": np_track.album}, "@attr": {"nowplaying": "true"}})
        if len(tracks) == 1:
            return {"recenttracks": {"track": tracks[0], "@attr": {"user": user, **attr}}}  # Last.fm's single-item quirk
        return {"recenttracks": {"track": tracks, "@attr": {"user": user, **attr}}}

    def _artist_counts(self, user: str) -> list[tuple[str, int]]:
        return Counter(s.artist for s in self.scrobbles[user]).most_common()

    def top_artists(self, user: str, q: dict) -> dict:
        items, attr = self._page(self._artist_counts(user), q)
        return {"topartists": {"artist": [{"name": a, "playcount": str(n), "mbid": ""} for a, n in items],
                               "@attr": {"user": user, **attr}}}

    def library_artists(self, user: str, q: dict) -> dict:
        items, attr = self._page(self._artist_counts(user), q)
        return {"artists": {"artist": [{"name": a, "playcount": str(n), "mbid": ""} for a, n in items],
                            "@attr": {"user": user, **attr}}}

    def top_tracks(self, user: str, q: dict) -> dict:
        counts = Counter((s.artist, s.track) for s in self.scrobbles[user]).most_common()
        items, attr = self._page(counts, q)
        return {"toptracks": {"track": [{"name": t, "playcount": str(n), "artist": {"name": a}} for (a, t), n in items],
                              "@attr": {"user": user, **attr}}}


@dataclass
class SpotifyTrack:
    id: str
    name: str
    artists: list[str]
    album: str
    genre: str
    popularity: int = 50
    duration_ms: int = 200_000
    energy: float = 0.5
    valence: float = 0.5


class SpotifyEmulator(_Base):
    """POST /api/token (client credentials), GET /v1/search, GET /v1/audio-features."""

    CLIENT_ID, CLIENT_SECRET = "cid", "secret"

    def __init__(self, tracks: list[SpotifyTrack]):
        self.tracks = tracks
        self.valid_tokens: set[str] = set()
        self.tokens_issued = 0

        class Handler(_Handler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                self.owner.state.requests.append({"path": self.path, "body": body})
                expected = base64.b64encode(f"{SpotifyEmulator.CLIENT_ID}:{SpotifyEmulator.CLIENT_SECRET}".encode()).decode()
                if self.headers.get("Authorization") != f"Basic {expected}" or "grant_type=client_credentials" not in body:
                    return self._json({"error": "invalid_client"}, 400)
                self.owner.tokens_issued += 1
                token = f"token-{self.owner.tokens_issued}"
                self.owner.valid_tokens.add(token)
                self._json({"access_token": token, "token_type": "Bearer", "expires_in": 3600})

            def do_GET(self) -> None:  # noqa: N802
                parsed = urlparse(self.path)
                q = {k: v[0] for k, v in parse_qs(parsed.query).items()}
                self.owner.state.requests.append({"path": parsed.path, **q})
                fault = self._next_fault()
                if fault == "expire_token":
                    self.owner.valid_tokens.clear()
                elif fault and self._generic_fault(fault):
                    return
                token = self.headers.get("Authorization", "").removeprefix("Bearer ")
                if token not in self.owner.valid_tokens:
                    return self._json({"error": {"status": 401, "message": "The access token expired"}}, 401)
                if parsed.path == "/v1/search":
                    return self._json(self.owner.search(q))
                if parsed.path == "/v1/audio-features":
                    return self._json(self.owner.audio_features(q))
                self._json({"error": {"status": 404, "message": "Service not found"}}, 404)

        self.handler_cls = Handler
        super().__init__()

    def search(self, q: dict) -> dict:
        query = q.get("q", "")
        genre = query.split("genre:", 1)[1].strip('"') if "genre:" in query else None
        hits = [t for t in self.tracks if (genre is None and query.lower() in t.name.lower()) or t.genre == genre]
        limit, offset = int(q.get("limit", 20)), int(q.get("offset", 0))
        page = hits[offset : offset + limit]
        more = offset + limit < len(hits)
        return {"tracks": {
            "items": [{"id": t.id, "name": t.name, "popularity": t.popularity, "duration_ms": t.duration_ms,
                       "explicit": False, "artists": [{"name": a} for a in t.artists], "album": {"name": t.album}}
                      for t in page],
            "total": len(hits), "offset": offset, "limit": limit,
            "next": f"{self.url}/v1/search?offset={offset + limit}" if more else None,
        }}

    def audio_features(self, q: dict) -> dict:
        by_id = {t.id: t for t in self.tracks}
        ids = q.get("ids", "").split(",")
        assert len(ids) <= 100, "the real API rejects more than 100 ids"
        return {"audio_features": [
            {"id": i, "energy": by_id[i].energy, "valence": by_id[i].valence, "danceability": 0.5, "key": 5,
             "loudness": -7.0, "mode": 1, "speechiness": 0.05, "acousticness": 0.2, "instrumentalness": 0.0,
             "liveness": 0.1, "tempo": 120.0, "time_signature": 4} if i in by_id else None
            for i in ids
        ]}
