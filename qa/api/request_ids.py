"""Request ids: every response carries an X-Request-ID (the caller's, when it is a sane
token, else a new one), and every log line written while serving it names it, so that a
user's report can be matched to the server's log. One access line is logged per request,
with the status the client got (499 when it hung up first, see qa/api/outcomes.py).

The middleware picks the id and logs; the header is added by an app-level before_send hook,
because the responses to routing errors (an unknown path: 404, 405) are sent from outside
the middleware stack."""

from __future__ import annotations

import logging
import re
import sys
import time
import uuid
from contextvars import ContextVar

from litestar.datastructures import Headers, MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from qa.api.outcomes import Outcome

HEADER = "X-Request-ID"
_SAFE = re.compile(r"[A-Za-z0-9._:-]{1,128}")  # anything else could forge log lines or headers
_SCOPE_KEY = "qa_request_id"
current: ContextVar[str] = ContextVar("request_id", default="-")
access_log = logging.getLogger("qa.access")


class RequestIdFilter(logging.Filter):
    """Adds `request_id` to every record (thread-pool handlers inherit the context)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current.get()
        return True


_HANDLER = logging.StreamHandler(sys.stderr)
_HANDLER.addFilter(RequestIdFilter())
_HANDLER.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"))


def install_logging() -> None:
    """Send the service's own log lines (the `qa` loggers) to stderr with their request id."""
    logger = logging.getLogger("qa")
    if _HANDLER not in logger.handlers:
        logger.addHandler(_HANDLER)
        logger.setLevel(logging.INFO)
        logger.propagate = False  # the CLI's root handler would print them a second time


class RequestIdMiddleware(ASGIMiddleware):
    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        request_id = _request_id(scope)
        token = current.set(request_id)
        started = time.perf_counter()
        outcome = Outcome(receive, send)
        try:
            await next_app(scope, outcome.receive, outcome.send)
        finally:
            # raw_path keeps its percent-encoding: a path cannot forge a line break in the log.
            access_log.info("%s %s %d %.1f ms", scope["method"], scope["raw_path"].decode("latin-1"), outcome.status,
                            (time.perf_counter() - started) * 1000)
            current.reset(token)


def _request_id(scope: Scope) -> str:
    """The request's id, chosen once: the caller's if it is a sane token, else a new one."""
    state = scope.setdefault("state", {})
    if _SCOPE_KEY not in state:
        offered = Headers.from_scope(scope).get(HEADER, "")
        state[_SCOPE_KEY] = offered if _SAFE.fullmatch(offered) else uuid.uuid4().hex
    return state[_SCOPE_KEY]


async def add_request_id_header(message: Message, scope: Scope) -> None:
    """before_send hook: put the id on every HTTP response the app sends."""
    if message["type"] == "http.response.start":
        MutableScopeHeaders.from_message(message)[HEADER] = _request_id(scope)
