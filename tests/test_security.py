"""API keys, rate limits, body size limits, request ids and path traversal, through
Litestar's test client. Writes go to a store of their own; reads use the seeded service."""

from __future__ import annotations

import json
import logging

import pytest
from litestar.testing import TestClient

from index.store import Store
from qa.api.app import create_app
from qa.api.request_ids import RequestIdFilter
from qa.service import QAService
from tests.conftest import SEEDS, make_settings

KEY = "k3y-for-tests-only-0123456789"
ARTICLE = (SEEDS / "002_06d97b826597458d.txt").read_text()


def app_client(service: QAService, **changes) -> TestClient:
    settings = service.settings.replace(rate_limit_per_minute=0, **changes)
    return TestClient(create_app(settings, service))


@pytest.fixture(scope="module")
def writable(tmp_path_factory, embedder) -> QAService:
    settings = make_settings(tmp_path_factory.mktemp("writable"))
    return QAService(settings, Store.open(settings), embedder)


@pytest.fixture(scope="module")
def writer(writable):
    with app_client(writable, api_key=KEY) as client:
        yield client


# ---- API key ------------------------------------------------------------------------
def test_writes_are_refused_when_no_key_is_configured(writable):
    with app_client(writable, api_key="") as client:
        for response in (client.post("/documents", json={"filename": "a.txt", "content": ARTICLE}),
                         client.post("/documents", json={"filename": "a.txt", "content": ARTICLE},
                                     headers={"X-API-Key": "anything"}),
                         client.delete("/documents/a", headers={"X-API-Key": ""})):
            assert response.status_code == 403
            assert "no API key configured" in response.json()["detail"]
    assert "a" not in writable.corpus.documents


@pytest.mark.parametrize("headers", [{}, {"X-API-Key": "wrong"}, {"X-API-Key": KEY + "x"}, {"X-API-Key": KEY[:-1]},
                                     {"Authorization": f"Basic {KEY}"}, {"Authorization": "Bearer "}])
def test_writes_without_the_right_key_get_401(writer, writable, headers):
    response = writer.post("/documents", json={"filename": "a.txt", "content": ARTICLE}, headers=headers)
    assert response.status_code == 401, response.text
    assert "API key" in response.json()["detail"] and response.headers["www-authenticate"].startswith("Bearer")
    assert writer.delete("/documents/a", headers=headers).status_code == 401
    assert "a" not in writable.corpus.documents


def test_upload_ask_reupload_and_delete_with_the_key(writer, writable):
    key = {"X-API-Key": KEY}
    added = writer.post("/documents", json={"filename": "moon story.txt", "content": ARTICLE,
                                            "metadata": {"author": "A. Writer"}}, headers=key)
    assert added.status_code == 200, added.text
    body = added.json()
    assert body["id"] == "moon-story" and body["status"] == "added" and body["passages"] > 0
    detail = writer.get("/documents/moon-story").json()
    assert detail["source"] == "upload:moon story.txt" and detail["metadata"]["author"] == "A. Writer"
    assert detail["passages"] == body["passages"]

    again = writer.post("/documents", json={"filename": "moon story.txt", "content": ARTICLE,
                                            "metadata": {"author": "A. Writer"}},
                        headers={"Authorization": f"Bearer {KEY}"})
    assert again.json()["status"] == "unchanged"
    assert writable.store.counts()["passages"] == body["passages"]  # re-sending adds no duplicates

    assert writer.delete("/documents/moon-story", headers=key).status_code == 204
    assert writer.get("/documents/moon-story").status_code == 404
    assert writer.delete("/documents/moon-story", headers=key).status_code == 404
    assert writable.store.counts() == {"documents": 0, "passages": 0, "sentences": 0}


def test_multipart_upload_and_unusable_files(writer):
    key = {"X-API-Key": KEY}
    response = writer.post("/uploads", files={"file": ("note.md", b"# A Short Note\n\n" + ARTICLE.encode(),
                                                                "text/markdown")}, headers=key)
    assert response.status_code == 200 and response.json()["id"] == "note"
    binary = writer.post("/uploads", files={"file": ("pic.txt", b"\x89PNG\r\n\x1a\n\x00\x00", "text/plain")},
                         headers=key)
    assert binary.status_code == 422 and "binary file" in binary.json()["detail"]
    assert "/tmp" not in binary.json()["detail"]  # the server's temporary path is not leaked
    empty = writer.post("/documents", json={"filename": "e.md", "content": "Share.\n\nExit mobile version\n"},
                        headers=key)
    assert empty.status_code == 422 and "no text left" in empty.json()["detail"]
    unsupported = writer.post("/documents", json={"filename": "x.pdf", "content": "%PDF"}, headers=key)
    assert unsupported.status_code == 400 and "unsupported file type" in unsupported.json()["detail"]
    assert writer.delete("/documents/note", headers=key).status_code == 204


