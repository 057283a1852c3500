"""HTTP for the push connectors: pooled urllib3 with timeouts, bounded retries of throttled
and failed answers, and logs that never carry credentials.

Each connector knows how its channel says "slow down" (Shopify: a GraphQL error with the
bucket's state; Amazon: 429 and its rate header), so the retry decision is a callback: it
looks at an answer and returns how long to wait before trying again, or None to accept it.
"""

import email.utils
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import urllib3

log = logging.getLogger("folio.publishing.connectors")

CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 60.0
MAX_ATTEMPTS = 5
# The longest a connector waits between two attempts, whatever the channel asks: a run
# holding its job for minutes on one throttled answer is worse than a per-item error.
MAX_WAIT = 60.0
BACKOFF_BASE = 0.5

_pool = urllib3.PoolManager(num_pools=8, maxsize=4, retries=False)


class Unreachable(Exception):
    """The channel could not be reached (or kept refusing) after every attempt."""


@dataclass
class Response:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes
    attempts: int = 1

    def json(self):
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            return None

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)


def retry_after(response: Response) -> float | None:
    """Seconds from a Retry-After header (delta seconds or an HTTP date)."""
    value = response.header("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def backoff(attempt: int) -> float:
    return min(MAX_WAIT, BACKOFF_BASE * 2 ** (attempt - 1))


def default_wait(response: Response, attempt: int) -> float | None:
    """Retry 429 and 5xx, honouring Retry-After; accept everything else."""
    if response.status == 429 or response.status >= 500:
        after = retry_after(response)
        return after if after is not None else backoff(attempt)
    return None


def where(url: str) -> str:
    """What a log line or a message may say about a URL: host and path, never the query."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def request(
    method: str,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    wait: Callable[[Response, int], float | None] = default_wait,
    max_attempts: int = MAX_ATTEMPTS,
    read_timeout: float = READ_TIMEOUT,
    before: Callable[[], object] | None = None,
) -> Response:
    """One request with bounded retries. Returns the last answer (which may still be a 429 or
    a 5xx when attempts ran out); raises Unreachable when no answer came at all. `before`
    runs ahead of every attempt (a rate limiter's turn)."""
    timeout = urllib3.Timeout(connect=CONNECT_TIMEOUT, read=read_timeout)
    for attempt in range(1, max_attempts + 1):
        if before is not None:
            before()
        try:
            raw = _pool.request(
                method,
                url,
                body=body,
                headers=headers or {},
                timeout=timeout,
                redirect=False,
                preload_content=True,
            )
        except urllib3.exceptions.HTTPError as exc:
            log.warning(
                "%s %s: attempt %d failed: %s", method, where(url), attempt, type(exc).__name__
            )
            if attempt == max_attempts:
                raise Unreachable(f"{method} {where(url)}: {type(exc).__name__}") from None
            _sleep(backoff(attempt))
            continue
        response = Response(
            raw.status, {k.lower(): v for k, v in raw.headers.items()}, raw.data or b"", attempt
        )
        delay = wait(response, attempt)
        log.info("%s %s → %d (attempt %d)", method, where(url), response.status, attempt)
        if delay is None or attempt == max_attempts:
            return response
        delay = min(MAX_WAIT, max(0.0, delay))
        log.info("%s %s: throttled or failed, retrying in %.2f s", method, where(url), delay)
        _sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


def _sleep(seconds: float) -> None:
    if seconds > 0:
        time.sleep(seconds)


class TokenBucket:
    """At most `rate` requests a second on average, bursts up to `burst`: the channel's usage
    plan, kept on our side so most requests never meet a 429."""

    def __init__(
        self,
        rate: float,
        burst: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = _sleep,
    ):
        self.rate = max(0.01, float(rate))
        self.burst = max(1.0, float(burst if burst is not None else rate))
        self.tokens = self.burst
        self.clock = clock
        self.sleep = sleep
        self.updated = clock()
        self.lock = threading.Lock()

    def slow_down(self, rate: float) -> None:
        """The channel said its plan is slower than ours (a rate-limit header)."""
        with self.lock:
            if 0 < rate < self.rate:
                self.rate = rate
                self.burst = max(1.0, min(self.burst, rate))
                self.tokens = min(self.tokens, self.burst)

    def take(self) -> float:
        """Take one token, waiting for it if needed; returns the seconds waited."""
        with self.lock:
            now = self.clock()
            self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
            self.updated = now
            if self.tokens >= 1:
                self.tokens -= 1
                return 0.0
            wait = (1 - self.tokens) / self.rate
            self.tokens = 0.0
            self.updated = now + wait
        self.sleep(wait)
        return wait
