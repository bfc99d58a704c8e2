"""GET /documents and GET /documents/{doc_id}: what the corpus holds."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get
from litestar.exceptions import NotFoundException
from litestar.params import Parameter

from index.documents import Document
from qa.schemas import DocumentDetail, DocumentList, DocumentSummary
from qa.service import QAService

DocIdParam = Annotated[str, Parameter(max_length=200, description="Document id, as listed by GET /documents")]


def summary(document: Document, passages: int) -> DocumentSummary:
    return DocumentSummary(id=document.id, title=document.title, source=document.source,
                           content_hash=document.content_hash, passages=passages,
                           characters=len(document.text), metadata=document.metadata)


class DocumentController(Controller):
    path = "/documents"
    tags = ["documents"]

    @get(sync_to_thread=False, summary="List the documents")
    def list_documents(self, service: QAService) -> DocumentList:
        corpus = service.corpus
        counts: dict[str, int] = {}
        for passage in corpus.passages:
            counts[passage.doc_id] = counts.get(passage.doc_id, 0) + 1
        docs = [summary(d, counts.get(d.id, 0)) for d in sorted(corpus.documents.values(), key=lambda d: d.id)]
        return DocumentList(documents=docs, total=len(docs))

    @get("/{doc_id:str}", sync_to_thread=False, summary="One document with its full text")
    def get_document(self, service: QAService, doc_id: DocIdParam) -> DocumentDetail:
        corpus = service.corpus
        document = corpus.documents.get(doc_id)
        if document is None:
            raise NotFoundException(f"no document with id {doc_id!r}")
        passages = sum(1 for p in corpus.passages if p.doc_id == doc_id)
        return DocumentDetail(**{f: getattr(summary(document, passages), f) for f in DocumentSummary.__struct_fields__},
                              text=document.text)