def test_an_upload_of_another_name_never_takes_over_an_id_unless_asked(writer, writable):
    """`story.txt`, then `story.html` or `story.md`: a 409 naming both, the first kept; the
    same name again is a correction and replaces; replace=true lets another name replace."""
    key = {"X-API-Key": KEY}
    html = f"<html><body><article><h1>Moon Story</h1><p>{ARTICLE}</p></article></body></html>".encode()
    assert writer.post("/uploads", files={"file": ("story.txt", ARTICLE.encode(), "text/plain")},
                       headers=key).json()["status"] == "added"
    for response in (writer.post("/uploads", files={"file": ("story.html", html, "text/html")}, headers=key),
                     writer.post("/documents", json={"filename": "story.md", "content": ARTICLE}, headers=key)):
        assert response.status_code == 409, response.text
        detail = response.json()["detail"]
        assert "upload:story.txt" in detail and ("story.html" in detail or "story.md" in detail)
        assert "replace=true" in detail
    assert writable.corpus.documents["story"].source == "upload:story.txt"

    corrected = writer.post("/uploads", files={"file": ("story.txt", ARTICLE.encode() + b"\n\nA correction.\n")},
                            headers=key)
    assert corrected.json()["status"] == "replaced" and "A correction." in writable.corpus.documents["story"].text
    forced = writer.post("/uploads", params={"replace": "true"}, files={"file": ("story.html", html, "text/html")},
                         headers=key)
    assert forced.status_code == 200 and forced.json()["status"] == "replaced", forced.text
    assert writable.corpus.documents["story"].source == "upload:story.html"
    assert writer.delete("/documents/story", headers=key).status_code == 204


@pytest.mark.parametrize("content", [b"<p>", b"   ", b"<html><body><div></div></body></html>"])
def test_an_html_upload_without_text_is_a_422_and_at_most_one_info_line(writer, caplog, content):
    with caplog.at_level(logging.DEBUG):
        response = writer.post("/uploads", files={"file": ("blank.html", content, "text/html")},
                               headers={"X-API-Key": KEY})
    assert response.status_code == 422 and "no text left" in response.json()["detail"]
    # The test client's own request lines (httpx) and the access log (qa) are not about the input.
    lines = [(r.levelname, r.name, r.getMessage()) for r in caplog.records
             if r.levelno >= logging.INFO and r.name.split(".")[0] not in ("httpx", "qa")]
    assert len(lines) <= 1 and all(level == "INFO" for level, _, _ in lines), lines


@pytest.mark.parametrize("payload", [
    {}, {"filename": "a.txt"}, {"content": "x"}, {"filename": "", "content": "x"}, {"filename": "a.txt", "content": ""},
    {"filename": "a.txt", "content": 5}, {"filename": "a.txt", "content": "x", "extra": 1},
    {"filename": "a.txt", "content": "x", "metadata": {"colour": "red"}},
])
def test_malformed_uploads_get_400(writer, payload):
    response = writer.post("/documents", json=payload, headers={"X-API-Key": KEY})
    assert response.status_code == 400, response.text
    assert response.json()["detail"]


@pytest.mark.parametrize(("metadata", "field"), [({"date": "not a date <script>"}, "date"),
                                                 ({"title": "x" * 301}, "title"), ({"url": "x" * 2001}, "url")])
def test_posted_metadata_over_its_limit_or_an_unreadable_date_gets_400_naming_the_field(writer, writable, metadata,
                                                                                       field):
    response = writer.post("/documents", json={"filename": "meta.txt", "content": ARTICLE, "metadata": metadata},
                           headers={"X-API-Key": KEY})
    assert response.status_code == 400, response.text
    message = response.json()["extra"][0]["message"]
    assert "$.metadata" in message and field in message, message
    assert "meta" not in writable.corpus.documents


