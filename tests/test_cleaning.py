from index.cleaning import clean, is_boilerplate
from index.loading import read_document
from index.pipeline import prepare
from tests.conftest import SEEDS

BOILERPLATE = ["Share.", "Exit mobile version", "Connect with us", "Subscribe to Our Newsletter", "Comments 2",
               "No comments:", "Post a Comment", "By submitting your info, you agree to our terms of use."]


def test_known_boilerplate_lines_are_recognised():
    for line in BOILERPLATE:
        assert is_boilerplate(line), line
    assert not is_boilerplate("Share prices fell by 3% on Monday.")


def test_related_article_list_and_author_box_are_removed_but_bio_kept():
    paragraphs = [
        "Real news paragraph about trade.",
        "Written By",
        "Jingdong Yuan is an associate professor of Asia-Pacific security at the University of Sydney.",
        "Prigozhin challenges Putin Prigozhin challenges Putin",
        "How Yevgeny Prigozhin Could Threaten Putin From the Right",
        "xi putin china russia summit",
        "Last year, they met. (Image Credit: Russian Presidency)",
    ]
    result = clean(paragraphs)
    assert result.paragraphs == [paragraphs[0], paragraphs[2]]
    assert result.author == "Jingdong Yuan"


def test_no_seed_document_keeps_boilerplate():
    for path in sorted(SEEDS.glob("*.txt")):
        document = prepare(read_document(path))
        for needle in BOILERPLATE + ["Exit mobile", "Written By", "Zelensky Takes Front Seat at the G7", "Image Credit"]:
            assert needle not in document.text, (path.name, needle)
        assert "\n\n\n" not in document.text


PROMOTIONS = ["SUBSCRIBE NOW: Get unlimited access for just $1 a week!", "Get unlimited digital access",
              "Already a subscriber? Log in", "Support independent journalism: become a member today.",
              "Read every story for only £4.99 a month."]
# Real content that shares their words stays.
STORY_LINES = ["Subscribers now pay for just $1 a week more than last year, the company said in its report.",
               "The paper said it would support independent journalism in the region with a new fund, worth $2m, "
               "that opens to applicants in every county of the state from next spring onwards."]


def test_subscription_promotions_are_boilerplate_but_stories_about_them_are_not():
    for line in PROMOTIONS:
        assert is_boilerplate(line), line
    for line in STORY_LINES:
        assert not is_boilerplate(line), line


# Layouts written for these tests: everything in <div>s (no <p>, no <article>), and a page with
# the byline and date in a <span> row, a promotion box and a newsletter form inside the story.
DIV_PAGE = """<!doctype html><html><head><title>Port strike ends after nine days | The Harbour Times</title></head>
<body><div class="nav"><div>Home</div><div>World</div></div><div class="article">
<div class="headline">Port strike ends after nine days</div><div class="byline">By Maria Lopez</div>
<div class="text">Dock workers in Rotterdam returned to work on Monday after a nine-day strike over pay ended with a 6.5% raise.</div>
<div class="text">The union said the agreement covers 4,000 workers and runs for two years.</div>
<div class="promo">SUBSCRIBE NOW: Get unlimited access for just $1 a week!</div>
<div class="text">Shipping lines had diverted more than 80 vessels to Antwerp and Hamburg during the stoppage.</div>
</div><div class="footer">© 2024 The Harbour Times</div></body></html>"""
SPAN_PAGE = """<!doctype html><html><head><title>Council approves new tram line</title>
<meta name="author" content="Tom Okafor"><meta property="article:published_time" content="2024-05-02"></head>
<body><main><h1>Council approves new tram line</h1><p><span>By Tom Okafor</span> · <span>2 May 2024</span></p>
<p>The city council voted 31 to 12 on Thursday to build a 14km tram line linking the airport to the centre.</p>
<aside><p>Already a subscriber? Log in</p><p>Support independent journalism: become a member today.</p></aside>
<p>Construction is due to start in 2026 and cost about £410m, the council said.</p>
<form><p>Sign up for our newsletter</p></form></main></body></html>"""


def test_real_world_layouts_keep_the_story_and_byline_and_drop_promotions(tmp_path):
    for name, page, author, facts in [("div.html", DIV_PAGE, "Maria Lopez", ["6.5% raise", "4,000 workers", "80 vessels"]),
                                      ("span.html", SPAN_PAGE, "Tom Okafor", ["31 to 12", "£410m"])]:
        (tmp_path / name).write_text(page)
        document = prepare(read_document(tmp_path / name))
        for fact in facts:
            assert fact in document.text, (name, fact)
        for promotion in ["SUBSCRIBE", "unlimited access", "Already a subscriber", "independent journalism",
                          "newsletter"]:
            assert promotion not in document.text, (name, promotion)
        assert document.metadata.get("author") == author, (name, document.metadata)


def test_link_texts_between_sentences_are_cut_out():
    """A video link's text left inside a line ("Watch ... »", or a stray quote mark in some
    copies) goes, as does a share link after the last sentence; quotations and sentences
    that merely start with "See" stay."""
    lines = ['The park opened. Watch how visitors react to the memorial" After five years, it is done.',
             "Read more about the vote » The minister said no.",
             'See the report below. He said "see you" Then he left. E-mail to a friend', "E-mail to a friend"]
    assert clean(["\n".join(lines)]).paragraphs == [(
        'The park opened. After five years, it is done.\nThe minister said no.\nSee the report below. He said "see you" '
        "Then he left.")]
