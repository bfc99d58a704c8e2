"""OpenAPI for handlers whose 200 response comes in more than one media type (a document
as JSON or HTML, a reference as CSL-JSON, BibTeX or text), so that the schema documents
every content type the endpoint really sends."""

from __future__ import annotations

from dataclasses import dataclass

from litestar.openapi.spec import OpenAPIMediaType, OpenAPIResponse, OpenAPIType, Operation, Schema

TEXT = Schema(type=OpenAPIType.STRING)


def alternative_media(media_types: dict[str, Schema]) -> type[Operation]:
    """An Operation class that adds `media_types` to the handler's 200 response."""

    @dataclass
    class AlternativeMedia(Operation):
        def __post_init__(self) -> None:
            ok = (self.responses or {}).get("200")
            if isinstance(ok, OpenAPIResponse):
                ok.content = {**(ok.content or {}), **{m: OpenAPIMediaType(schema=s) for m, s in media_types.items()}}

    return AlternativeMedia
