"""The API reference under /schema: Swagger UI from the files of the swagger-ui-py package,
served by this app (Litestar's pages load theirs from public CDNs: they fail offline and tell
a third party who reads the docs), the schema as JSON and YAML, and the headers of our other
pages (a Content-Security-Policy, no framing by other sites).

swagger-ui-py is used for its files only: a maintained wheel of the current Swagger UI whose
dependencies this project already has, so no megabytes of vendored JavaScript are committed."""

from __future__ import annotations

import functools
import hashlib
import html
import importlib.util
from pathlib import Path
from typing import Any

from litestar import Request, Response
from litestar.exceptions import NotFoundException
from litestar.openapi.plugins import JsonRenderPlugin, OpenAPIRenderPlugin, SwaggerRenderPlugin, YamlRenderPlugin

from qa.api.routing import get_or_head
from qa.api.security import PUBLIC
from qa.api.static import NO_FRAMING, page_policy

SCHEMA_PATH = "/schema"
ASSETS_PATH = f"{SCHEMA_PATH}/assets"
ASSETS = {"swagger-ui-bundle.js": "text/javascript", "swagger-ui.css": "text/css", "favicon-32x32.png": "image/png"}
ASSET_MAX_AGE = 86400  # seconds: the files change only with the package's version (their ETag says which)


def _assets_dir() -> Path:
    spec = importlib.util.find_spec("swagger_ui")  # not imported: its framework adapters are not wanted
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("package swagger-ui-py is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


@functools.cache
def _asset(name: str) -> tuple[bytes, str]:
    body = (_assets_dir() / name).read_bytes()
    return body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


class LocalSwagger(SwaggerRenderPlugin):
    """Swagger UI at /schema and /schema/swagger, its files from ASSETS_PATH, the schema fetched
    from /schema/openapi.json (not inlined: the page's one inline script stays small and fixed)."""

    def __init__(self) -> None:
        super().__init__(path=["/", "/swagger"],
                         favicon=f"<link rel='icon' type='image/png' href='{ASSETS_PATH}/favicon-32x32.png'>")

    def render(self, request: Request, openapi_schema: dict[str, Any]) -> bytes:
        title = html.escape(openapi_schema["info"]["title"])
        init = (f"SwaggerUIBundle({{url: '{SCHEMA_PATH}/openapi.json', dom_id: '#swagger-ui', deepLinking: true, "
                "presets: [SwaggerUIBundle.presets.apis]});")
        return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
                f'<meta name="viewport" content="width=device-width, initial-scale=1">{self.favicon}'
                f'<link rel="stylesheet" href="{ASSETS_PATH}/swagger-ui.css">'
                f'<script src="{ASSETS_PATH}/swagger-ui-bundle.js"></script></head>'
                f'<body><div id="swagger-ui"></div><script>{init}</script></body></html>').encode()

    def receive_router(self, router: Any) -> None:
        """No OAuth2 redirect page (Litestar's loads nothing from us but inlines a script): the
        API key is a header, entered in the page's Authorize dialog."""


def render_plugins() -> list[OpenAPIRenderPlugin]:
    return [LocalSwagger(), JsonRenderPlugin(), YamlRenderPlugin()]


@get_or_head("/assets/{name:str}", sync_to_thread=False, include_in_schema=False, opt={PUBLIC: True})
def api_docs_asset(request: Request, name: str) -> Response[bytes]:
    """One of Swagger UI's files, from the installed package."""
    if name not in ASSETS:
        raise NotFoundException(f"no such file: {name!r}")
    body, etag = _asset(name)
    headers = {"ETag": etag, "Cache-Control": f"public, max-age={ASSET_MAX_AGE}", "X-Content-Type-Options": "nosniff"}
    if etag in request.headers.get("if-none-match", ""):
        return Response(b"", status_code=304, headers=headers, media_type=ASSETS[name])
    return Response(body, headers=headers, media_type=ASSETS[name])


def page_headers(response: Response) -> Response:
    """The headers of our other HTML pages, on the HTML pages under /schema (the policy allows
    the page's own inline script by its hash)."""
    media_type = str(getattr(response.media_type, "value", response.media_type))
    if media_type.startswith("text/html") and isinstance(response.content, bytes):
        response.headers.update({"Content-Security-Policy": page_policy(response.content),
                                 "X-Content-Type-Options": "nosniff", **NO_FRAMING})
    return response

