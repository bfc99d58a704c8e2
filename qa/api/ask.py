"""POST /ask: a question in, an extractive answer with citations out."""

from __future__ import annotations

from litestar import Controller, post
from litestar.status_codes import HTTP_200_OK

from qa.schemas import AskRequest, AskResponse
from qa.service import QAService


class AskController(Controller):
    path = "/ask"
    tags = ["answers"]

    @post(status_code=HTTP_200_OK, sync_to_thread=True, summary="Answer a question with quoted, cited sentences")
    def ask(self, data: AskRequest, service: QAService) -> AskResponse:
        doc_ids = data.filters.doc_ids if data.filters else None
        return service.ask(data.question, data.top_k, doc_ids)
