"""POST /ask/stream: the same answer as POST /ask, as Server-Sent Events that a chat UI can
render as they arrive: `sentence` (one per answer sentence, with its citation marker n),
`citation` (one per cited quote), `related` (closest passages, only when there is no
answer), then `done` (answered, confidence, conversation id, resolved question, timing).

The request is validated, and the answer computed, before the stream opens, so a bad
request gets the usual 400 JSON error rather than a broken stream."""

from __future__ import annotations

from collections.abc import Iterator

import msgspec
from litestar import Controller, Request, post
from litestar.response import ServerSentEvent
from litestar.response.sse import ServerSentEventMessage
from litestar.status_codes import HTTP_200_OK

from qa.api.ask import answer
from qa.schemas import AskRequest, AskResponse
from qa.service import QAService


class StreamSentence(msgspec.Struct):
    index: int  # position in the answer, from 0
    text: str
    citation: int  # the n of the citation that quotes it


class StreamDone(msgspec.Struct):
    answered: bool
    answer: str  # the whole answer text (the "no answer" message when not answered)
    confidence: float
    conversation_id: str | None
    resolved_question: str | None
    took_ms: float


def _event(name: str, payload: msgspec.Struct) -> ServerSentEventMessage:
    return ServerSentEventMessage(event=name, data=msgspec.json.encode(payload).decode())


def events(response: AskResponse) -> Iterator[ServerSentEventMessage]:
    for index, sentence in enumerate(response.sentences):
        yield _event("sentence", StreamSentence(index=index, text=sentence.text, citation=sentence.citation))
    for citation in response.citations:
        yield _event("citation", citation)
    for passage in response.related:
        yield _event("related", passage)
    yield _event("done", StreamDone(answered=response.answered, answer=response.answer,
                                    confidence=response.confidence, conversation_id=response.conversation_id,
                                    resolved_question=response.resolved_question, took_ms=response.took_ms))


class StreamController(Controller):
    path = "/ask/stream"
    tags = ["answers"]

    @post(status_code=HTTP_200_OK, sync_to_thread=True,
          summary="Answer a question as Server-Sent Events: sentence, citation, related, done")
    def ask_stream(self, request: Request, data: AskRequest, service: QAService) -> ServerSentEvent:
        # no-transform / X-Accel-Buffering keep proxies from holding the events back.
        return ServerSentEvent(events(answer(request, data, service)),
                               headers={"Cache-Control": "no-cache, no-transform", "X-Accel-Buffering": "no"})
