"""GET /health (the process is up) and GET /ready (model loaded, store reachable, what is served)."""

from __future__ import annotations

import msgspec
from litestar import Controller, Response
from litestar.status_codes import HTTP_200_OK, HTTP_503_SERVICE_UNAVAILABLE

from qa.api.routing import get_or_head
from qa.api.security import PUBLIC
from qa.service import QAService


class Health(msgspec.Struct):
    status: str


class Readiness(msgspec.Struct):
    ready: bool
    store: str
    store_mode: str
    embedder: str
    documents: int
    passages: int
    sentences: int
    detail: str | None = None


class HealthController(Controller):
    tags = ["operations"]
    opt = {PUBLIC: True}  # probes never need the API key

    @get_or_head("/health", sync_to_thread=False, summary="Liveness")
    def health(self) -> Health:
        return Health(status="ok")

    @get_or_head("/ready", sync_to_thread=True, summary="Readiness: model loaded and store reachable")
    def ready(self, service: QAService) -> Response[Readiness]:
        embedder = f"{service.settings.embedder}"
        try:
            service.store.generation()  # one small read: the store answers
            # What is served, as GET /documents lists it: the store's own counts also hold the
            # records of a write that failed part-way (not committed, never served).
            counts = service.corpus.counts()
        except Exception as exc:  # the store's client raises many kinds when the server is gone
            body = Readiness(ready=False, store="unreachable", store_mode=service.settings.store_mode,
                             embedder=embedder, documents=0, passages=0, sentences=0, detail=str(exc)[:300])
            return Response(body, status_code=HTTP_503_SERVICE_UNAVAILABLE)
        return Response(Readiness(ready=True, store="ok", store_mode=service.settings.store_mode, embedder=embedder,
                                  **counts), status_code=HTTP_200_OK)
