"""The label hunter: three sources in order, each found label with its source and a confidence (0.60-0.95).

1. the track's own titles ("[Glass Records]"): instant and free;
2. MusicBrainz: a recording search, then the release's label-info (1 request/s);
3. store pages: label credits scraped at a configured base URL (the store's own delays).

Per-source statistics (tried, found, not found, errors, requests, cache hits, seconds) accumulate over a run.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

from ..sources.errors import SourceError
from .musicbrainz import MusicBrainzClient
from .musicbrainz import find_label as musicbrainz_label
from .scraper import StoreScraper
from .title_labels import label_from_titles

SOURCES = ("title", "musicbrainz", "store_page")


@dataclass(frozen=True)
class TrackToEnrich:
    track_id: str
    artist: str
    title: str
    titles: tuple[str, ...] = ()  # every spelling the track was scrobbled under
    release_year: int | None = None


@dataclass(frozen=True)
class LabelFinding:
    label: str
    source: str
    confidence: float
    detail: str = ""  # the title, MusicBrainz ids or page URL it came from


@dataclass(frozen=True)
class HuntOutcome:
    track_id: str
    finding: LabelFinding | None
    remote_tried: bool  # a remote source was asked: the attempt counts against the track's budget
    error: str | None = None  # a source that kept failing, when nothing was found


@dataclass
class SourceStats:
    tried: int = 0
    found: int = 0
    not_found: int = 0
    errors: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return {k: round(v, 3) if isinstance(v, float) else v for k, v in asdict(self).items()}


@dataclass
class LabelHunter:
    musicbrainz: MusicBrainzClient | None = None
    store: StoreScraper | None = None
    stats: dict[str, SourceStats] = field(default_factory=lambda: {s: SourceStats() for s in SOURCES})

    @property
    def remote_sources(self) -> list[str]:
        return [name for name, client in (("musicbrainz", self.musicbrainz), ("store_page", self.store)) if client]

    def hunt(self, track: TrackToEnrich, remote: bool = True) -> HuntOutcome:
        """Try the sources in order and stop at the first label. `remote=False` tries the titles only."""
        found = self._try("title", lambda: self._from_titles(track))
        if found is not None or not remote or not self.remote_sources:
            return HuntOutcome(track.track_id, found, remote_tried=False)
        errors = []
        for name, ask in (("musicbrainz", self._from_musicbrainz), ("store_page", self._from_store)):
            if name not in self.remote_sources:
                continue
            try:
                found = self._try(name, lambda ask=ask: ask(track))
            except SourceError as exc:
                errors.append(f"{name}: {exc}")
                continue
            if found is not None:
                return HuntOutcome(track.track_id, found, remote_tried=True)
        return HuntOutcome(track.track_id, None, remote_tried=True,
                           error="; ".join(errors) if errors else "no source knows its label")

    def _try(self, name: str, ask) -> LabelFinding | None:
        stats = self.stats[name]
        stats.tried += 1
        start = time.perf_counter()
        try:
            found = ask()
        except SourceError:
            stats.errors += 1
            raise
        finally:
            stats.seconds += time.perf_counter() - start
        if found is None:
            stats.not_found += 1
        else:
            stats.found += 1
        return found

    @staticmethod
    def _from_titles(track: TrackToEnrich) -> LabelFinding | None:
        parsed = label_from_titles([track.title, *track.titles])
        return LabelFinding(parsed.label, "title", parsed.confidence, parsed.form) if parsed else None

    def _from_musicbrainz(self, track: TrackToEnrich) -> LabelFinding | None:
        hit = musicbrainz_label(self.musicbrainz, track.artist, track.title)
        return LabelFinding(hit.label, "musicbrainz", hit.confidence,
                            f"recording {hit.recording_id}, release {hit.release_id}") if hit else None

    def _from_store(self, track: TrackToEnrich) -> LabelFinding | None:
        hit = self.store.find_label(track.artist, track.title)
        return LabelFinding(hit.label, "store_page", hit.confidence, hit.url) if hit else None

    def stats_dict(self) -> dict[str, dict]:
        out = {name: s.as_dict() for name, s in self.stats.items()}
        for name, client in (("musicbrainz", self.musicbrainz), ("store_page", self.store)):
            if client is not None:
                out[name] |= {"requests": client.requests_made, "cache_hits": client.cache_hits}
        return out
