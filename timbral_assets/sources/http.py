"""JSON over HTTP with the retries external music APIs need: exponential backoff with jitter,
Retry-After on 429, retries on 5xx and malformed JSON, then a clear error."""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import requests

from .errors import SourceError

log = logging.getLogger(__name__)


class RetryableResponse(Exception):
    """Raised by a response check to ask for another attempt (e.g. Last.fm error 29 inside a 200)."""

    def __init__(self, reason: str, retry_after: float | None = None):
        super().__init__(reason)
        self.reason, self.retry_after = reason, retry_after


@dataclass
class RetryPolicy:
    max_attempts: int = 6
    base_delay_s: float = 1.0
    max_delay_s: float = 60.0
    jitter: float = 0.5  # the delay is multiplied by a uniform factor in [1 - jitter, 1 + jitter]
    seed: int | None = None
    _rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        backoff = min(self.max_delay_s, self.base_delay_s * (2 ** attempt))
        jittered = backoff * self._rng.uniform(1 - self.jitter, 1 + self.jitter)
        return max(jittered, min(retry_after, self.max_delay_s)) if retry_after is not None else jittered


@dataclass
class JsonHttp:
    """GET/POST returning parsed JSON plus the raw body (which lands unchanged in the bucket)."""

    name: str
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    timeout_s: float = 30.0
    min_interval_s: float = 0.0  # spacing between requests, to stay under the API's rate limit
    interval_jitter_s: float = 0.0  # plus a random extra of up to this, so requests never beat in step
    session: requests.Session = field(default_factory=requests.Session)
    sleep: Callable[[float], None] = time.sleep
    attempts_log: list[str] = field(default_factory=list)
    _last_request: float = field(default=0.0, repr=False)

    def _throttle(self) -> None:
        extra = self.policy._rng.uniform(0, self.interval_jitter_s) if self.interval_jitter_s else 0.0
        wait = self._last_request + self.min_interval_s + extra - time.monotonic()
        if wait > 0:
            self.sleep(wait)
        self._last_request = time.monotonic()

    def request(self, method: str, url: str, check: Callable[[dict, int], None] | None = None, **kwargs) -> tuple[dict, bytes]:
        last_reason = ""
        for attempt in range(self.policy.max_attempts):
            retry_after = None
            self._throttle()
            try:
                resp = self.session.request(method, url, timeout=self.timeout_s, **kwargs)
            except requests.RequestException as exc:
                last_reason = f"connection failed: {exc.__class__.__name__}: {exc}"
            else:
                if resp.status_code == 429:
                    last_reason = "HTTP 429 rate limited"
                    retry_after = _retry_after(resp.headers.get("Retry-After"))
                elif resp.status_code >= 500:
                    last_reason = f"HTTP {resp.status_code} server error"
                elif resp.status_code >= 400 and not _is_json(resp):
                    raise SourceError(f"{self.name}: HTTP {resp.status_code} for {method} {_safe(url)}: {resp.text[:200]}")
                else:
                    try:
                        payload = json.loads(resp.content)
                    except ValueError as exc:
                        last_reason = f"malformed JSON ({exc.msg} at char {exc.pos})"
                    else:
                        try:
                            if check is not None:
                                check(payload, resp.status_code)
                            elif resp.status_code >= 400:
                                raise SourceError(f"{self.name}: HTTP {resp.status_code}: {str(payload)[:200]}")
                            return payload, resp.content
                        except RetryableResponse as retry:
                            last_reason, retry_after = retry.reason, retry.retry_after
            self.attempts_log.append(last_reason)
            if attempt + 1 < self.policy.max_attempts:
                wait = self.policy.delay(attempt, retry_after)
                log.warning("%s: %s; retry %d/%d in %.2fs", self.name, last_reason, attempt + 1,
                            self.policy.max_attempts - 1, wait)
                self.sleep(wait)
        raise SourceError(
            f"{self.name}: gave up on {method} {_safe(url)} after {self.policy.max_attempts} attempts; "
            f"last problem: {last_reason}"
        )


def _is_json(resp: requests.Response) -> bool:
    return "json" in resp.headers.get("Content-Type", "")


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _safe(url: str) -> str:
    return url.split("?")[0]
