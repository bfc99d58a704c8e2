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
    """split_sentences splits plain text itself and locates pysbd's sentences itself (faster
    than `segment`, which compiles a regex per sentence): on every paragraph of the seeds,
    news-dev and squad2-dev articles, each sentence pysbd gives for the text it reads (double
    hyphens as en dashes) is one of ours, or, longer than RUN_ON_CHARS, is exactly covered by
    consecutive ones of ours."""
    from pathlib import Path

    import pysbd

    from index.loading import discover, read_document
    from index.pipeline import prepare
    from index.splitting import RUN_ON_CHARS, _bounded
    from tests.conftest import SEEDS, SHARED

    folders = [SEEDS] + [f for f in (SHARED / "eval" / name / "articles" for name in ("news-dev", "squad2-dev"))
                         if f.exists()]
    segmenter = pysbd.Segmenter(language="en", clean=False)
    cut = 0
    for path in discover([Path(f) for f in folders]):
        document = prepare(read_document(path))
        for paragraph in paragraph_spans(document.text):
            chunk = _bounded(document.text[paragraph.start : paragraph.end])
            ours = [Span(s.start - paragraph.start, s.end - paragraph.start)
                    for s in split_sentences(document.text, paragraph)]
            cursor = 0
            for sentence in (s.strip() for s in segmenter.segment(chunk) if s.strip()):
                start = chunk.index(sentence, cursor)
                cursor = start + len(sentence)
                inside = [s for s in ours if start <= s.start and s.end <= cursor]
                if len(sentence) <= RUN_ON_CHARS:
                    assert inside == [Span(start, cursor)], sentence
                else:
                    assert inside[0].start == start and inside[-1].end == cursor, sentence
                    cut += len(inside) > 1
            assert cursor == len(chunk.rstrip())
    if (SHARED / "eval" / "news-dev" / "articles").exists():
        assert cut > 0  # its stories do hold run-ons (stray quote marks)


def test_wire_copy_dashes_do_not_join_sentences():
    """pysbd protects everything between two "--" as one parenthesis; CNN's dateline dash
    and any later dash in the paragraph made the whole paragraph one sentence."""
    text = ("(CNN) -- Miriam Brown wanted to visit Cape Cod. The lodging cost $200 a night. "
            "She is bartering -- trading services without money -- to cope.")
    assert sentences_of(text) == ["(CNN) -- Miriam Brown wanted to visit Cape Cod.", "The lodging cost $200 a night.",
                                  "She is bartering -- trading services without money -- to cope."]


def test_a_stray_quote_mark_does_not_join_the_rest_of_the_paragraph():
    """Link text left by a web page ('Watch the report"') opens a quotation that pysbd never
    closes; a run-on longer than RUN_ON_CHARS is cut at the sentence ends inside it, while a
    short quotation of several sentences stays whole, as pysbd keeps it."""
    text = ('Watch the report" An oversupply of the drug makes ketamine popular with young people, said '
            "Superintendent Wilson Fok of the Hong Kong Police. One gram sells for $13 on the street here. "
            "The drug is legal for medical use, but it is trafficked into Hong Kong from other parts of Asia. "
            "Police in the U.S. have stepped up efforts.")
    assert sentences_of(text)[1:] == ["One gram sells for $13 on the street here.",
                                      ("The drug is legal for medical use, but it is trafficked into Hong Kong from "
                                       "other parts of Asia."), "Police in the U.S. have stepped up efforts."]
    assert sentences_of('"Stop. Now," he said. Then he left.') == ['"Stop. Now," he said.', "Then he left."]


def test_plain_text_is_split_without_pysbd(monkeypatch):
    """Periods after plain words, before capitals, outside quotes and brackets: pysbd always
    ends sentences there, so such text never needs it (it is the slow part of ingest)."""
    from index import splitting

    def no_pysbd():
        raise AssertionError("pysbd was used for plain text")

    monkeypatch.setattr(splitting, "_segmenter", no_pysbd)
    text = "Prices rose sharply. Markets fell? Traders waited for news.\nAnother line without an end"
    assert sentences_of(text) == ["Prices rose sharply.", "Markets fell?", "Traders waited for news.",
                                  "Another line without an end"]


def test_where_pysbd_rules_apply_its_sentences_are_kept():
    """Abbreviations (also words like "is"), periods inside quotes or brackets, quotes left
    open, list markers and quote-ended sentences: the fast path leaves these to pysbd."""
    import pysbd

    from index.splitting import _plain_ends

    segmenter = pysbd.Segmenter(language="en", clean=False)
    cases = {
        "He met Mr. Jones at noon. Then they left. It is. Okay now.": [25, 41],  # not after "Mr." or "is."
        'She said "stop here. Now go" and left. They went home.': [38],  # not inside the quotes
        "It was over (for now. Really) and then. Nothing happened.": [39],  # not inside the brackets
        '"We will fight. We will win. Nobody stopped them.': [],  # a quote left open
        'That\'s all I can do." "Easy Rider" star Jack Nicholson stood there. He smiled.': [],
        "The rules are a) keep left b) keep right. Drivers agree.": [41],  # the list goes to pysbd
        'He said it was "over." Then he left.': [22],  # after the closing quote
    }
    for text, ends in cases.items():
        assert _plain_ends(text) == ends, text
        assert sentences_of(text) == [s.strip() for s in segmenter.segment(text) if s.strip()], text
