"""POST /ask: a question (optionally a follow-up in a conversation) in, an extractive answer with citations out."""

from __future__ import annotations

from litestar import Controller, Request, post
from litestar.status_codes import HTTP_200_OK

from qa.api.metrics import record_answer
from qa.api.ratelimit import client_address
from qa.schemas import AskRequest, AskResponse
from qa.service import QAService


def answer(request: Request, data: AskRequest, service: QAService) -> AskResponse:
    """One conversation turn for a validated request (shared with POST /ask/stream), counted
    against the asking client's share of conversations."""
    response = service.converse(data.question, data.top_k, data.filters, data.conversation_id,
                                client_address(request))
    record_answer(response)
    return response


class AskController(Controller):
    path = "/ask"
    tags = ["answers"]

    @post(status_code=HTTP_200_OK, sync_to_thread=True, summary="Answer a question with quoted, cited sentences")
    def ask(self, request: Request, data: AskRequest, service: QAService) -> AskResponse:
        return answer(request, data, service)
