"""Local HTTP emulators of the outside services enrichment asks, serving the synthetic world's truth:

- `MusicBrainzEmulator`: ws/2 JSON recording search and release lookup (with label-info), as MusicBrainz
  writes them. It enforces MusicBrainz's rate limit, one request per second by default, by answering 503 to
  a request that comes too soon, and refuses requests without a descriptive User-Agent.
- `StoreEmulator`: a record store's search and track pages in several HTML styles, some with broken markup,
  and a robots.txt with a Crawl-delay.

Neither knows every track, and a few answers are wrong, as in life. Both bind 127.0.0.1 on a free port and
never reach beyond it. Tests and benchmarks start them; `make run` does not.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pyarrow.parquet as pq

from ...resolution.text import fold, fold_artist


def _unit(*parts) -> float:
    """A deterministic uniform [0, 1) draw per key, so a service's knowledge does not depend on call order."""
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


@dataclass(frozen=True)
class WorldTrack:
    index: int
    artist: str
    title: str
    album: str
    album_id: str
    label: str
    release_year: int
    track_mbid: str
    artist_id: str


def load_world_tracks(world: Path) -> list[WorldTrack]:
    t = pq.read_table(Path(world) / "truth/tracks.parquet").to_pylist()
    return [WorldTrack(i, r["artist"], r["title"], r["album"], r["true_album_id"], r["label"], int(r["release_year"]),
                       r["track_mbid"], r["true_artist_id"]) for i, r in enumerate(t)]


class _Server(HTTPServer):
    allow_reuse_address = True


class _Emulator:
    """One HTTP server in a daemon thread; requests are served one at a time, as they arrive."""

    def __init__(self) -> None:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                status, body, content_type = owner.handle(self)
                data = body.encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.requests: list[tuple[float, str]] = []

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def handle(self, request: BaseHTTPRequestHandler) -> tuple[int, str, str]:
        raise NotImplementedError

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


_PHRASE = re.compile(r'(recording|artist):"((?:[^"\\]|\\.)*)"')


class MusicBrainzEmulator(_Emulator):
    """GET /ws/2/recording?query=recording:"T" AND artist:"A"&fmt=json and GET /ws/2/release/<id>?inc=labels.

    Knowledge, per track: in MusicBrainz with probability `coverage`; its release carries the right label
    (`label_right`), another label (`label_wrong`) or none."""

    def __init__(self, tracks: list[WorldTrack], min_interval_s: float = 1.0, coverage: float = 0.65,
                 label_right: float = 0.90, label_wrong: float = 0.03, seed: int = 0) -> None:
        super().__init__()
        self.min_interval_s = min_interval_s
        self.rate_limited = 0  # requests answered 503 for coming too soon
        self.forced_503 = 0  # the next n requests get a 503 whatever their timing (a busy server)
        self._last = 0.0
        labels = sorted({t.label for t in tracks})
        self.by_key: dict[tuple[str, str], list[WorldTrack]] = {}
        self.by_title: dict[str, list[WorldTrack]] = {}
        self.releases: dict[str, dict] = {}
        for t in tracks:
            if _unit(seed, "mb", t.index) >= coverage:
                continue
            self.by_key.setdefault((fold_artist(t.artist), fold(t.title)), []).append(t)
            self.by_title.setdefault(fold(t.title), []).append(t)
            if t.album_id not in self.releases:
                r = _unit(seed, "mb-label", t.album_id)
                label = (t.label if r < label_right else
                         labels[int(_unit(seed, "wrong", t.album_id) * len(labels))] if r < label_right + label_wrong
                         else None)
                info = [{"catalog-number": f"{label[:3].upper()}-{t.index:05d}",
                         "label": {"id": hashlib.md5(label.encode()).hexdigest(), "name": label, "sort-name": label}}
                        ] if label else []
                self.releases[t.album_id] = {"id": t.album_id, "title": t.album, "status": "Official",
                                             "date": str(t.release_year), "label-info": info}

    def handle(self, request) -> tuple[int, str, str]:
        now = time.monotonic()
        self.requests.append((now, request.path))
        too_soon = now - self._last < self.min_interval_s * 0.98
        self._last = now
        agent = request.headers.get("User-Agent", "")
        if not agent or agent.startswith("python-requests") or "(" not in agent:
            return 403, json.dumps({"error": "a descriptive User-Agent is required"}), "application/json"
        if too_soon or self.forced_503 > 0:
            self.forced_503 = max(0, self.forced_503 - 1)
            self.rate_limited += too_soon
            return 503, json.dumps({"error": "Your requests are exceeding the allowable rate limit. "
                                             "Please see https://wiki.musicbrainz.org/XMLWebService for more "
                                             "information."}), "application/json"
        url = urlparse(request.path)
        params = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path == "/ws/2/recording":
            return 200, json.dumps(self.search(params.get("query", ""), int(params.get("limit", 25)))), "application/json"
        if url.path.startswith("/ws/2/release/"):
            release = self.releases.get(url.path.rsplit("/", 1)[1])
            if release is None:
                return 404, json.dumps({"error": "Not Found"}), "application/json"
            return 200, json.dumps(release), "application/json"
        return 400, json.dumps({"error": "Invalid resource"}), "application/json"

    def search(self, query: str, limit: int) -> dict:
        fields = {k: v.replace('\\"', '"').replace("\\\\", "\\") for k, v in _PHRASE.findall(query)}
        title, artist = fold(fields.get("recording", "")), fold_artist(fields.get("artist", ""))
        exact = self.by_key.get((artist, title), [])
        same_title = [t for t in self.by_title.get(title, []) if t not in exact][:3]
        hits = [(100, t) for t in exact] + [(62, t) for t in same_title]
        return {"created": "2026-01-01T00:00:00.000Z", "count": len(hits), "offset": 0,
                "recordings": [self._recording(t, score) for score, t in hits[:limit]]}

    @staticmethod
    def _recording(t: WorldTrack, score: int) -> dict:
        return {"id": t.track_mbid, "score": score, "title": t.title, "length": None, "video": None,
                "artist-credit": [{"name": t.artist, "artist": {"id": t.artist_id, "name": t.artist,
                                                                "sort-name": t.artist}}],
                "releases": [{"id": t.album_id, "title": t.album, "status": "Official", "date": str(t.release_year)}]}


