"""The chat widget end to end, in headless Chromium against the real server (`qa serve`):
the demo page streams a cited answer and shows a citation's quote, a page on another
origin embeds the script (CORS), the keyboard and a phone-width screen work, and article
text that looks like HTML stays inert text. Also the quote verification page (/verify)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT, SEEDS

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Chromium at /usr/bin/chromium "
                                "(apt-get install chromium; .ci/run installs it)")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SCREENSHOTS = ROOT / "benchmarks" / "results"
WAIT_MS = 60_000  # the longest any single UI step may take on a loaded 2-core CI machine
TRADE = "How much did China-Russia trade reach in 2023?"
KHARKIV = "How many people have been killed in Russia's Kharkiv offensive?"
PAYLOAD = "<img src=x onerror=alert(1)>"
HOSTILE_ARTICLE = f"""Harbour festival {PAYLOAD} draws a record crowd

The Zanzibar harbour festival drew 48,000 visitors in 2021, {PAYLOAD} according to the organisers.

The fireworks display lasted forty minutes <script>alert("script")</script> and was paid for by the port authority.
"""

# Emoji and rare CJK characters are two UTF-16 units each, combining marks one code point
# each: offsets counted in code points (the API) and in UTF-16 (JavaScript) part after them.
UNICODE_ARTICLE = """Lantern fair 🎉🏮 in 𠮷野 brings records

Crowds 🎉🎉 at the 𠮷野 lantern fair in Nara (奈良) spent a record ¥1.8 million on lanterns, organisers said.

Visitors from Kyóto and Zürich 🚄 arrived by train on Saturday morning.
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_up(url: str, process: subprocess.Popen, log: Path, deadline_s: float = 300) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{url} exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    pytest.fail(f"{url} did not come up:\n{log.read_text()[-3000:]}")


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class Servers:
    def __init__(self, api: str, embed_page: str, refused_page: str) -> None:
        self.api = api  # the service, also serving the demo page
        self.embed_page = embed_page  # another origin, allowed by QA_CORS_ALLOW_ORIGINS
        self.refused_page = refused_page  # the same page under an origin that is not allowed


