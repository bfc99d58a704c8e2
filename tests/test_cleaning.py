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
