"""GET / (the demo page) and GET /widget.js (the embeddable chat widget), served from
qa/static with validators: the page is revalidated on every load, the script may be
cached for a few minutes by the sites that embed it."""

from __future__ import annotations

import hashlib
from pathlib import Path

from litestar import Controller, Request, Response, get
from litestar.status_codes import HTTP_200_OK, HTTP_304_NOT_MODIFIED

from qa.api.security import PUBLIC

STATIC_DIR = Path(__file__).resolve().parents[1] / "static"
WIDGET_MAX_AGE = 300  # seconds an embedding site may use its copy before revalidating


def _asset(request: Request, name: str, media_type: str, cache_control: str) -> Response[bytes]:
    # media_type without charset: Litestar appends "; charset=utf-8" to text types itself.
    body = (STATIC_DIR / name).read_bytes()  # read per request: small files, edits show without a restart
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {"ETag": etag, "Cache-Control": cache_control, "X-Content-Type-Options": "nosniff"}
    if etag in request.headers.get("if-none-match", ""):
        return Response(b"", status_code=HTTP_304_NOT_MODIFIED, headers=headers, media_type=media_type)
    return Response(body, status_code=HTTP_200_OK, headers=headers, media_type=media_type)


class StaticController(Controller):
    include_in_schema = False
    opt = {PUBLIC: True}  # the page and the widget script load without the API key

    @get("/", sync_to_thread=False)
    def index(self, request: Request) -> Response[bytes]:
        return _asset(request, "index.html", "text/html", "no-cache")

    @get("/widget.js", sync_to_thread=False)
    def widget(self, request: Request) -> Response[bytes]:
        return _asset(request, "widget.js", "text/javascript", f"public, max-age={WIDGET_MAX_AGE}")
