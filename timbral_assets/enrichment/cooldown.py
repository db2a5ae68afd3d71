"""The cool-down retry policy: when a track whose enrichment failed is tried again, and when it is given up.

States: pending -> enriched | (failed ->) cooling_down -> due again at `retry_after` -> ... -> exhausted.
A failed attempt is recorded as the attempt's outcome; the track's status goes straight to cooling_down, or to
exhausted after the last allowed attempt. Delays are deterministic per (track, attempt), so a rerun of the
same input gives the same table, and jittered by up to ±10%, so a thousand failures of one night come due
over several days instead of on one.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

PENDING, ENRICHED, COOLING_DOWN, EXHAUSTED = "pending", "enriched", "cooling_down", "exhausted"
STATUSES = (PENDING, ENRICHED, COOLING_DOWN, EXHAUSTED)
STRATEGIES = ("fixed", "exponential", "adaptive")


@dataclass(frozen=True)
class CooldownPolicy:
    strategy: str = "adaptive"
    max_attempts: int = 5
    jitter: float = 0.10  # every delay is multiplied by a factor in [1 - jitter, 1 + jitter]
    fixed_days: float = 30.0
    exponential_first_days: float = 7.0
    multiplier: float = 2.0  # exponential and adaptive: the delay grows by this per repeated failure
    adaptive_default_days: float = 30.0
    adaptive_labelled_days: float = 60.0  # the artist already has a known label: this track can wait longer
    adaptive_recent_days: float = 45.0  # a recent release: the databases are still catching up with it
    recent_release_years: int = 2
    max_delay_days: float = 365.0

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ValueError(f"unknown cool-down strategy {self.strategy!r}; known: {', '.join(STRATEGIES)}")
        if not 0 <= self.jitter < 1 or self.max_attempts < 1 or self.multiplier < 1:
            raise ValueError("need 0 <= jitter < 1, max_attempts >= 1 and multiplier >= 1")

    def base_delay_days(self, failures: int, has_label: bool = False, recent_release: bool = False) -> float:
        """The delay after the `failures`-th failed attempt (1 = the first), before jitter."""
        n = max(1, failures)
        if self.strategy == "fixed":
            days = self.fixed_days
        elif self.strategy == "exponential":
            days = self.exponential_first_days * self.multiplier ** (n - 1)
        else:
            start = (self.adaptive_labelled_days if has_label
                     else self.adaptive_recent_days if recent_release else self.adaptive_default_days)
            days = start * self.multiplier ** (n - 1)
        return min(days, self.max_delay_days)

    def jitter_factor(self, track_id: str, failures: int) -> float:
        digest = hashlib.sha256(f"{track_id}\x1f{failures}".encode()).digest()
        unit = int.from_bytes(digest[:8], "big") / 2**64  # uniform in [0, 1)
        return 1.0 + self.jitter * (2.0 * unit - 1.0)

    def delay(self, track_id: str, failures: int, has_label: bool = False, recent_release: bool = False) -> timedelta:
        days = self.base_delay_days(failures, has_label, recent_release) * self.jitter_factor(track_id, failures)
        return timedelta(seconds=round(days * 86_400))

    def is_recent(self, release_year: int | None, now: datetime) -> bool:
        return release_year is not None and release_year >= now.year - self.recent_release_years


@dataclass(frozen=True)
class QueueEntry:
    track_id: str
    status: str = PENDING
    retry_attempts: int = 0
    retry_after: datetime | None = None
    cooldown_strategy: str = "adaptive"
    last_attempt_at: datetime | None = None
    last_error: str | None = None


def after_attempt(entry: QueueEntry, found: bool, now: datetime, policy: CooldownPolicy, has_label: bool = False,
                  release_year: int | None = None, error: str | None = None) -> QueueEntry:
    """The entry once an attempt has been made: enriched, cooling down until its next retry, or exhausted."""
    if entry.status in (ENRICHED, EXHAUSTED):
        raise ValueError(f"{entry.track_id} is {entry.status}: no more attempts")
    attempts = entry.retry_attempts + 1
    if found:
        return replace(entry, status=ENRICHED, retry_attempts=attempts, retry_after=None,
                       cooldown_strategy=policy.strategy, last_attempt_at=now, last_error=None)
    if attempts >= policy.max_attempts:
        return replace(entry, status=EXHAUSTED, retry_attempts=attempts, retry_after=None,
                       cooldown_strategy=policy.strategy, last_attempt_at=now, last_error=error)
    wait = policy.delay(entry.track_id, attempts, has_label, policy.is_recent(release_year, now))
    return replace(entry, status=COOLING_DOWN, retry_attempts=attempts, retry_after=now + wait,
                   cooldown_strategy=policy.strategy, last_attempt_at=now, last_error=error)


def is_due(entry: QueueEntry, now: datetime) -> bool:
    """Pending, or cooling down with its retry time reached."""
    return entry.status == PENDING or (entry.status == COOLING_DOWN and entry.retry_after is not None
                                       and entry.retry_after <= now)
