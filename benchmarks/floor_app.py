"""The benchmark's floor: a bare Litestar app whose one endpoint does only what every
/ask must do at least, embed the question and fetch its nearest sentences from Chroma.
/ask's latency over this app's, measured in the same run, is the service's own overhead.

Started by bench_server.py as its own server process, with the settings (QA_* variables)
of the server it is compared with:
    python -m uvicorn floor_app:create_app --factory --app-dir benchmarks --port 8010
(--app-dir, not `benchmarks.floor_app`: pysbd installs a top-level package named `benchmarks`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import msgspec
from litestar import Litestar, post
from litestar.datastructures import State

from config import load_settings
from index.embedding import load_embedder
from index.store import Store
from qa.retrieval import DENSE_SENTENCES


class FloorRequest(msgspec.Struct):
    question: str


class FloorResponse(msgspec.Struct):
    ids: list[str]
    similarities: list[float]


@post("/floor", status_code=200, sync_to_thread=True)  # run like /ask: in the worker thread pool
def floor(data: FloorRequest, state: State) -> FloorResponse:
    vector = state.embedder.embed([data.question])[0]
    ids, similarities = state.store.query_sentences(vector, DENSE_SENTENCES)
    return FloorResponse(ids=ids, similarities=similarities)


def create_app() -> Litestar:
    settings = load_settings()

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        app.state.store = Store.open(settings)
        app.state.embedder = load_embedder(settings)
        yield

    return Litestar(route_handlers=[floor], lifespan=[lifespan])
