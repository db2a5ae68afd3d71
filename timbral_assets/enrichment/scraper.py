"""Label credits scraped from record-store pages: the label hunter's last resort.

The store is any site at a configured base URL that answers `GET /search?q=<artist> <title>` with result
links and serves a page per track. A label credit is read from whichever of these the page has, most
structured first: `<meta property="music:label">`, a `Label` term in a `<dt>/<dd>` or `<th>/<td>` pair, an
element of class `label`, or a line of text "Label: X". Pages are parsed leniently (broken markup is
common), `robots.txt` is read once: its Crawl-delay (when longer than ours) spaces the requests and its
Disallow lines are obeyed. Pages are cached in the bucket like MusicBrainz responses.
"""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode, urljoin, urlparse

import requests
from bs4 import BeautifulSoup

from ..bucket import Bucket
from ..resolution.text import fold, fold_artist
from ..sources.errors import SourceError
from .musicbrainz import DEFAULT_USER_AGENT

CACHE_PREFIX = "store_pages/cache"
STRUCTURED_CONFIDENCE = 0.65  # a labelled field on a store page
LOOSE_CONFIDENCE = 0.60  # "Label: X" somewhere in the text
_LOOSE = re.compile(r"^\s*(record\s+)?label\s*[:\-–]\s*(.{2,80}?)\s*$", re.I)


@dataclass(frozen=True)
class ScrapedLabel:
    label: str
    confidence: float
    url: str


@dataclass(frozen=True)
class RobotsRules:
    crawl_delay_s: float | None = None
    disallow: tuple[str, ...] = ()

    def allows(self, path: str) -> bool:
        return not any(rule and path.startswith(rule) for rule in self.disallow)


def parse_robots(text: str, user_agent: str) -> RobotsRules:
    """The rules of the group for our agent's product token, else for '*'."""
    token = user_agent.split("/")[0].strip().lower()
    groups: dict[str, dict] = {}
    agents: list[str] = []
    last_was_agent = False
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if ":" not in line:
            continue
        key, value = (part.strip() for part in line.split(":", 1))
        key = key.lower()
        if key == "user-agent":
            agents = agents + [value.lower()] if last_was_agent else [value.lower()]
            for a in agents:
                groups.setdefault(a, {"delay": None, "disallow": []})
            last_was_agent = True
            continue
        last_was_agent = False
        for a in agents:
            if key == "crawl-delay":
                try:
                    groups[a]["delay"] = float(value)
                except ValueError:
                    pass
            elif key == "disallow":
                groups[a]["disallow"].append(value)
    group = groups.get(token) or groups.get("*") or {"delay": None, "disallow": []}
    return RobotsRules(group["delay"], tuple(group["disallow"]))


def label_from_page(html: str) -> tuple[str, float] | None:
    """The label credit on a track page, with the confidence its form deserves."""
    soup = BeautifulSoup(html, "html.parser")
    meta = soup.find("meta", attrs={"property": "music:label"})
    if meta and meta.get("content", "").strip():
        return meta["content"].strip(), STRUCTURED_CONFIDENCE
    for term in soup.find_all(["dt", "th"]):
        if fold(term.get_text()) in ("label", "record label"):
            value = term.find_next(["dd", "td"])
            if value and value.get_text(strip=True):
                return " ".join(value.get_text(" ", strip=True).split()), STRUCTURED_CONFIDENCE
    for element in soup.select(".label, [itemprop=recordLabel]"):
        # its own text only: in broken markup (an unclosed <li>) the next items nest inside it
        own = "".join(element.find_all(string=True, recursive=False)) or element.get_text(" ")
        text = " ".join(own.split())
        m = _LOOSE.match(text)
        text = m.group(2) if m else text
        if text:
            return text, STRUCTURED_CONFIDENCE
    for string in soup.stripped_strings:
        m = _LOOSE.match(string)
        if m:
            return m.group(2), LOOSE_CONFIDENCE
    return None


def result_links(html: str, artist: str, title: str) -> list[str]:
    """Links of search results whose text names both the artist and the title, best first."""
    soup = BeautifulSoup(html, "html.parser")
    want_artist, want_title = fold_artist(artist), fold(title)
    links = []
    for a in soup.find_all("a", href=True):
        artist_el, title_el = a.find(class_="artist"), a.find(class_="title")
        if artist_el is not None and title_el is not None:
            ok = fold_artist(artist_el.get_text()) == want_artist and fold(title_el.get_text()) == want_title
        else:
            text = fold(a.get_text(" "))
            ok = bool(want_title) and want_title in text and fold(artist) in text
        if ok:
            links.append(a["href"])
    return links


@dataclass
class StoreScraper:
    base_url: str
    user_agent: str = DEFAULT_USER_AGENT
    min_delay_s: float = 1.0  # between requests; robots.txt's Crawl-delay wins when longer
    cache: Bucket | None = None
    timeout_s: float = 20.0
    requests_made: int = 0
    cache_hits: int = 0
    _session: requests.Session = field(default_factory=requests.Session, repr=False)
    _robots: RobotsRules | None = field(default=None, repr=False)
    _last_request: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        self._session.headers.update({"User-Agent": self.user_agent})

    @property
    def delay_s(self) -> float:
        crawl = self.robots().crawl_delay_s
        return max(self.min_delay_s, crawl or 0.0)

    def robots(self) -> RobotsRules:
        if self._robots is None:
            try:
                text = self._fetch(urljoin(self.base_url, "/robots.txt"), self.min_delay_s)
            except SourceError:
                text = ""  # no robots.txt: only our own delay applies
            self._robots = parse_robots(text, self.user_agent)
        return self._robots

    def _fetch(self, url: str, delay_s: float) -> str:
        key = f"{CACHE_PREFIX}/{hashlib.sha256(url.encode()).hexdigest()}.html"
        if self.cache is not None and self.cache.exists(key):
            self.cache_hits += 1
            return self.cache.read_bytes(key).decode("utf-8", "replace")
        wait = self._last_request + delay_s - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        self._last_request = time.monotonic()
        self.requests_made += 1
        try:
            resp = self._session.get(url, timeout=self.timeout_s)
        except requests.RequestException as exc:
            raise SourceError(f"store: {url.split('?')[0]}: {exc.__class__.__name__}: {exc}") from exc
        if resp.status_code == 404:
            return ""
        if resp.status_code >= 400:
            raise SourceError(f"store: HTTP {resp.status_code} for {url.split('?')[0]}")
        text = resp.content.decode(resp.encoding or "utf-8", "replace")
        if self.cache is not None:
            self.cache.put_bytes(key, text.encode())
        return text

    def get(self, url: str) -> str | None:
        """A page, or None when robots.txt disallows it."""
        if not self.robots().allows(urlparse(url).path or "/"):
            return None
        return self._fetch(url, self.delay_s)

    def find_label(self, artist: str, title: str, max_pages: int = 2) -> ScrapedLabel | None:
        search_url = urljoin(self.base_url, "/search") + "?" + urlencode({"q": f"{artist} {title}"})
        page = self.get(search_url)
        for href in result_links(page or "", artist, title)[:max_pages]:
            url = urljoin(self.base_url, href)
            found = label_from_page(self.get(url) or "")
            if found:
                return ScrapedLabel(found[0], found[1], url)
        return None
