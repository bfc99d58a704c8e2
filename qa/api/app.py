"""The Litestar application: controllers, dependency injection, the lifespan hook that
loads the model and opens the store once per process, error mapping and OpenAPI."""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar, Request, Response, Router
from litestar.di import Provide
from litestar.exceptions import HTTPException
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.status_codes import (HTTP_400_BAD_REQUEST, HTTP_404_NOT_FOUND, HTTP_500_INTERNAL_SERVER_ERROR,
                                   HTTP_503_SERVICE_UNAVAILABLE, HTTP_507_INSUFFICIENT_STORAGE)

from config import Settings, load_settings
from index.store import StoreUnavailable
from index.writefaults import DiskFull, WriterBusy
from qa import lexicon
from qa.api.apidocs import SCHEMA_PATH, api_docs_asset, page_headers, render_plugins
from qa.api.ask import AskController
from qa.api.bodies import check_json_body
from qa.api.citations import CitationController, ReferenceController
from qa.api.cors import cors_config
from qa.api.dependencies import provide_service
from qa.api.feeds import FeedController
from qa.api.health import HealthController
from qa.api.metrics import MetricsController, prometheus_config
from qa.api.queries import STATE_KEY, check_query, declared_query_parameters
from qa.api.ratelimit import rate_limit_configs
from qa.api.replication import ReadModelController
from qa.api.request_ids import RequestIdMiddleware, add_request_id_header, install_logging
from qa.api.routing import HeadToo
from qa.api.search import SearchController
from qa.api.security import API_KEY_HEADER, PUBLIC, api_key_guard
from qa.api.static import StaticController
from qa.api.stream import StreamController
from qa.api.uploads import DocumentWriteController, upload_file
from qa.feeds import BackgroundPoller
from qa.filters import UnknownDocuments
from qa.service import QAService

log = logging.getLogger("qa.api")
GIL_SWITCH_SECONDS = 0.001


def _store_unavailable(_: Request, exc: Exception) -> Response:
    return Response({"status_code": 503, "detail": f"the document store is unavailable: {exc}"},
                    status_code=HTTP_503_SERVICE_UNAVAILABLE)


def _disk_full(_: Request, exc: Exception) -> Response:
    return Response({"status_code": 507, "detail": str(exc)}, status_code=HTTP_507_INSUFFICIENT_STORAGE)


def _writer_busy(_: Request, exc: Exception) -> Response:
    return Response({"status_code": 503, "detail": str(exc)}, status_code=HTTP_503_SERVICE_UNAVAILABLE,
                    headers={"Retry-After": "30"})


def _unknown_documents(_: Request, exc: Exception) -> Response:
    return Response({"status_code": 404, "detail": str(exc)}, status_code=HTTP_404_NOT_FOUND)


def _too_deep(_: Request, exc: Exception) -> Response:
    # msgspec decodes request bodies recursively: a 2 KB body of nested arrays exhausts the stack.
    return Response({"status_code": 400, "detail": "the JSON body is nested too deeply"},
                    status_code=HTTP_400_BAD_REQUEST)


def _unexpected(request: Request, exc: Exception) -> Response:
    if isinstance(exc, HTTPException):
        return Response({"status_code": exc.status_code, "detail": exc.detail, **({"extra": exc.extra} if exc.extra else {})},
                        status_code=exc.status_code, headers=exc.headers)
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return Response({"status_code": 500, "detail": "internal error; the incident was logged"},
                    status_code=HTTP_500_INTERNAL_SERVER_ERROR)


async def _check_request(request: Request) -> None:
    """Before each handler: no query parameter the route does not take, and a JSON body as
    the schema says."""
    check_query(request)
    await check_json_body(request)


def create_app(settings: Settings | None = None, service: QAService | None = None) -> Litestar:
    """Build the app. Tests pass a ready service; servers let the lifespan hook open one."""
    settings = settings or load_settings()
    install_logging()

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        # A write's pure-Python work (sentence splitting) holds the GIL for up to the switch
        # interval each time a request's thread wants it back: 5 ms by default, many times per /ask.
        sys.setswitchinterval(GIL_SWITCH_SECONDS)
        app.state.service = service or QAService.open(settings)
        lexicon.load()  # quote verification's word lists and frequencies (0.6 s), read now, not on a first request
        # Feeds polled in the background by one process of the deployment (a lock in the data dir);
        # a service passed in is the caller's, and so is polling for it.
        poller = BackgroundPoller(app.state.service.feeds, app.state.service.refresh) \
            if service is None and settings.feeds_poll != "off" else None
        if poller is not None:
            poller.start()
        try:
            yield
        finally:
            if poller is not None:
                poller.stop()
            if service is None:  # a service passed in belongs to the caller
                app.state.service.close()

    app = Litestar(
        route_handlers=[AskController, StreamController, SearchController, HealthController, CitationController,
                        ReferenceController, StaticController, MetricsController, ReadModelController, FeedController,
                        # Reads and writes of /documents; article uploads may be larger than any other request.
                        Router("/", route_handlers=[DocumentWriteController, upload_file],
                               request_max_body_size=settings.max_upload_bytes)],
        dependencies={"service": Provide(provide_service, sync_to_thread=False)},
        lifespan=[lifespan],
        guards=[api_key_guard(settings)],
        before_request=_check_request,
        before_send=[add_request_id_header],
        # Outermost first: the access log and the metrics see every response, 429s included.
        middleware=[RequestIdMiddleware(), prometheus_config().middleware,
                    *(limit.middleware for limit in rate_limit_configs(settings))],
        exception_handlers={StoreUnavailable: _store_unavailable, DiskFull: _disk_full, WriterBusy: _writer_busy,
                            UnknownDocuments: _unknown_documents,
                            RecursionError: _too_deep, Exception: _unexpected},
        openapi_config=OpenAPIConfig(title="News QA", version="0.1.0",
                                     description="Extractive, citation-first answers over a news collection.",
                                     render_plugins=render_plugins(),
                                     openapi_router=HeadToo(SCHEMA_PATH, route_handlers=[api_docs_asset],
                                                            opt={PUBLIC: True}, include_in_schema=False,
                                                            after_request=page_headers),
                                     components=Components(security_schemes={"apiKey": SecurityScheme(
                                         type="apiKey", name=API_KEY_HEADER, security_scheme_in="header")})),
        request_max_body_size=settings.max_request_bytes,
        cors_config=cors_config(settings),
    )
    app.state[STATE_KEY] = declared_query_parameters(app)
    return app