PAGE_STYLES = ("meta", "definition_list", "table", "text", "broken")


class StoreEmulator(_Emulator):
    """GET /robots.txt, /search?q=<artist> <title>, /track/<n>: a record store that lists `coverage` of the
    tracks, credits the right label on most pages, a wrong one on `label_wrong`, and none on some."""

    def __init__(self, tracks: list[WorldTrack], crawl_delay_s: float = 1.0, coverage: float = 0.40,
                 label_wrong: float = 0.04, no_label: float = 0.10, seed: int = 0) -> None:
        super().__init__()
        self.crawl_delay_s = crawl_delay_s
        self.too_fast = 0  # requests that came sooner than the Crawl-delay asks
        self._last = 0.0
        labels = sorted({t.label for t in tracks})
        self.pages: dict[int, tuple[WorldTrack, str | None, str]] = {}
        self.by_query: dict[str, list[int]] = {}
        for t in tracks:
            if _unit(seed, "store", t.index) >= coverage:
                continue
            r = _unit(seed, "store-label", t.index)
            label = (None if r < no_label else
                     labels[int(_unit(seed, "store-wrong", t.index) * len(labels))] if r < no_label + label_wrong
                     else t.label)
            style = PAGE_STYLES[int(_unit(seed, "style", t.index) * len(PAGE_STYLES))]
            self.pages[t.index] = (t, label, style)
            self.by_query.setdefault(fold(f"{t.artist} {t.title}"), []).append(t.index)

    def handle(self, request) -> tuple[int, str, str]:
        now = time.monotonic()
        self.requests.append((now, request.path))
        if now - self._last < self.crawl_delay_s * 0.98:
            self.too_fast += 1
        self._last = now
        url = urlparse(request.path)
        if url.path == "/robots.txt":
            return 200, f"User-agent: *\nCrawl-delay: {self.crawl_delay_s:g}\nDisallow: /private/\n", "text/plain"
        if url.path == "/search":
            q = fold(parse_qs(url.query).get("q", [""])[0])
            items = "".join(
                f'<li class="result"><a href="/track/{i}"><span class="artist">{html.escape(self.pages[i][0].artist)}'
                f'</span> – <span class="title">{html.escape(self.pages[i][0].title)}</span></a></li>'
                for i in self.by_query.get(q, []))
            return 200, f"<html><body><h1>Results</h1><ul>{items}</ul></body></html>", "text/html; charset=utf-8"
        if url.path.startswith("/track/"):
            try:
                t, label, style = self.pages[int(url.path.rsplit("/", 1)[1])]
            except (KeyError, ValueError):
                return 404, "<html><body>Not found</body></html>", "text/html"
            return 200, track_page(t, label, style), "text/html; charset=utf-8"
        return 404, "<html><body>Not found</body></html>", "text/html"


def track_page(t: WorldTrack, label: str | None, style: str) -> str:
    """A store's track page in one of several markup styles."""
    a, ti, al = html.escape(t.artist), html.escape(t.title), html.escape(t.album)
    lab = html.escape(label) if label else ""
    head = f"<html><head><title>{ti} by {a}</title>"
    if style == "meta":
        return (head + (f'<meta property="music:label" content="{lab}">' if label else "")
                + f"</head><body><h1>{ti}</h1><p>{a} — {al}</p></body></html>")
    if style == "definition_list":
        row = f"<dt>Label</dt><dd><a href='/label/x'>{lab}</a></dd>" if label else ""
        return head + f"</head><body><h1>{ti}</h1><dl><dt>Artist</dt><dd>{a}</dd>{row}<dt>Year</dt><dd>{t.release_year}</dd></dl></body></html>"
    if style == "table":
        row = f"<tr><th>Record label</th><td>{lab}</td></tr>" if label else ""
        return head + f"</head><body><table><tr><th>Release</th><td>{al}</td></tr>{row}</table></body></html>"
    if style == "text":
        line = f"<p>Label: {lab}</p>" if label else "<p>Format: Digital</p>"
        return head + f"</head><body><div class='credits'><p>Released {t.release_year}</p>{line}</div></body></html>"
    # broken: unclosed tags, a stray end tag and an unquoted attribute, as scraped pages often are
    credit = f"<li class=label>Label: {lab}" if label else "<li>Catalogue: n/a"
    return (f"<html><head><title>{ti}</head><body><div class=main><ul><li>Artist: {a}<li>Album: {al}"
            f"</b>{credit}<li>Year: {t.release_year}</ul><div><p>Buy now")
