"""Citation endpoints for checking and citing sources:
GET /citations/{id} (a quote with its context), POST /citations/lookup (where does this
quote come from?), POST /citations/verify (are all the quotes of this draft right?) and
GET /documents/{id}/cite (a reference to paste)."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, MediaType, Response, post
from litestar.exceptions import HTTPException, NotFoundException
from litestar.params import Parameter
from litestar.status_codes import HTTP_200_OK, HTTP_410_GONE, HTTP_413_REQUEST_ENTITY_TOO_LARGE

from qa.api.documents import DocIdParam
from qa.api.media import TEXT, alternative_media
from qa.api.ratelimit import EXPENSIVE
from qa.api.routing import get_or_head
from qa.citations import CitationNotFound
from qa.references import MEDIA_TYPES, Style
from qa.schemas import (MAX_VERIFY_CHARACTERS, CitationDetail, LookupRequest, LookupResponse, VerifyRequest,
                        VerifyResponse)
from qa.service import QAService
from qa.superseded import CitationGone
from qa.verify import TooMuchToVerify

CitationIdParam = Annotated[str, Parameter(max_length=64, description="A citation id from /ask or /citations/lookup")]
# Room for MAX_VERIFY_CHARACTERS characters even when JSON escapes every one (\uXXXX: 6 bytes).
VERIFY_MAX_BODY_BYTES = 6 * MAX_VERIFY_CHARACTERS + 1024
StyleParam = Annotated[Style, Parameter(query="format", description="Reference format")]


class CitationController(Controller):
    path = "/citations"
    tags = ["citations"]

    @get_or_head("/{citation_id:str}", sync_to_thread=False,
                 summary="A cited quote with its paragraph and neighbouring sentences")
    def get_citation(self, service: QAService, citation_id: CitationIdParam) -> CitationDetail:
        try:
            return service.citation(citation_id)
        except CitationGone as exc:
            raise HTTPException(str(exc), status_code=HTTP_410_GONE, extra={
                "doc_id": exc.doc_id, "current_version": exc.current_version,
                "document_url": f"/documents/{exc.doc_id}"}) from exc
        except CitationNotFound as exc:
            raise NotFoundException(str(exc)) from exc

    @post("/lookup", status_code=HTTP_200_OK, sync_to_thread=True, opt={EXPENSIVE: True},
          summary="Find where a quote occurs: exact matches with offsets, then close matches with a similarity")
    def lookup_quote(self, data: LookupRequest, service: QAService) -> LookupResponse:
        return service.lookup(data.quote, data.limit, data.min_similarity)

    @post("/verify", status_code=HTTP_200_OK, sync_to_thread=True, opt={EXPENSIVE: True},
          request_max_body_size=VERIFY_MAX_BODY_BYTES,
          summary="Check every quotation of a text against the archive: exact, close, misquoted or not found")
    def verify_text(self, data: VerifyRequest, service: QAService) -> VerifyResponse:
        try:
            return service.verify(data.text, data.mode)
        except TooMuchToVerify as exc:
            raise HTTPException(str(exc), status_code=HTTP_413_REQUEST_ENTITY_TOO_LARGE) from exc


class ReferenceController(Controller):
    path = "/documents"
    tags = ["citations"]

    @get_or_head("/{doc_id:str}/cite", sync_to_thread=False, summary="A reference to the article, from its metadata",
                 media_type=MediaType.TEXT,
                 operation_class=alternative_media({media: TEXT for media in MEDIA_TYPES.values()}))
    def cite(self, service: QAService, doc_id: DocIdParam, style: StyleParam = "csl-json") -> Response[str]:
        reference = service.reference(doc_id, style)
        if reference is None:
            raise NotFoundException(f"no document with id {doc_id!r}")
        media_type = MEDIA_TYPES[style]
        # Litestar appends "; charset=utf-8" to text/* itself; the other types need it from us.
        return Response(reference,
                        media_type=media_type if media_type.startswith("text/") else f"{media_type}; charset=utf-8")
