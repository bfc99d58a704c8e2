"""Who may call what: an API key, compared in constant time, guards every write and, when
`read_requires_key` is set, every read. Route handlers mark themselves through `opt`:
WRITE (changes the corpus), REPLICAS (for other replicas only: a copy of the read model,
hundreds of megabytes per request, is no public read) or PUBLIC (probes, metrics, API docs,
the widget's files)."""

from __future__ import annotations

import hmac

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.types import Guard

from config import Settings

WRITE = "write"
REPLICAS = "replicas"
PUBLIC = "public"
API_KEY_HEADER = "X-API-Key"
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="qa"'}


def presented_key(connection: ASGIConnection) -> str | None:
    """The key sent as `X-API-Key: KEY` or `Authorization: Bearer KEY`, if any."""
    if key := connection.headers.get(API_KEY_HEADER):
        return key
    scheme, _, token = connection.headers.get("authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def api_key_guard(settings: Settings) -> Guard:
    configured = settings.api_key.encode()

    # async: Litestar runs a sync guard in its thread pool, a round trip on every request
    async def guard(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
        writes, replicas = bool(handler.opt.get(WRITE)), bool(handler.opt.get(REPLICAS))
        if not writes and not replicas and (handler.opt.get(PUBLIC) or not settings.read_requires_key):
            return
        if not configured:
            # An unset key must never mean "open": refuse until the operator sets one.
            what = "writes are" if writes else "copies of the read model are" if replicas else "reads are"
            raise PermissionDeniedException(f"{what} disabled: the server has no API key configured (set QA_API_KEY)")
        key = presented_key(connection)
        if key is None:
            raise NotAuthorizedException(f"this endpoint needs an API key: send it in the {API_KEY_HEADER} header "
                                         "or as Authorization: Bearer <key>", headers=_CHALLENGE)
        if not hmac.compare_digest(key.encode(), configured):
            raise NotAuthorizedException("invalid API key", headers=_CHALLENGE)

    return guard