def test_reads_can_require_the_key(service):
    with app_client(service, api_key=KEY, read_requires_key=True) as client:
        question = {"question": "How much did China-Russia trade reach in 2023?"}
        assert client.post("/ask", json=question).status_code == 401
        assert client.get("/search", params={"q": "Crimea"}, headers={"X-API-Key": "nope"}).status_code == 401
        assert client.get("/documents").status_code == 401
        assert client.post("/ask", json=question, headers={"X-API-Key": KEY}).json()["answered"] is True
        for public in ("/health", "/ready", "/metrics", "/schema/openapi.json", "/", "/widget.js"):
            assert client.get(public).status_code == 200, public
    with app_client(service, api_key="", read_requires_key=True) as client:
        assert client.get("/documents").status_code == 403  # keyed reads without a key configured: closed, not open
    with app_client(service, api_key=KEY) as client:
        assert client.get("/documents").status_code == 200  # reads are open by default


# ---- limits ---------------------------------------------------------------------------
def test_rate_limit_gives_429_with_retry_after(service):
    with TestClient(create_app(service.settings.replace(rate_limit_per_minute=3), service)) as client:
        statuses = [client.get("/search", params={"q": "Crimea", "k": 1}).status_code for _ in range(3)]
        assert statuses == [200, 200, 200]
        limited = client.get("/search", params={"q": "Crimea", "k": 1})
        assert limited.status_code == 429
        assert 1 <= int(limited.headers["retry-after"]) <= 60
        assert "too many requests" in limited.json()["detail"]
        assert limited.headers["x-request-id"]
        assert client.post("/ask", json={"question": "Who met?"}).status_code == 429  # per client, not per route
        assert all(client.get("/health").status_code == 200 for _ in range(5))  # probes are never throttled
        assert 'status_code="429"' in client.get("/metrics").text


def test_request_bodies_over_the_limits_get_413(writer):
    too_big = {"question": "x" * 70_000}
    assert writer.post("/ask", json=too_big).status_code == 413
    big_article = {"filename": "big.pdf", "content": "word " * 20_000}  # 100 kB: over the /ask limit only
    response = writer.post("/documents", json=big_article, headers={"X-API-Key": KEY})
    assert response.status_code == 400 and "unsupported file type" in response.json()["detail"]
    huge_article = {"filename": "huge.txt", "content": "word " * 500_000}  # 2.5 MB
    assert writer.post("/documents", json=huge_article, headers={"X-API-Key": KEY}).status_code == 413


def test_question_length_and_top_k_bounds(client):
    assert client.post("/ask", json={"question": "x" * 1001}).status_code == 400
    assert client.post("/ask", json={"question": "Who?", "top_k": 51}).status_code == 400
    assert client.get("/search", params={"q": "x", "k": 51}).status_code == 400


@pytest.mark.parametrize("path", ["/ask", "/ask/stream", "/citations/lookup"])
def test_json_bodies_are_decoded_as_the_schema_says(client, path):
    """No lenient conversion of JSON types, and an empty body is named as such."""
    lookup = path == "/citations/lookup"
    wrong_type = client.post(path, json={"quote": "Xi Jinping", "limit": "5"} if lookup else
                             {"question": "Who met?", "top_k": "5"})
    assert wrong_type.status_code == 400
    message = wrong_type.json()["extra"][0]["message"]
    expected = "Expected `int`, got `str` - at `$.limit`" if lookup else "Expected `int | null`, got `str` - at `$.top_k`"
    assert message == expected
    # As `curl -d '{...}'` sends it (the README's example): urlencoded, read as JSON all the same.
    as_curl = client.post(path, content=json.dumps({"quote": "Xi Jinping", "limit": "5"} if lookup else
                                                   {"question": "Who met?", "top_k": "5"}),
                          headers={"content-type": "application/x-www-form-urlencoded"})
    assert as_curl.status_code == 400 and as_curl.json()["extra"][0]["message"] == expected
    empty = client.post(path, content=b"", headers={"content-type": "application/json"})
    assert empty.status_code == 400
    assert empty.json()["extra"][0]["message"] == "the request body is empty: send a JSON object"
    valid = {"quote": "Xi Jinping", "limit": 5} if lookup else {"question": "Who met?", "top_k": 5}
    assert client.post(path, json=valid).status_code == 200