@pytest.fixture(scope="module")
def servers(tmp_path_factory) -> Iterator[Servers]:
    tmp = tmp_path_factory.mktemp("widget")
    api_port, page_port = _free_port(), _free_port()
    api = f"http://127.0.0.1:{api_port}"
    env = {**os.environ, "QA_DATA_DIR": str(tmp / "data"), "QA_MODEL_CACHE_DIR": str(ROOT / "data" / "models"),
           "QA_SEEDS_DIR": str(SEEDS), "QA_CORS_ALLOW_ORIGINS": f"http://127.0.0.1:{page_port}",
           "QA_RATE_LIMIT_PER_MINUTE": "0"}
    qa = [sys.executable, "-m", "qa.cli"]
    articles = tmp / "hostile"
    articles.mkdir()
    (articles / "harbour.txt").write_text(HOSTILE_ARTICLE)
    (articles / "lanterns.txt").write_text(UNICODE_ARTICLE)
    # Dated before 2023 (the date filter test's 2023-01-01 matches none of them): the latest stories.
    (articles / "harbour.txt.meta.json").write_text('{"date": "2022-06-01", "publisher": "Harbour Gazette"}')
    (articles / "lanterns.txt.meta.json").write_text('{"date": "2022-09-15", "publisher": "Nara Evening Post"}')
    subprocess.run([*qa, "ingest", "--quiet", str(articles)], env=env, cwd=ROOT, check=True, capture_output=True)

    site = tmp / "site"
    site.mkdir()
    (site / "embed.html").write_text(f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>A partner site</title></head><body><h1>A partner newsroom</h1>
<script src="{api}/widget.js" data-endpoint="{api}" data-title="Ask our archive" defer></script></body></html>""")

    api_log, page_log = tmp / "api.log", tmp / "page.log"
    with api_log.open("w") as api_out, page_log.open("w") as page_out:
        server = subprocess.Popen([*qa, "serve", "--ingest-seeds", "--host", "127.0.0.1", "--port", str(api_port)],
                                  env=env, cwd=ROOT, stdout=api_out, stderr=subprocess.STDOUT)
        pages = subprocess.Popen([sys.executable, "-m", "http.server", str(page_port), "--bind", "127.0.0.1",
                                  "--directory", str(site)], stdout=page_out, stderr=subprocess.STDOUT)
        try:
            _wait_until_up(f"{api}/ready", server, api_log)
            _wait_until_up(f"http://127.0.0.1:{page_port}/embed.html", pages, page_log)
            # "localhost" is a different origin from "127.0.0.1" for the browser: not in the allowed list.
            yield Servers(api, f"http://127.0.0.1:{page_port}/embed.html", f"http://localhost:{page_port}/embed.html")
        finally:
            _stop(pages)
            _stop(server)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=WAIT_MS)

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    # Reduced motion turns the widget's animations off, so screenshots show the final state.
    context = browser.new_context(viewport={"width": 1280, "height": 820}, reduced_motion="reduce")
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    page.dialogs = []
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
    yield page
    context.close()


def _ask(page, question: str) -> None:
    box = page.get_by_label("Your question")
    box.fill(question)
    box.press("Enter")


def _answers(page):
    """The finished answers (their meta line appears with the `done` event)."""
    return page.locator("news-qa-chat .msg.bot:not([aria-busy])")


def test_demo_page_streams_a_cited_answer_and_shows_the_quote(page, servers):
    from playwright.sync_api import expect

    violations = []
    page.on("console", lambda message: "Content Security Policy" in message.text and violations.append(message.text))
    page.goto(servers.api + "/")
    expect(page).to_have_title("News QA · Ask the archive")
    # The page's own inline script ran under its Content-Security-Policy: it listed the articles.
    expect(page.locator("#articles li").first).not_to_have_text("The article list is unavailable.")
    expect(page.locator("#snippet")).to_contain_text(servers.api)
    launcher = page.get_by_role("button", name="Open chat")
    expect(launcher).to_have_attribute("aria-expanded", "false")
    launcher.click()
    expect(page.get_by_role("dialog", name="Ask the news")).to_be_visible()
    expect(page.get_by_label("Your question")).to_be_focused()

    _ask(page, TRADE)
    answer = _answers(page).last
    expect(answer.locator(".sentence").first).to_contain_text("$240.1 billion")
    expect(answer.locator(".sentence mark").first).to_have_text("$240.1 billion")  # the short answer span
    assert not violations, violations
    marker = answer.get_by_role("button", name="Show source 1")
    expect(marker).to_be_enabled()
    expect(answer.get_by_role("list", name="Sources").get_by_role("listitem").first).to_be_visible()
    expect(answer.locator(".meta")).to_contain_text("Confidence")
    page.screenshot(path=str(SCREENSHOTS / "widget.png"))

    citation = httpx.post(servers.api + "/ask", json={"question": TRADE}).json()["citations"][0]
    marker.click()
    source = page.get_by_role("region", name="Source of the answer")
    expect(source).to_be_visible()
    expect(source.get_by_role("heading", level=3)).to_have_text(citation["title"])
    expect(source.locator("mark.quote")).to_have_text(citation["quote"])
    expect(source.locator("mark.answer")).to_have_text("$240.1 billion")
    detail = httpx.get(f"{servers.api}/citations/{citation['id']}")
    if detail.status_code == 200:  # the citation lookup gives the quote's paragraph as context
        expect(source.locator(".context")).to_contain_text(detail.json()["paragraph"]["text"])
        expect(source.get_by_role("link", name="Open the full article")).to_have_attribute(
            "href", servers.api + detail.json()["document_url"])
    page.screenshot(path=str(SCREENSHOTS / "widget-source.png"))

    page.keyboard.press("Escape")  # back from the source to the conversation
    expect(source).to_be_hidden()
    expect(marker).to_be_focused()


def test_follow_up_and_no_answer_in_the_browser(page, servers):
    from playwright.sync_api import expect

    page.goto(servers.api + "/")
    page.get_by_role("button", name="Open chat").click()
    _ask(page, TRADE)
    expect(_answers(page)).to_have_count(1)
    _ask(page, "how much was it in 2022?")
    expect(_answers(page)).to_have_count(2)
    follow_up = _answers(page).last
    expect(follow_up.locator(".understood")).to_contain_text("how much was it in 2022? (")
    # The article with the 2022 figure is cited, or offered as a related passage.
    expect(follow_up).to_contain_text("Xi-Putin Meeting Shows Ukraine Peace")

    _ask(page, KHARKIV)
    expect(_answers(page)).to_have_count(3)
    refusal = _answers(page).last
    expect(refusal).to_contain_text("No answer found in the articles")
    expect(refusal.locator(".sentence")).to_have_count(0)
    expect(refusal.locator(".cite")).to_have_count(0)
    expect(refusal.locator(".related")).to_contain_text("not an answer")
    expect(refusal.locator(".related li").first).to_be_visible()
    # The closest sentence is shown apart, marked inside its passage, and never as an answer.
    closest = refusal.locator(".closest")
    expect(closest).to_contain_text("it may not answer the question")
    abstention = httpx.post(servers.api + "/ask", json={"question": KHARKIV}).json()
    passage = next(p for p in abstention["related"] if p["closest_start"] is not None)
    expect(closest.locator("mark.closest-sentence")).to_have_text(
        passage["text"][passage["closest_start"] : passage["closest_end"]])
    closest.scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOTS / "widget-abstention.png"))

    page.get_by_role("button", name="Start a new conversation").click()
    expect(_answers(page)).to_have_count(0)


def test_keyboard_only_use(page, servers):
    from playwright.sync_api import expect

    page.goto(servers.api + "/")
    launcher = page.get_by_role("button", name="Open chat")
    launcher.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("dialog", name="Ask the news")).to_be_visible()
    expect(page.get_by_label("Your question")).to_be_focused()
    page.keyboard.type(TRADE)
    page.keyboard.press("Enter")
    expect(_answers(page)).to_have_count(1)
    page.keyboard.press("Escape")  # closes the panel and gives the focus back to the launcher
    expect(page.get_by_role("dialog")).to_be_hidden()
    expect(launcher).to_be_focused()
    expect(launcher).to_have_attribute("aria-expanded", "false")


def test_phone_width_panel_fills_the_screen(browser, servers):
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 375, "height": 700}, reduced_motion="reduce", has_touch=True)
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    try:
        page.goto(servers.api + "/")
        page.get_by_role("button", name="Open chat").tap()
        dialog = page.get_by_role("dialog")
        expect(dialog).to_be_visible()
        box = dialog.bounding_box()
        assert box == {"x": 0, "y": 0, "width": 375, "height": 700}
        _ask(page, TRADE)
        expect(_answers(page).locator(".sentence").first).to_contain_text("$240.1 billion")
        assert page.evaluate("document.documentElement.scrollWidth") <= 375  # nothing sticks out sideways
        page.screenshot(path=str(SCREENSHOTS / "widget-phone.png"))
    finally:
        context.close()


def test_a_page_on_another_allowed_origin_embeds_the_widget(page, servers):
    from playwright.sync_api import expect

    page.goto(servers.embed_page)
    page.get_by_role("button", name="Open chat: Ask our archive").click()
    _ask(page, TRADE)  # a JSON POST: the browser sends a CORS preflight first
    answer = _answers(page).last
    expect(answer.locator(".sentence").first).to_contain_text("$240.1 billion")
    answer.get_by_role("button", name="Show source 1").click()
    expect(page.locator("news-qa-chat mark.quote")).to_contain_text("$240.1 billion")


def test_an_origin_that_is_not_allowed_is_refused_by_the_browser(page, servers):
    from playwright.sync_api import expect

    page.goto(servers.refused_page)
    page.get_by_role("button", name="Open chat: Ask our archive").click()
    _ask(page, TRADE)
    expect(page.locator("news-qa-chat .msg.bot.error")).to_be_visible()
    expect(page.locator("news-qa-chat .sentence")).to_have_count(0)


def test_article_text_that_looks_like_html_stays_inert(page, servers):
    from playwright.sync_api import expect

    page.goto(servers.api + "/")
    expect(page.locator("#articles")).to_contain_text(f"Harbour festival {PAYLOAD}")  # the demo page's list
    page.get_by_role("button", name="Open chat").click()
    _ask(page, "How many visitors did the Zanzibar harbour festival draw in 2021?")
    answer = _answers(page).last
    expect(answer.locator(".sentence").first).to_contain_text(PAYLOAD)
    answer.get_by_role("button", name="Show source 1").click()
    expect(page.locator("news-qa-chat mark.quote")).to_contain_text(PAYLOAD)
    _ask(page, "How long did the fireworks display last?")
    expect(_answers(page)).to_have_count(2)
    expect(page.locator("news-qa-chat .msg.bot").last).to_contain_text("<script>")
    counts = page.evaluate("""() => {
        const shadow = document.querySelector("news-qa-chat").shadowRoot;
        return {img: document.querySelectorAll("img").length + shadow.querySelectorAll("img").length,
                script: shadow.querySelectorAll("script").length};
    }""")
    assert counts == {"img": 0, "script": 0}
    assert page.dialogs == []


def test_offsets_after_emoji_cjk_and_combining_marks_highlight_the_right_text(page, servers):
    """The API's offsets are code points; the widget converts them before slicing strings."""
    from playwright.sync_api import expect

    page.goto(servers.api + "/")
    page.get_by_role("button", name="Open chat").click()
    _ask(page, "How much did visitors spend at the lantern fair in Nara?")
    answer = _answers(page).last
    expect(answer.locator(".sentence").first).to_contain_text("¥1.8 million")
    expect(answer.locator(".sentence mark").first).to_have_text("¥1.8 million")
    answer.get_by_role("button", name="Show source 1").click()
    quote = page.locator("news-qa-chat mark.quote")
    expect(quote).to_have_text("Crowds 🎉🎉 at the 𠮷野 lantern fair in Nara (奈良) spent a record ¥1.8 million on "
                               "lanterns, organisers said.")
    expect(page.locator("news-qa-chat .context mark.answer")).to_have_text("¥1.8 million")


def test_verify_page_marks_each_quote_by_status_with_the_keyboard_only(page, servers):
    """Paste a draft, check it without the mouse, open a misquote's source: the changed number
    is named and the source paragraph marks the words; an ellipsis is shown as allowed and a
    reversal above the other changes; HTML in the draft stays text."""
    from playwright.sync_api import expect

    violations = []
    page.on("console", lambda message: "Content Security Policy" in message.text and violations.append(message.text))
    page.goto(servers.api + "/verify")
    draft = (f"Customs figures show \u201ctrade between China and Russia reached a record $204.1 billion in 2023\u201d, "
             f"up on the year. Officials noted that \"China has bolstered its trade and military relationships with "
             f"Russia\". A {PAYLOAD} source said \"the {PAYLOAD} minister will resign by Friday at noon\". "
             "Crowds \U0001f389 said \"Western powers have expressed concerns that China could \u2026 provide weapons to "
             "Russia\". Beijing \u201cremains willing to openly condemn Russian actions\u201d.")
    page.get_by_label("Text to check").focus()
    page.keyboard.insert_text(draft)
    page.keyboard.press("Tab")  # the mode
    page.keyboard.press("Tab")  # the button
    page.keyboard.press("Enter")
    marks = page.locator("#marked mark")
    expect(marks).to_have_count(5)
    assert [m.get_attribute("class") for m in marks.all()] == ["misquoted", "exact", "not_found", "close", "misquoted"]
    expect(marks.nth(0)).to_have_text("trade between China and Russia reached a record $204.1 billion in 2023")
    expect(marks.nth(3)).to_have_text("Western powers have expressed concerns that China could \u2026 provide weapons to "
                                      "Russia")
    expect(page.locator("#summary")).to_contain_text("2 misquoted")
    close, reversed_ = page.locator("#results > li").nth(3), page.locator("#results > li").nth(4)
    expect(close.locator(".changes li.allowed")).to_have_text("allowed ellipsis: \u201c\u2026\u201d leaves out "
                                                              "\u201cpotentially\u201d")
    expect(reversed_.locator(".reversal")).to_have_text(
        "Reversal: the source says \u201creluctant\u201d, the text \u201cwilling\u201d")  # above the list, in bold
    marks.nth(0).focus()
    page.keyboard.press("Enter")
    selected = page.locator("#results li.selected")
    expect(selected).to_have_count(1)
    expect(selected.locator(".changes")).to_contain_text("number: the source says \u201c$240.1\u201d, the text \u201c$204.1\u201d")
    expect(selected.locator(".source mark")).to_have_text(
        "trade between China and Russia reached a record $240.1 billion in 2023")
    expect(page.locator("#marked")).to_contain_text(PAYLOAD)  # as text
    assert page.evaluate("document.querySelectorAll('img').length") == 0
    page.screenshot(path=str(SCREENSHOTS / "verify.png"), full_page=True)
    assert page.dialogs == [] and violations == []


def test_the_date_filter_is_sent_and_its_no_match_message_shown(page, servers):
    """The widget's filter control sends `filters` with the question; the seeds have no dates,
    so a date filter matches nothing and the API's 404 message is what the reader sees."""
    from playwright.sync_api import expect

    bodies = []
    page.on("request", lambda request: request.url.endswith("/ask/stream") and bodies.append(request.post_data_json))
    page.goto(servers.api + "/")
    page.get_by_role("button", name="Open chat").click()
    page.get_by_text("Filter by publication date").click()
    page.get_by_label("Published from").fill("2023-01-01")
    _ask(page, TRADE)
    expect(page.locator("news-qa-chat .msg.bot").last).to_contain_text("no document matches the filters")
    assert bodies[-1]["filters"] == {"published_from": "2023-01-01"}
    page.get_by_label("Published from").fill("")
    _ask(page, TRADE)
    expect(_answers(page).last.locator(".sentence").first).to_contain_text("$240.1 billion")
    assert "filters" not in bodies[-1]


def test_the_demo_page_lists_the_latest_stories_linked_to_their_pages(page, servers):
    """Newest first by publication date (undated seeds after them), each with its publisher and
    date, its title as text, and a link to the document's readable page; under the page's CSP."""
    from playwright.sync_api import expect

    violations = []
    page.on("console", lambda message: "Content Security Policy" in message.text and violations.append(message.text))
    page.goto(servers.api + "/")
    latest = page.get_by_role("region", name="Latest stories")
    stories = latest.get_by_role("listitem")
    expect(stories.nth(0)).to_contain_text("Lantern fair")
    expect(stories.nth(0)).to_contain_text("Nara Evening Post · 2022-09-15")
    expect(stories.nth(1)).to_contain_text(f"Harbour festival {PAYLOAD}")  # as text, never markup
    expect(stories.nth(1)).to_contain_text("Harbour Gazette · 2022-06-01")
    listed = httpx.get(servers.api + "/documents", params={"sort": "latest", "limit": 1}).json()
    expect(stories).to_have_count(min(8, listed["total"]))
    first = listed["documents"][0]
    link = stories.nth(0).get_by_role("link")
    expect(link).to_have_attribute("href", f"/documents/{first['id']}?format=html")
    link.click()
    expect(page).to_have_url(f"{servers.api}/documents/{first['id']}?format=html")
    expect(page.locator("body")).to_contain_text("spent a record ¥1.8 million on lanterns")
    assert page.dialogs == [] and violations == []
