"""GET /documents and GET /documents/{doc_id}: what the corpus holds; a document can come
with ranges highlighted (`?highlight=start-end`), as JSON or as a readable HTML page."""

from __future__ import annotations

from typing import Annotated, Literal

from litestar import Controller, MediaType, Request, Response
from litestar.di import Provide
from litestar.exceptions import NotFoundException, ValidationException
from litestar.params import Parameter

from index.documents import Document
from qa.api.filters import provide_query_filters
from qa.api.media import TEXT, alternative_media
from qa.api.routing import get_or_head
from qa.api.static import NO_FRAMING, page_policy
from qa.highlight import BadHighlight, parse_ranges, render_html
from qa.schemas import DocumentDetail, DocumentList, DocumentSummary, Filters, HighlightedRange
from qa.service import QAService

DocIdParam = Annotated[str, Parameter(max_length=200, description="Document id, as listed by GET /documents")]
HighlightParam = Annotated[list[str] | None, Parameter(
    max_length=2000, description="Ranges to mark, `start-end` character offsets (repeat or comma-separate).")]
SortParam = Annotated[Literal["id", "latest"], Parameter(
    description="`id` (default): by document id. `latest`: newest first, by publication date, then the one "
                "added later (undated documents last).")]
LimitParam = Annotated[int | None, Parameter(
    ge=1, le=1000, description="At most this many documents (1-1000); `total` still counts every match.")]
FormatParam = Annotated[Literal["json", "html"] | None, Parameter(
    query="format", description="`html` for a readable page; default: by the Accept header, else JSON.")]


def wants_html(request: Request, requested: str | None) -> bool:
    if requested is not None:
        return requested == "html"
    return request.accept.best_match([MediaType.JSON, MediaType.HTML], default=MediaType.JSON) == MediaType.HTML


def summary(document: Document, passages: int) -> DocumentSummary:
    return DocumentSummary(id=document.id, title=document.title, source=document.source,
                           content_hash=document.content_hash, passages=passages,
                           characters=len(document.text), metadata=document.metadata)


class DocumentController(Controller):
    path = "/documents"
    tags = ["documents"]
    dependencies = {"filters": Provide(provide_query_filters, sync_to_thread=False)}

    @get_or_head(sync_to_thread=False, summary="List the documents (all, or those matching the filters)")
    def list_documents(self, service: QAService, filters: Filters, sort: SortParam = "id",
                       limit: LimitParam = None) -> DocumentList:
        documents, total, undated_excluded = service.documents(filters, sort, limit)
        docs = [summary(document, passages) for document, passages in documents]
        return DocumentList(documents=docs, total=total, undated_excluded=undated_excluded)

    @get_or_head("/{doc_id:str}", sync_to_thread=False, summary="One document with its full text",
                 operation_class=alternative_media({MediaType.HTML: TEXT}))
    def get_document(self, request: Request, service: QAService, doc_id: DocIdParam, highlight: HighlightParam = None,
                     response_format: FormatParam = None) -> Response[DocumentDetail]:
        found = service.document(doc_id)
        if found is None:
            raise NotFoundException(f"no document with id {doc_id!r}")
        document, passages = found
        try:
            ranges = parse_ranges(highlight or [], len(document.text))
        except BadHighlight as exc:
            raise ValidationException(str(exc)) from exc
        if wants_html(request, response_format):
            page = render_html(document, ranges)
            return Response(page, media_type=MediaType.HTML,
                            headers={"Content-Security-Policy": page_policy(page.encode()), **NO_FRAMING})
        return Response(DocumentDetail(
            **{f: getattr(summary(document, passages), f) for f in DocumentSummary.__struct_fields__},
            text=document.text,
            highlights=[HighlightedRange(s.start, s.end, document.text[s.start : s.end]) for s in ranges]))
