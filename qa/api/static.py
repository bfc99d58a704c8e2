"""GET / (the demo page), GET /widget.js (the embeddable chat widget) and GET /verify (the
quote verification page, with its /verify.js), served from qa/static with validators: pages
are revalidated on every load, the widget script may be cached for a few minutes by the sites
that embed it."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

from litestar import Controller, Request, Response
from litestar.status_codes import HTTP_200_OK, HTTP_304_NOT_MODIFIED

from qa.api.routing import get_or_head
from qa.api.security import PUBLIC

STATIC_DIR = Path(__file__).resolve().parents[1] / "static"
WIDGET_MAX_AGE = 300  # seconds an embedding site may use its copy before revalidating
_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.S)
# Our HTML pages are never framed by other sites (the widget embeds as a script, not a frame).
NO_FRAMING = {"X-Frame-Options": "SAMEORIGIN"}


def page_policy(html: bytes) -> str:
    """The Content-Security-Policy of a page of ours: its own scripts (inline ones by hash),
    inline styles, calls to this origin only, framed by this origin only."""
    hashes = "".join(f" 'sha256-{base64.b64encode(hashlib.sha256(body).digest()).decode()}'"
                     for body in _INLINE_SCRIPT.findall(html))
    return (f"default-src 'self'; script-src 'self'{hashes}; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
            "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'self'")


def _asset(request: Request, name: str, media_type: str, cache_control: str) -> Response[bytes]:
    # media_type without charset: Litestar appends "; charset=utf-8" to text types itself.
    body = (STATIC_DIR / name).read_bytes()  # read per request: small files, edits show without a restart
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {"ETag": etag, "Cache-Control": cache_control, "X-Content-Type-Options": "nosniff"}
    if media_type == "text/html":
        headers |= {"Content-Security-Policy": page_policy(body), **NO_FRAMING}
    if etag in request.headers.get("if-none-match", ""):
        return Response(b"", status_code=HTTP_304_NOT_MODIFIED, headers=headers, media_type=media_type)
    return Response(body, status_code=HTTP_200_OK, headers=headers, media_type=media_type)


class StaticController(Controller):
    include_in_schema = False
    opt = {PUBLIC: True}  # the page and the widget script load without the API key

    @get_or_head("/", sync_to_thread=False)
    def index(self, request: Request) -> Response[bytes]:
        return _asset(request, "index.html", "text/html", "no-cache")

    @get_or_head("/verify", sync_to_thread=False)
    def verify_page(self, request: Request) -> Response[bytes]:
        return _asset(request, "verify.html", "text/html", "no-cache")

    @get_or_head("/verify.js", sync_to_thread=False)
    def verify_script(self, request: Request) -> Response[bytes]:
        return _asset(request, "verify.js", "text/javascript", "no-cache")

    @get_or_head("/widget.js", sync_to_thread=False)
    def widget(self, request: Request) -> Response[bytes]:
        return _asset(request, "widget.js", "text/javascript", f"public, max-age={WIDGET_MAX_AGE}")
