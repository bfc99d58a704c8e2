"""The Litestar application: controllers, dependency injection, the lifespan hook that
loads the model and opens the store once per process, error mapping and OpenAPI."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar, Request, Response
from litestar.di import Provide
from litestar.exceptions import HTTPException
from litestar.openapi import OpenAPIConfig
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR, HTTP_503_SERVICE_UNAVAILABLE

from config import Settings, load_settings
from index.store import StoreUnavailable
from qa.api.ask import AskController
from qa.api.dependencies import provide_service
from qa.api.documents import DocumentController
from qa.api.health import HealthController
from qa.api.search import SearchController
from qa.service import QAService

log = logging.getLogger("qa.api")


def _store_unavailable(_: Request, exc: Exception) -> Response:
    return Response({"status_code": 503, "detail": f"the document store is unavailable: {exc}"},
                    status_code=HTTP_503_SERVICE_UNAVAILABLE)


def _unexpected(request: Request, exc: Exception) -> Response:
    if isinstance(exc, HTTPException):
        return Response({"status_code": exc.status_code, "detail": exc.detail, **({"extra": exc.extra} if exc.extra else {})},
                        status_code=exc.status_code, headers=exc.headers)
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return Response({"status_code": 500, "detail": "internal error; the incident was logged"},
                    status_code=HTTP_500_INTERNAL_SERVER_ERROR)


def create_app(settings: Settings | None = None, service: QAService | None = None) -> Litestar:
    """Build the app. Tests pass a ready service; servers let the lifespan hook open one."""
    settings = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        app.state.service = service or QAService.open(settings)
        yield

    return Litestar(
        route_handlers=[AskController, SearchController, DocumentController, HealthController],
        dependencies={"service": Provide(provide_service, sync_to_thread=False)},
        lifespan=[lifespan],
        exception_handlers={StoreUnavailable: _store_unavailable, Exception: _unexpected},
        openapi_config=OpenAPIConfig(title="News QA", version="0.1.0", path="/schema",
                                     description="Extractive, citation-first answers over a news collection."),
        request_max_body_size=settings.max_request_bytes,
    )
