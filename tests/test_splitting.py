from index.documents import Span
from index.splitting import paragraph_spans, split_passages, split_sentences


def words(texts):
    return [len(t.split()) + 2 for t in texts]


def sentences_of(text):
    return [text[s.start : s.end] for s in split_sentences(text)]


def test_abbreviations_money_and_quotes_stay_in_one_sentence():
    text = ("The U.S. has imposed sanctions on these companies. Trade reached a record $240.1 billion in 2023, "
            "up 13%. Dr. Smith said “it was unprecedented.” Then he left at 5 p.m. on Friday.")
    assert sentences_of(text) == [
        "The U.S. has imposed sanctions on these companies.",
        "Trade reached a record $240.1 billion in 2023, up 13%.",
        "Dr. Smith said “it was unprecedented.”",
        "Then he left at 5 p.m. on Friday.",
    ]


def test_sentence_offsets_index_the_text_exactly():
    text = "First paragraph. It has two sentences.\n\n  Second one, with “quotes.”  \n\nThird: the U.S. again."
    for span in split_sentences(text):
        piece = text[span.start : span.end]
        assert piece == piece.strip() and piece


def test_paragraph_spans_follow_blank_lines():
    text = "One.\n\nTwo\nstill two.\n\nThree."
    assert [text[s.start : s.end] for s in paragraph_spans(text)] == ["One.", "Two\nstill two.", "Three."]


def test_passages_follow_paragraphs_merge_headings_and_split_long_ones():
    heading = "A heading"
    long_paragraph = " ".join(f"Sentence number {i} says something about trade." for i in range(40))
    text = f"{heading}\n\nShort paragraph follows the heading and is long enough to stand alone here.\n\n{long_paragraph}"
    passages = split_passages(text, words, max_tokens=60, min_tokens=10)
    first = text[passages[0][0].start : passages[0][-1].end]
    assert first.startswith(heading) and "Short paragraph" in first
    for group in passages:
        assert sum(words([text[s.start : s.end] for s in group])) <= 60
    covered = [s for group in passages for s in group]
    assert covered == sorted(covered, key=lambda s: s.start)
    assert len(covered) == len(split_sentences(text))


def test_overlong_sentence_is_cut_at_word_boundaries():
    text = " ".join(["word"] * 500) + "."
    passages = split_passages(text, words, max_tokens=100, min_tokens=10)
    assert len(passages) > 1
    joined = " ".join(text[s.start : s.end] for group in passages for s in group)
    assert joined == text
    assert all(isinstance(s, Span) for group in passages for s in group)


def test_sentences_are_those_of_pysbd_segment():
    """split_sentences locates pysbd's sentences itself (faster than `segment`, which compiles
    a regex per sentence): the sentences must be exactly the ones `segment` gives."""
    from pathlib import Path

    import pysbd

    from index.loading import discover, read_document
    from index.pipeline import prepare
    from tests.conftest import SEEDS, SHARED

    folders = [SEEDS] + [f for f in (SHARED / "eval" / "news-dev" / "articles",) if f.exists()]
    segmenter = pysbd.Segmenter(language="en", clean=False)
    for path in discover([Path(f) for f in folders]):
        document = prepare(read_document(path))
        for paragraph in paragraph_spans(document.text):
            chunk = document.text[paragraph.start : paragraph.end]
            expected = [s.strip() for s in segmenter.segment(chunk) if s.strip()]
            assert [document.text[s.start : s.end] for s in split_sentences(document.text, paragraph)] == expected
