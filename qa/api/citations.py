"""Citation endpoints for checking and citing sources:
GET /citations/{id} (a quote with its context), POST /citations/lookup (where does this
quote come from?) and GET /documents/{id}/cite (a reference to paste)."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, MediaType, Response, post
from litestar.exceptions import NotFoundException
from litestar.params import Parameter
from litestar.status_codes import HTTP_200_OK

from qa.api.documents import DocIdParam
from qa.api.media import TEXT, alternative_media
from qa.api.ratelimit import EXPENSIVE
from qa.api.routing import get_or_head
from qa.citations import CitationNotFound, resolve
from qa.lookup import lookup
from qa.references import MEDIA_TYPES, Style, render
from qa.schemas import CitationDetail, LookupRequest, LookupResponse
from qa.service import QAService

CitationIdParam = Annotated[str, Parameter(max_length=64, description="A citation id from /ask or /citations/lookup")]
StyleParam = Annotated[Style, Parameter(query="format", description="Reference format")]


class CitationController(Controller):
    path = "/citations"
    tags = ["citations"]

    @get_or_head("/{citation_id:str}", sync_to_thread=False, summary="A cited quote with its paragraph and neighbouring sentences")
    def get_citation(self, service: QAService, citation_id: CitationIdParam) -> CitationDetail:
        try:
            return resolve(service.corpus, citation_id)
        except CitationNotFound as exc:
            raise NotFoundException(str(exc)) from exc

    @post("/lookup", status_code=HTTP_200_OK, sync_to_thread=True, opt={EXPENSIVE: True},
          summary="Find where a quote occurs: exact matches with offsets, then close matches with a similarity")
    def lookup_quote(self, data: LookupRequest, service: QAService) -> LookupResponse:
        return lookup(service.corpus, data.quote, data.limit, data.min_similarity)


class ReferenceController(Controller):
    path = "/documents"
    tags = ["citations"]

    @get_or_head("/{doc_id:str}/cite", sync_to_thread=False, summary="A reference to the article, from its metadata",
         media_type=MediaType.TEXT, operation_class=alternative_media({media: TEXT for media in MEDIA_TYPES.values()}))
    def cite(self, service: QAService, doc_id: DocIdParam, style: StyleParam = "csl-json") -> Response[str]:
        document = service.corpus.documents.get(doc_id)
        if document is None:
            raise NotFoundException(f"no document with id {doc_id!r}")
        media_type = MEDIA_TYPES[style]
        # Litestar appends "; charset=utf-8" to text/* itself; the other types need it from us.
        return Response(render(document, style),
                        media_type=media_type if media_type.startswith("text/") else f"{media_type}; charset=utf-8")
