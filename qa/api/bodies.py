"""JSON request bodies decoded as the schema says, before Litestar's own decoding.

Litestar converts bodies leniently: `"top_k": "5"` becomes 5, and an empty body is reported as
`'data'`. Clients of this API get the JSON types the OpenAPI schema documents, or a 400 whose
message names the field (msgspec's "Expected `int | null`, got `str` - at `$.top_k`")."""

from __future__ import annotations

import msgspec
from litestar import Request
from litestar.exceptions import ValidationException

# A multipart upload's fields are no JSON body. A urlencoded one may well be JSON: `curl -d '{...}'`
# sends that type, and Litestar then reads the body as JSON, so it is checked like any other.
_MULTIPART = "multipart/form-data"


def _invalid(request: Request, message: str) -> ValidationException:
    # The shape of Litestar's own validation errors, so that clients parse one kind of 400.
    return ValidationException(f"Validation failed for {request.method} {request.url.path}",
                               extra=[{"message": message, "key": "data", "source": "body"}])


async def check_json_body(request: Request) -> None:
    """A before-request hook: strict msgspec decoding of the body of handlers that take a
    Struct as `data`. Malformed JSON is left to Litestar, which already answers it with a 400."""
    parameter = request.route_handler.parsed_fn_signature.parameters.get("data")
    if parameter is None or not isinstance(parameter.annotation, type) \
            or not issubclass(parameter.annotation, msgspec.Struct) or request.content_type[0] == _MULTIPART:
        return
    body = await request.body()
    if not body.strip():
        raise _invalid(request, "the request body is empty: send a JSON object")
    try:
        msgspec.json.decode(body, type=parameter.annotation)
    except msgspec.ValidationError as exc:
        raise _invalid(request, str(exc)) from exc
    except msgspec.DecodeError:
        return
