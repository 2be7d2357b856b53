"""Bounded retries with exponential backoff, full jitter, and `Retry-After` honoured."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

from pydantic import BaseModel, Field


class RetryPolicy(BaseModel):
    """How often and how patiently a provider retries a failed request."""

    max_tries: int = Field(5, ge=1, description="attempts per prompt, the first included; then the prompt is given up")
    base_delay: float = Field(0.5, ge=0, description="seconds before the first retry; doubles each retry")
    max_delay: float = Field(30.0, ge=0, description="cap on one backoff wait, seconds")
    max_retry_after: float = Field(120.0, ge=0, description="cap on a server's Retry-After, seconds")

    def backoff(self, attempt: int, rng: random.Random | None = None) -> float:
        """Wait before retry number `attempt` (1-based): full jitter in [0.5, 1] x min(cap, base x 2^(attempt-1))."""
        cap = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return cap * (0.5 + 0.5 * (rng or random).random())

    def wait(self, attempt: int, retry_after: float | None) -> float:
        """The server's Retry-After when it sent one (capped, plus up to 10% jitter), else the backoff."""
        if retry_after is not None and retry_after >= 0:
            return min(retry_after, self.max_retry_after) * (1 + 0.1 * random.random())
        return self.backoff(attempt)


def parse_retry_after(headers) -> float | None:
    """Seconds from `retry-after-ms`, `retry-after` (seconds or an HTTP date), or None."""
    if headers is None:
        return None
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return float(ms) / 1000
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


@dataclass
class RetryStats:
    """Counts of what happened on the wire, for the run summary."""

    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    server_errors: int = 0
    timeouts: int = 0
    connection_errors: int = 0
    malformed: int = 0
    given_up: int = 0