@pytest.mark.parametrize("path", ["/health", "/ready", "/", "/documents", "/search?q=trade", "/metrics", "/schema",
                                  "/schema/openapi.json", "/schema/swagger"])
def test_get_routes_answer_head(client, path):
    get, head = client.get(path), client.head(path)
    assert head.status_code == get.status_code == 200
    assert head.headers["content-type"] == get.headers["content-type"]


def test_expensive_endpoints_have_their_own_lower_limit(service):
    settings = service.settings.replace(rate_limit_per_minute=20, expensive_rate_limit_per_minute=2)
    with TestClient(create_app(settings, service)) as client:
        lookups = [client.post("/citations/lookup", json={"quote": "Xi Jinping"}) for _ in range(3)]
        assert [r.status_code for r in lookups] == [200, 200, 429]
        assert lookups[0].headers["ratelimit-limit"] == "2"  # the lower budget is the one announced
        assert "on expensive endpoints" in lookups[2].json()["detail"]
        assert int(lookups[2].headers["retry-after"]) >= 1
        asks = [client.post("/ask", json={"question": "Who met?"}).status_code for _ in range(5)]
        assert asks == [200] * 5  # questions keep their own, larger budget


# ---- request ids ----------------------------------------------------------------------
class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []
        self.addFilter(RequestIdFilter())

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_request_ids_are_returned_and_logged(client):
    records = _Records()
    logging.getLogger("qa.access").addHandler(records)
    try:
        chosen = client.get("/health", headers={"X-Request-ID": "trace-42.a_b:c"})
        fresh = client.post("/ask", json={"question": "Who met in Moscow?"})
        forged = client.get("/health", headers={"X-Request-ID": "x" * 129})
        unknown = client.get("/no/such/route")
    finally:
        logging.getLogger("qa.access").removeHandler(records)
    assert chosen.headers["x-request-id"] == "trace-42.a_b:c"
    assert len(fresh.headers["x-request-id"]) == 32
    assert forged.headers["x-request-id"] != "x" * 129
    assert unknown.status_code == 404 and unknown.headers["x-request-id"]
    logged = {r.request_id: r.getMessage() for r in records.records}
    assert logged["trace-42.a_b:c"].startswith("GET /health 200")
    assert logged[fresh.headers["x-request-id"]].startswith("POST /ask 200")


def test_metrics_count_requests_latency_and_outcomes(client):
    client.post("/ask", json={"question": "How much did China-Russia trade reach in 2023?"})
    client.post("/ask", json={"question": "How many people have been killed in Russia's Kharkiv offensive?"})
    text = client.get("/metrics").text
    assert 'qa_http_requests_total{app_name="qa",method="POST",path="/ask",status_code="200"}' in text
    assert "qa_http_request_duration_seconds_bucket" in text
    counts = {line.split('"')[1]: float(line.split()[-1]) for line in text.splitlines()
              if line.startswith("qa_answers_total{")}
    assert counts["answered"] >= 1 and counts["abstained"] >= 1


# ---- path traversal -------------------------------------------------------------------
TRAVERSALS = ["../../etc/passwd", "..%2F..%2Fetc%2Fpasswd", "%2e%2e%2f%2e%2e%2fetc%2fpasswd", "....//....//etc/passwd",
              "..\\..\\pyproject.toml", "%252e%252e%252fpyproject.toml", "/etc/passwd", "%00", "a%00.txt"]


@pytest.mark.parametrize("doc_id", TRAVERSALS)
def test_document_ids_cannot_escape(writer, doc_id):
    for response in (writer.get(f"/documents/{doc_id}"),
                     writer.delete(f"/documents/{doc_id}", headers={"X-API-Key": KEY})):
        assert response.status_code in (400, 404), (doc_id, response.status_code)
        assert "root:" not in response.text and "[project]" not in response.text


@pytest.mark.parametrize("filename", ["../evil.txt", "../../etc/cron.d/x.txt", "/etc/evil.txt", ".hidden.txt",
                                      "a/b.txt", "a\\b.txt", "a\x00.txt", "..", "x" * 201 + ".txt"])
def test_upload_file_names_cannot_escape(writer, filename):
    key = {"X-API-Key": KEY}
    assert writer.post("/documents", json={"filename": filename, "content": ARTICLE}, headers=key).status_code == 400
    multipart = writer.post("/uploads", files={"file": (filename, ARTICLE.encode(), "text/plain")}, headers=key)
    assert multipart.status_code == 400, (filename, multipart.text)


