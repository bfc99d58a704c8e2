"""POST /documents (JSON), POST /uploads (a multipart file) and DELETE /documents/{doc_id}:
changing the corpus over HTTP. Every write needs the API key (see qa.api.security) and goes
through the same writer as `qa ingest` (index/writer.py): the upload's content is read as a
file of its validated name would be.

The writes extend the read controller rather than sitting beside it: Litestar cannot
merge two controllers that serve the same path (/documents/{doc_id}). The multipart upload
lives outside /documents so that no document id ("upload") is shadowed by it."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from litestar import delete, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.exceptions import ClientException, NotFoundException
from litestar.params import Body, Parameter
from litestar.status_codes import HTTP_200_OK, HTTP_204_NO_CONTENT, HTTP_409_CONFLICT, HTTP_422_UNPROCESSABLE_ENTITY
from msgspec import Meta

from index.bylines import metadata_date
from index.loading import METADATA_LIMITS
from qa.api.documents import DocIdParam, DocumentController
from qa.api.security import WRITE
from qa.service import QAService, UnsupportedFile

# A plain file name, no folders and no leading dot: it becomes the document id and, with "upload:", its source.
FileName = Annotated[str, Meta(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9 ._-]*$",
                               description="The article's file name; its suffix (.txt, .md, .html) says how to read "
                                           "it and its stem becomes the document id. Re-sending a name replaces that "
                                           "document; another name of the same id (a.html after a.txt) is a 409 "
                                           "unless replace=true.")]
ReplaceParam = Annotated[bool, Parameter(
    description="Let this file replace a document of the same id read from a file of another name (`a.html` after "
                "`a.txt`); without it that is a 409. A file of the same name always replaces its own document.")]


def _limited(name: str, description: str) -> object:
    """The type of a posted metadata field: a string within that field's limit."""
    return Annotated[str, Meta(max_length=METADATA_LIMITS[name], description=description)]


Title = _limited("title", "The headline (at most 300 characters).")
Author = _limited("author", "The author or authors, `; `-separated.")
Date = _limited("date", "The publication date: YYYY-MM-DD, a year, or as articles write it (`March 3, 2023`); "
                        "stored as an ISO date.")
Publisher = _limited("publisher", "The outlet.")
Url = _limited("url", "Where the article was published.")


class ArticleMetadata(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """The article's metadata, winning over what its file says; a field over its length limit
    is a 400 naming it (a file's own is cut instead: index/loading.py)."""

    title: Title | None = None
    author: Author | None = None
    date: Date | None = None
    publisher: Publisher | None = None
    url: Url | None = None

    def __post_init__(self) -> None:
        if self.date is not None and metadata_date(self.date) is None:  # msgspec adds "- at `$.metadata`": a 400
            raise ValueError("Expected `date` to be a date (YYYY-MM-DD)")


class DocumentUpload(msgspec.Struct, forbid_unknown_fields=True):
    filename: FileName
    content: Annotated[str, Meta(min_length=1, description="The article text (plain text, Markdown or HTML).")]
    metadata: ArticleMetadata | None = None


class MultipartUpload(msgspec.Struct):
    file: UploadFile


class IngestResult(msgspec.Struct):
    id: str
    status: Literal["added", "replaced", "unchanged"]
    passages: int


def _ingest(service: QAService, filename: str, content: bytes, metadata: ArticleMetadata | None,
            replace: bool) -> IngestResult:
    try:
        report = service.upload(filename, content, msgspec.to_builtins(metadata) if metadata is not None else None,
                                replace)
    except UnsupportedFile as exc:
        raise ClientException(str(exc)) from exc
    if report.taken:
        taken = report.taken[0]
        raise ClientException(f"the document id {taken.doc_id!r} is held by {taken.holder}, read from another file "
                              f"than {filename!r}: rename the file, or send replace=true to replace that document",
                              status_code=HTTP_409_CONFLICT)
    if report.skipped:
        reason = report.skipped[0][1]
        raise ClientException(f"the article was not ingested: {reason}", status_code=HTTP_422_UNPROCESSABLE_ENTITY)
    status, doc_id = next((s, ids[0]) for s, ids in (("added", report.added), ("replaced", report.replaced),
                                                      ("unchanged", report.unchanged)) if ids)
    found = service.document(doc_id)
    return IngestResult(id=doc_id, status=status, passages=found[1] if found else 0)


_WRITES = {"opt": {WRITE: True}, "security": [{"apiKey": []}]}  # the scheme is declared in the app's OpenAPI


class DocumentWriteController(DocumentController):
    @post(status_code=HTTP_200_OK, sync_to_thread=True, summary="Add or replace an article (JSON)", **_WRITES)
    def upload_json(self, data: DocumentUpload, service: QAService, replace: ReplaceParam = False) -> IngestResult:
        return _ingest(service, data.filename, data.content.encode("utf-8"), data.metadata, replace)

    @delete("/{doc_id:str}", status_code=HTTP_204_NO_CONTENT, sync_to_thread=True, summary="Remove a document",
            **_WRITES)
    def remove(self, doc_id: DocIdParam, service: QAService) -> None:
        if not service.delete(doc_id):
            raise NotFoundException(f"no document with id {doc_id!r}")


@post("/uploads", status_code=HTTP_200_OK, sync_to_thread=True, summary="Add or replace an article (file upload)",
      tags=["documents"], **_WRITES)
def upload_file(data: Annotated[MultipartUpload, Body(media_type=RequestEncodingType.MULTI_PART)],
                service: QAService, replace: ReplaceParam = False) -> IngestResult:
    try:
        filename = msgspec.convert(data.file.filename, FileName)
    except msgspec.ValidationError as exc:
        raise ClientException(f"invalid file name {data.file.filename!r}: {exc}") from exc
    return _ingest(service, filename, data.file.file.read(), None, replace)
