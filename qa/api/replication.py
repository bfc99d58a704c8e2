"""GET /read-model: the read-model version this replica has open, file by file, so that a new
replica (`read_model_peer`) copies it instead of reading the whole store from Chroma. Only
with the API key, which replicas share: the files hold no more than the read endpoints
serve, but one request sends hundreds of megabytes."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import BinaryIO

from litestar import Controller
from litestar.exceptions import NotFoundException
from litestar.response import Stream

from qa.api.routing import get_or_head
from qa.api.security import REPLICAS
from qa.schemas import ReadModelFile, ReadModelManifest
from qa.service import QAService


class ReadModelController(Controller):
    path = "/read-model"
    tags = ["operations"]
    opt = {REPLICAS: True}

    @get_or_head("/", sync_to_thread=True, summary="The open read-model version's files")
    def manifest(self, service: QAService) -> ReadModelManifest:
        opened = service.read_model()  # the read model's own Manifest, sent in the wire's shape
        return ReadModelManifest(prefix=opened.prefix, generation=opened.generation, format=opened.format,
                                 files=[ReadModelFile(name, size) for name, size in opened.files])

    @get_or_head("/{generation:str}/{name:str}", sync_to_thread=True, summary="One file of the open read-model version",
                 media_type="application/octet-stream")
    def file(self, service: QAService, generation: str, name: str) -> Stream:
        path = service.read_model_file(generation, name)
        try:  # opened now: a newer version may remove this folder while the file is sent
            handle = path.open("rb") if path is not None else None
        except FileNotFoundError:
            handle = None
        if handle is None:
            raise NotFoundException(f"the open read-model version is not {generation!r} or has no file {name!r}; "
                                    "read GET /read-model again")
        return Stream(_chunks(handle), media_type="application/octet-stream",
                      headers={"Content-Length": str(os.fstat(handle.fileno()).st_size)})


def _chunks(handle: BinaryIO) -> Iterator[bytes]:
    with handle:
        yield from iter(lambda: handle.read(1 << 20), b"")
