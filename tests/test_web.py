"""What browsers fetch: the demo page and widget script (types, caching), and CORS."""

from __future__ import annotations

import pytest
from litestar.testing import TestClient

from qa.api.app import create_app
from qa.api.cors import allowed_origins

OTHER = "http://widget-host.test:5000"


def test_demo_page_is_html_that_embeds_the_widget(client):
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["cache-control"] == "no-cache"
    assert '<script src="/widget.js"' in response.text


def test_widget_script_is_javascript_with_cache_validators(client):
    response = client.get("/widget.js")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/javascript; charset=utf-8"
    assert response.headers["cache-control"] == "public, max-age=300"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "customElements.define" in response.text
    again = client.get("/widget.js", headers={"If-None-Match": response.headers["etag"]})
    assert again.status_code == 304 and again.content == b""


def test_widget_never_inserts_markup():
    from qa.api.static import STATIC_DIR

    source = (STATIC_DIR / "widget.js").read_text()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in source


def test_allowed_origins_default_to_the_service_itself(service):
    settings = service.settings.replace(host="127.0.0.1", port=8123, cors_allow_origins="")
    assert allowed_origins(settings) == ["http://127.0.0.1:8123"]
    settings = settings.replace(cors_allow_origins=f" {OTHER}/ , https://news.example ")
    assert allowed_origins(settings) == ["http://127.0.0.1:8123", OTHER, "https://news.example"]


@pytest.fixture(scope="module")
def cors_client(service):
    settings = service.settings.replace(host="127.0.0.1", port=8123, cors_allow_origins=OTHER)
    with TestClient(create_app(settings, service)) as test_client:
        yield test_client


def _preflight(client, origin: str):
    return client.options("/ask/stream", headers={"Origin": origin, "Access-Control-Request-Method": "POST",
                                                  "Access-Control-Request-Headers": "content-type"})


def test_preflight_from_a_configured_origin_is_allowed(cors_client):
    response = _preflight(cors_client, OTHER)
    assert response.status_code in (200, 204)
    assert response.headers["access-control-allow-origin"] == OTHER
    assert "POST" in response.headers["access-control-allow-methods"]
    assert "content-type" in response.headers["access-control-allow-headers"].lower()
    answer = cors_client.post("/ask", json={"question": "How much did China-Russia trade reach in 2023?"},
                              headers={"Origin": OTHER})
    assert answer.headers["access-control-allow-origin"] == OTHER


def test_the_service_origin_is_allowed_and_others_are_not(cors_client):
    assert _preflight(cors_client, "http://127.0.0.1:8123").headers["access-control-allow-origin"] == \
        "http://127.0.0.1:8123"
    refused = _preflight(cors_client, "http://evil.test")
    assert refused.status_code >= 400
    assert "access-control-allow-origin" not in refused.headers
    answer = cors_client.get("/health", headers={"Origin": "http://evil.test"})
    assert "access-control-allow-origin" not in answer.headers
