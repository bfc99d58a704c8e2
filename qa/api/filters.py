"""The metadata filters of GET requests (/search, /documents) as query parameters, validated
by the same `Filters` struct as the `filters` of POST /ask, and provided by dependency injection."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

import msgspec
from litestar.exceptions import ValidationException
from litestar.params import Parameter

from qa.schemas import Filters


def provide_query_filters(
    doc_id: Annotated[list[str] | None, Parameter(description="Only these documents (repeat the parameter).")] = None,
    published_from: Annotated[date | None, Parameter(description="Published on or after (YYYY-MM-DD).")] = None,
    published_to: Annotated[date | None, Parameter(description="Published on or before (YYYY-MM-DD).")] = None,
    publisher: Annotated[str | None, Parameter(description="The outlet (any case).")] = None,
    author: Annotated[str | None, Parameter(description="Part of an author's name (any case).")] = None,
    undated: Annotated[Literal["exclude", "include"], Parameter(
        description="Whether a date filter keeps articles without a known date.")] = "exclude",
) -> Filters:
    try:
        return msgspec.convert({"doc_ids": doc_id, "published_from": published_from, "published_to": published_to,
                                "publisher": publisher, "author": author, "undated": undated}, Filters)
    except msgspec.ValidationError as exc:
        raise ValidationException(f"invalid filter: {exc}") from exc
