"""Rate limiting per client: each calling system (its token's client id) may make
BSS_RATE_LIMIT_PER_MINUTE API requests a minute, up to that many at once after a quiet
minute (a token bucket: pyrate-limiter's GCRA, a few numbers per client). A request over
the limit is answered 429 with `Retry-After` (seconds) and the TMF error body, before its
body is read or validated.

Placed after authentication (handlers/auth.py), which names the client; requests refused
there (401) are not counted. The limits are kept by each server process: with BSS_WORKERS
processes a client may make up to that many times the limit.
"""

from __future__ import annotations

import math

from connexion.exceptions import ProblemException
from pyrate_limiter import (
    AbstractClock,
    Duration,
    MonotonicClock,
    Rate,
    RateItem,
    StateBucket,
    TokenBucket,
)
from starlette.types import ASGIApp, Receive, Scope, Send

from adapters import acting
from handlers.auth import API_PREFIX

# clients whose buckets are kept; past it they are all forgotten (each then starts afresh
# with a full bucket): memory stays bounded whatever the number of clients
MAX_CLIENTS = 10_000


class ClientRates:
    """A token bucket per client."""

    def __init__(self, per_minute: int, clock: AbstractClock | None = None) -> None:
        self.per_minute = per_minute
        self._rate = Rate(per_minute, Duration.MINUTE)
        self._clock = clock or MonotonicClock()
        self._buckets: dict[str, StateBucket] = {}

    def wait_ms(self, client: str) -> int:
        """0 when `client` may make a request now (and it is counted), else the
        milliseconds until it may."""
        bucket = self._buckets.get(client)
        if bucket is None:
            if len(self._buckets) >= MAX_CLIENTS:
                self._buckets.clear()
            bucket = StateBucket([self._rate], TokenBucket(), clock=self._clock)
            self._buckets[client] = bucket
        item = RateItem(client, bucket.now(), 1)
        if bucket.put(item):
            return 0
        return max(1, int(bucket.waiting(item)))


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp, rates: ClientRates) -> None:
        self.app = app
        self.rates = rates

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(API_PREFIX):
            client = acting.principal().client_id
            wait = self.rates.wait_ms(client)
            if wait:
                seconds = math.ceil(wait / 1000)
                raise ProblemException(
                    status=429,
                    detail=f"more than {self.rates.per_minute} requests a minute from client "
                    f"'{client}'; retry in {seconds} s",
                    headers={"Retry-After": str(seconds)},
                )
        await self.app(scope, receive, send)