@pytest.mark.parametrize("path", ["/widget.js/../../pyproject.toml", "/widget.js/..%2F..%2Fpyproject.toml",
                                  "/%2e%2e/%2e%2e/pyproject.toml", "/static/../../pyproject.toml",
                                  "/..%2f..%2fetc%2fpasswd", "/widget.js%00.html", "/qa/static/widget.js",
                                  "/schema/../../../etc/passwd", "/schema/%2e%2e%2f%2e%2e%2fetc%2fpasswd"])
def test_static_paths_cannot_escape(client, path):
    response = client.get(path)
    assert response.status_code in (400, 404), (path, response.status_code)
    assert "root:" not in response.text and "[project]" not in response.text


@pytest.mark.parametrize("path", ["/ask", "/ask/stream", "/citations/lookup"])
def test_hostile_json_bodies_get_400(client, path):
    """Invalid UTF-8 and deeply nested arrays (2 KB of brackets) are bad requests, not 500s."""
    response = client.post(path, content=b'{"question": "trade \xff china", "quote": "a \xff b"}',
                           headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text
    lookup = path == "/citations/lookup"
    nested = "[" * 1000 + "]" * 1000
    deep = f'{{"quote": {nested}}}' if lookup else f'{{"question": "trade", "filters": {{"doc_ids": {nested}}}}}'
    response = client.post(path, content=deep.encode(), headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text
    # Decoded against the schema, the body fails at the first array where a string belongs.
    where = "$.quote" if lookup else "$.filters.doc_ids[0]"
    assert response.json()["extra"][0]["message"] == f"Expected `str`, got `array` - at `{where}`"


@pytest.mark.parametrize("trusted", ["", "127.0.0.1"])
def test_rate_limit_keys_on_the_peer_unless_the_proxy_is_trusted(tmp_path, trusted):
    """A client rotating X-Forwarded-For from loopback is still one client; behind a listed
    proxy, the forwarded address is the client."""
    import os

    import httpx

    from tests.servers import api_server, free_port

    port = free_port()
    env = {**os.environ, "QA_DATA_DIR": str(tmp_path), "QA_MODEL_CACHE_DIR": str(SEEDS.parent / "data" / "models"),
           "QA_RATE_LIMIT_PER_MINUTE": "5", "QA_TRUSTED_PROXIES": trusted}
    server = api_server(port, env, tmp_path / "api.log").start()
    try:
        statuses = [httpx.get(f"http://127.0.0.1:{port}/documents", headers={"X-Forwarded-For": f"203.0.113.{n}"}).status_code
                    for n in range(8)]
    finally:
        server.stop()
    assert (429 in statuses) == (not trusted), statuses


def test_a_real_server_answers_head_without_a_body(tmp_path):
    import os

    import httpx

    from tests.servers import api_server, free_port

    port = free_port()
    env = {**os.environ, "QA_DATA_DIR": str(tmp_path), "QA_MODEL_CACHE_DIR": str(SEEDS.parent / "data" / "models")}
    server = api_server(port, env, tmp_path / "api.log").start()
    try:
        for path in ("/health", "/", "/documents", "/metrics", "/schema/openapi.json"):
            response = httpx.head(f"http://127.0.0.1:{port}{path}")
            assert response.status_code == 200 and response.content == b"", path
            assert int(response.headers["content-length"]) > 0  # the length of the GET body, as HTTP says
    finally:
        server.stop()


def test_html_pages_send_a_content_security_policy_and_refuse_framing(client):
    import base64
    import hashlib
    import re

    page = client.get("/")
    policy = page.headers["content-security-policy"]
    assert "frame-ancestors 'self'" in policy and page.headers["x-frame-options"] == "SAMEORIGIN"
    inline = re.search(rb"<script>(.*?)</script>", page.content, re.S).group(1)
    assert f"'sha256-{base64.b64encode(hashlib.sha256(inline).digest()).decode()}'" in policy
    doc_id = client.get("/documents").json()["documents"][0]["id"]
    article = client.get(f"/documents/{doc_id}?format=html")
    assert "frame-ancestors 'self'" in article.headers["content-security-policy"]
    assert "script-src 'self';" in article.headers["content-security-policy"]  # no inline script allowed
