"""The API reference pages under /schema (issue 30, item 6): everything they load comes from
this server (no CDN: they work offline and tell no third party who reads them), and they
send the Content-Security-Policy and X-Frame-Options of the other pages."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest

PAGES = ("/schema", "/schema/swagger", "/schema/redoc", "/schema/elements", "/schema/rapidoc", "/schema/nothing")
# Any reference a browser would follow: src=, href=, url(...), @import, or a scheme-relative //host.
REFERENCE = re.compile(r"""(?:src|href)\s*=\s*["']?([^"'\s>]+)|url\(\s*["']?([^"')]+)|@import\s+["']([^"']+)""", re.I)


def references(page: str) -> list[str]:
    return [next(g for g in match.groups() if g) for match in REFERENCE.finditer(page)]


@pytest.mark.parametrize("path", PAGES)
def test_no_page_under_schema_references_another_origin(client, path):
    page = client.get(path)
    assert page.status_code in (200, 404)
    found = references(page.text)
    outside = [url for url in found if re.match(r"^(?:[a-z][a-z0-9+.-]*:)?//", url, re.I)]
    assert not outside, outside
    for url in found:  # what the page loads from here is served
        if url.startswith("/"):
            assert client.get(url).status_code == 200, url


def test_the_api_reference_is_swagger_ui_from_this_server_with_the_page_headers(client):
    page = client.get("/schema")
    assert page.status_code == 200 and "SwaggerUIBundle" in page.text and "/schema/openapi.json" in page.text
    assert client.get("/schema/swagger").text == page.text
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'self'" in policy
    assert page.headers["x-frame-options"] == "SAMEORIGIN"
    inline = re.search(rb"<script>(.*?)</script>", page.content, re.S).group(1)
    assert f"'sha256-{base64.b64encode(hashlib.sha256(inline).digest()).decode()}'" in policy
    script = client.get("/schema/assets/swagger-ui-bundle.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    assert len(script.content) > 100_000 and "max-age" in script.headers["cache-control"]
    assert client.get("/schema/assets/swagger-ui-bundle.js",
                      headers={"If-None-Match": script.headers["etag"]}).status_code == 304
    assert client.get("/schema/openapi.yaml").status_code == 200


@pytest.mark.parametrize("name", ["index.html", "..%2f..%2fpyproject.toml", "swagger-editor-bundle.js", "LICENSE"])
def test_only_the_listed_swagger_files_are_served(client, name):
    assert client.get(f"/schema/assets/{name}").status_code == 404
