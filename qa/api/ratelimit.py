"""Per-client rate limiting (Litestar's RateLimitConfig, keyed by client address), with a
Retry-After on the 429 so that well-behaved clients know when to come back.

The counters live in the process's memory: each worker or replica limits on its own."""

from __future__ import annotations

import msgspec
from litestar.exceptions import TooManyRequestsException
from litestar.middleware.rate_limit import RateLimitConfig, RateLimitMiddleware
from litestar.response.base import ASGIResponse
from litestar.status_codes import HTTP_429_TOO_MANY_REQUESTS
from litestar.types import Receive, Scope, Send

from config import Settings

UNLIMITED_PATHS = ["^/health$", "^/ready$", "^/metrics$"]  # probes and scrapers must never be throttled


class RetryAfterRateLimitMiddleware(RateLimitMiddleware):
    """Answers the 429 itself, rather than raising it past the outer middleware, so that
    the request id and the metrics see it too."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        except TooManyRequestsException as exc:
            headers = dict(exc.headers or {})
            wait = max(1, int(headers.get(self.config.rate_limit_reset_header_key, "1")))
            headers["Retry-After"] = str(wait)
            body = msgspec.json.encode({"status_code": HTTP_429_TOO_MANY_REQUESTS,
                                        "detail": f"too many requests: at most {self.max_requests} per {self.unit}; "
                                                  f"retry in {wait} s"})
            await ASGIResponse(body=body, status_code=HTTP_429_TOO_MANY_REQUESTS, headers=headers,
                               media_type="application/json")(scope, receive, send)


def rate_limit_config(settings: Settings) -> RateLimitConfig | None:
    if settings.rate_limit_per_minute <= 0:
        return None
    return RateLimitConfig(rate_limit=("minute", settings.rate_limit_per_minute), exclude=UNLIMITED_PATHS,
                           middleware_class=RetryAfterRateLimitMiddleware)
