"""Per-client rate limiting (Litestar's RateLimitConfig, keyed by client address), with a
Retry-After on the 429 so that well-behaved clients know when to come back.

Two budgets: every request counts against the general one; requests to handlers marked
EXPENSIVE (those whose CPU cost grows with the input, like quote lookup) also count against a
lower one, so that a few clients cannot starve the questions of everyone else.

The counters live in the process's memory: each worker or replica limits on its own."""

from __future__ import annotations

import msgspec
from litestar import Request
from litestar.exceptions import TooManyRequestsException
from litestar.middleware.rate_limit import RateLimitConfig, RateLimitMiddleware, get_remote_address
from litestar.response.base import ASGIResponse
from litestar.status_codes import HTTP_429_TOO_MANY_REQUESTS
from litestar.types import Receive, Scope, Send

from config import Settings

UNLIMITED_PATHS = ["^/health$", "^/ready$", "^/metrics$"]  # probes and scrapers must never be throttled
EXPENSIVE = "expensive"  # handler opt key: the request also counts against the expensive budget


def client_address(request: Request) -> str:
    """The client a request comes from: the connection's peer, which uvicorn replaces with the
    X-Forwarded-For address only behind the proxies listed in `trusted_proxies` (`qa serve`),
    so that a client cannot name itself another. The rate limits count by it, and a client's
    conversations are bounded by it."""
    return get_remote_address(request)


class RetryAfterRateLimitMiddleware(RateLimitMiddleware):
    """Answers the 429 itself, rather than raising it past the outer middleware, so that
    the request id and the metrics see it too."""

    scope_note = ""  # what the limit applies to, in the 429's message

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        except TooManyRequestsException as exc:
            headers = dict(exc.headers or {})
            wait = max(1, int(headers.get(self.config.rate_limit_reset_header_key, "1")))
            headers["Retry-After"] = str(wait)
            body = msgspec.json.encode({"status_code": HTTP_429_TOO_MANY_REQUESTS,
                                        "detail": f"too many requests: at most {self.max_requests} per {self.unit}"
                                                  f"{self.scope_note}; retry in {wait} s"})
            await ASGIResponse(body=body, status_code=HTTP_429_TOO_MANY_REQUESTS, headers=headers,
                               media_type="application/json")(scope, receive, send)


class ExpensiveRateLimitMiddleware(RetryAfterRateLimitMiddleware):
    """The lower budget of EXPENSIVE handlers (its own class: Litestar keys counters by class name)."""

    scope_note = " on expensive endpoints"


async def _is_expensive(request: Request) -> bool:
    # async: Litestar runs a sync check in its thread pool, a round trip on every request
    return bool(request.route_handler.opt.get(EXPENSIVE))


def rate_limit_configs(settings: Settings) -> list[RateLimitConfig]:
    """The configured limits, outermost first: the expensive budget wraps the general one so
    that its (lower) RateLimit-* headers are the ones a client of an expensive endpoint sees."""
    configs = []
    if settings.expensive_rate_limit_per_minute > 0:
        configs.append(RateLimitConfig(rate_limit=("minute", settings.expensive_rate_limit_per_minute),
                                       check_throttle_handler=_is_expensive, identifier_for_request=client_address,
                                       middleware_class=ExpensiveRateLimitMiddleware))
    if settings.rate_limit_per_minute > 0:
        configs.append(RateLimitConfig(rate_limit=("minute", settings.rate_limit_per_minute), exclude=UNLIMITED_PATHS,
                                       identifier_for_request=client_address,
                                       middleware_class=RetryAfterRateLimitMiddleware))
    return configs
