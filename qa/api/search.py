"""GET /search: ranked passages for a query (hybrid BM25 + dense)."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller
from litestar.di import Provide
from litestar.params import Parameter

from qa.api.filters import provide_query_filters
from qa.api.routing import get_or_head
from qa.schemas import Filters, SearchResponse
from qa.service import QAService


class SearchController(Controller):
    path = "/search"
    tags = ["retrieval"]
    dependencies = {"filters": Provide(provide_query_filters, sync_to_thread=False)}

    @get_or_head(sync_to_thread=True, summary="Ranked passages for a query")
    def search(
        self,
        service: QAService,
        q: Annotated[str, Parameter(min_length=1, max_length=1000, pattern=r"\S", description="Query text")],
        filters: Filters,
        k: Annotated[int, Parameter(ge=1, le=50, description="Number of passages")] = 10,
    ) -> SearchResponse:
        return service.search(q, k, filters)
