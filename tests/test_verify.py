"""Quote verification: finding quotations in a text (property tests on the offsets), the
status of each kind of quote a draft may hold, POST /citations/verify and `qa verify`."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from itertools import pairwise
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qa.cli import main
from qa.quotations import MIN_QUOTE_WORDS, find_quotations
from qa.lexicon import is_english, is_reversal
from qa.quote_diff import compare, source_span
from qa.schemas import MAX_VERIFY_CHARACTERS, MAX_VERIFY_QUOTES, QuoteChange
from qa.spelling import is_spelling_variant
from qa.verify import verify

MARKS = [('"', '"'), ("\u201c", "\u201d"), ("\u201e", "\u201c"), ("\u00ab", "\u00bb"), ("\u2018", "\u2019")]
WORD = st.text(alphabet=st.characters(whitelist_categories=("Ll", "Lu", "Nd", "Lo")), min_size=1, max_size=8)
PLAIN = st.lists(WORD, min_size=1, max_size=6).map(" ".join)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(PLAIN, st.lists(WORD, min_size=MIN_QUOTE_WORDS, max_size=9).map(" ".join),
                          st.sampled_from(MARKS)), min_size=1, max_size=5), PLAIN)
def test_every_quotation_is_found_at_its_exact_offsets(pieces, tail):
    text, expected = "", []
    for before, quote, (opening, closing) in pieces:
        text += before + " " + opening
        expected.append((len(text), len(text) + len(quote)))
        text += quote + closing + ", "
    text += tail
    found = find_quotations(text)
    assert [(q.start, q.end) for q in found] == expected
    assert all(text[q.start : q.end] == q.quote for q in found)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab c\n>\"'\u201c\u201d\u2018\u2019\u00ab\u00bb,.")), max_size=200))
def test_offsets_point_at_the_quotation_whatever_the_text(text):
    for q in find_quotations(text):
        assert 0 <= q.start < q.end <= len(text)
        assert text[q.start : q.end] == q.quote
        assert q.quote == q.quote.strip()


# Openers -> their closers, as the module docstring lists them; runs and mixes of marks with
# words, line breaks, blank lines and block-quote markers between.
OPENS = {'"': '"', "\u201c": "\u201d", "\u201e": "\u201c\u201d", "\u00ab": "\u00bb", "\u2039": "\u203a",
         "\u2018": "\u2019"}
MARK = st.sampled_from(list("\"\u201c\u201d\u201e\u00ab\u00bb\u2039\u203a\u2018\u2019"))
ADVERSARIAL = st.lists(st.one_of(st.tuples(MARK, st.integers(1, 30)).map(lambda run: run[0] * run[1]),
                                 st.lists(MARK, min_size=2, max_size=8).map("".join), WORD,
                                 st.sampled_from([" ", " ", ", ", "\n", "\n\n", "\n> ", "don\u2019t"])),
                       max_size=80).map("".join)


def _marks_around(text: str, quote) -> tuple[int, int]:
    """The offsets of the marks around a quotation (the whitespace next to them is not quoted)."""
    return len(text[: quote.start].rstrip()) - 1, len(text) - len(text[quote.end :].lstrip())


def _closes(text: str, opener: int, position: int) -> bool:
    after = text[position + 1 : position + 2]
    return text[position] in OPENS[text[opener]] and not (text[opener] == "\u2018" and after.isalnum())


@settings(max_examples=500, deadline=None)
@given(ADVERSARIAL)
def test_runs_and_mixes_of_quote_marks_keep_the_contract(text):
    found = find_quotations(text)
    assert [q.start for q in found] == sorted(q.start for q in found)
    for q in found:
        assert text[q.start : q.end] == q.quote == q.quote.strip() and len(re.findall(r"\w+", q.quote)) >= MIN_QUOTE_WORDS
    marked = [(q, *_marks_around(text, q)) for q in found if not q.block]
    for q, opener, closer in marked:
        assert text[opener] in OPENS and _closes(text, opener, closer)
        assert not (text[opener] in "\"\u2018" and text[opener - 1 : opener].isalnum())  # not an apostrophe or inch
        assert not any(_closes(text, opener, p) for p in range(opener + 1, closer))  # the first closer ends it
        assert not re.search(r"\n[ \t]*\n", text[opener:closer])  # never across a blank line
        assert not any(b.start <= opener < b.end for b in found if b.block)  # a block's marks open nothing
    spans = sorted((opener, closer) for _, opener, closer in marked)
    assert all(first[1] < second[0] for first, second in pairwise(spans))  # nested quotes are part of theirs


@settings(max_examples=300, deadline=None)
@given(ADVERSARIAL, ADVERSARIAL)
def test_a_blank_line_ends_every_quotation(first, second):
    text = first + "\n\n" + second
    shifted = [q._replace(start=q.start + len(first) + 2, end=q.end + len(first) + 2) for q in find_quotations(second)]
    assert find_quotations(text) == find_quotations(first) + shifted


class _CountingText(str):
    """A text that counts how often its characters are read by indexing."""

    reads = 0

    def __getitem__(self, key):
        self.reads += 1
        return super().__getitem__(key)


@pytest.mark.parametrize("run", ["\u201c" * 1000, "\u00ab" * 1000, "\u201e\u2018\u2039 w " * 300, "\u201c a" * 500])
def test_marks_that_never_close_are_not_read_again_from_each_one(run):
    text = _CountingText(f"He said {run} and left.")
    assert find_quotations(text) == []
    assert text.reads <= 3 * len(text)  # a reading from every opening mark to the end would be quadratic


def test_apostrophes_short_quotes_and_block_quotes():
    text = ("It was a \u2018so-called\u2019 deal, don\u2019t you think, and \u2018a big deal for everyone\u2019.\n"
            "He measured 5\" of rain and said \"three words here\".\n"
            "> A block quote that runs\n> over two lines.\n")
    quotes = [q.quote for q in find_quotations(text)]
    assert quotes == ["a big deal for everyone", "three words here", "A block quote that runs\n> over two lines."]
    assert find_quotations(text)[-1].searched == "A block quote that runs over two lines"  # closing stop dropped


# ---- statuses, on the seed articles ------------------------------------------------------
SOURCE = "trade between China and Russia reached a record $240.1 billion in 2023"
CASES = [
    ("exact", f"\u201c{SOURCE}\u201d"),
    ("exact", '"Trade  between China and Russia reached\na record $240.1 billion in 2023"'),  # as cut and spaced
    ("exact", "\u201cChina\u2019s President Xi Jinping during his visit to Paris\u201d"),  # curly apostrophe
    ("exact", '"China\'s President Xi Jinping during his visit to Paris"'),  # straight apostrophe
    ("exact", '"According to Chinese customs data," he said, "trade between China and Russia reached a record"'),
    ("close", '"Western powers have expressed concerns that China could \u2026 provide weapons to Russia"'),
    ("close", '"[Western powers] have expressed concerns that [Beijing] could potentially provide weapons to Russia"'),
    ("close", '"Western powers have expressed concerns that China could potentialy provide weapons to Russia"'),
    ("misquoted", '"Western powers have expressed concerns that China could provide weapons to Russia"'),  # a word left out
    ("misquoted", '"Western powers have voiced concerns that China could potentially provide weapons to Russia"'),
    ("misquoted", '"Beijing is ready to openly condemn Russian actions"'),  # the article: "remains reluctant"
    ("misquoted", '"trade between China and Russia reached a record $204.1 billion in 2023"'),  # digits swapped
    ("misquoted", '"President Emmanuel Macron hosted Xi Jinping for his first visit to Europe in ten years"'),
    ("misquoted", '"the European Union is not unwavering in its support for Kyiv"'),  # negation inserted
    ("misquoted", '"China has no intention of bolstering its trade and military relationships with Russia"'),
    ("misquoted", '"President Emmanuel Macron hosted Vladimir Putin for his first visit to Europe in five years"'),
    ("not_found", '"The minister promised a new airport for the capital by the end of the decade"'),
    ("not_found", '"China and Russia signed a treaty in Paris to end the war in Ukraine next year"'),  # archive words
]


@pytest.mark.parametrize(("status", "draft"), CASES)
def test_each_kind_of_quote_gets_its_status(service, status, draft):
    response = verify(service.corpus, f"Officials wrote {draft} in the report.")
    assert [q.status for q in response.quotes] == [status], response.quotes
    result = response.quotes[0]
    if status == "not_found":
        assert result.source is None
        return
    document = service.corpus.documents[result.source.doc_id]
    assert document.text[result.source.start : result.source.end] == result.source.quote
    if status == "misquoted":
        assert any(not c.allowed for c in result.changes), result.changes
    if status == "close":
        assert result.changes and all(c.allowed for c in result.changes), result.changes


def test_a_changed_number_is_named_in_the_diff(service):
    response = verify(service.corpus, '"trade between China and Russia reached a record $204.1 billion in 2023"')
    assert [(c.draft, c.source, c.kind) for c in response.quotes[0].changes] == [("$204.1", "$240.1", "number")]


def _changes(service, quote: str) -> tuple[str, list[tuple[str, str, str, bool]]]:
    result = verify(service.corpus, f"\u201c{quote}\u201d").quotes[0]
    return result.status, [(c.draft, c.source, c.kind, c.allowed) for c in result.changes]


@pytest.mark.parametrize(("quote", "swap"), [
    ("Beijing remains willing to openly condemn Russian actions", ("willing", "reluctant")),
    ("Beijing remains ready to openly condemn Russian actions", ("ready", "reluctant")),
    ("trade between China and Russia reached a record $240.1 billion in 2023, with Chinese exports to Russia "
     "decreasing by 46.9%", ("decreasing", "increasing")),
    ("The two leaders confirmed their unrestricted partnership, which has weakened as both nations encounter "
     "increased tensions with Western countries", ("weakened", "strengthened")),
])
def test_an_antonym_swap_is_a_misquote_of_kind_reversal(service, quote, swap):
    assert _changes(service, quote) == ("misquoted", [(*swap, "reversal", False)])


@pytest.mark.parametrize(("first", "second"), [
    ("rose", "fell"), ("approved", "rejected"), ("increase", "decrease"), ("reluctant", "willing"),
    ("ready", "reluctant"), ("won", "lost"), ("approval", "disapproval"), ("likely", "unlikely"),
    ("higher", "lower"), ("rising", "falling")])
def test_antonyms_come_from_wordnet_with_their_inflections_and_derived_forms(first, second):
    assert is_reversal(first, second) and is_reversal(second, first)


@pytest.mark.parametrize(("first", "second"), [
    ("banned", "allowed"), ("bans", "permits"), ("banning", "letting"),  # ban is a way to forbid (allow, permit)
    ("added", "removed"), ("adds", "withdraws"),  # remove: "see also" subtract, the antonym of add
])
def test_a_manner_of_an_antonym_or_a_see_also_of_one_is_a_reversal_too(first, second):
    assert is_reversal(first, second) and is_reversal(second, first)


@pytest.mark.parametrize(("first", "second"), [("banned", "prohibited"), ("removed", "withdrew"),
                                               ("supported", "backed"), ("added", "appended")])
def test_synonyms_of_the_widened_antonyms_are_no_reversal(first, second):
    assert not is_reversal(first, second)


def test_build_lexicon_widens_antonyms_by_troponyms_and_see_also_only_when_asked():
    """On a three-synset WordNet: forbid ! allow, ban a troponym of forbid, remove `^` subtract ! add."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from build_lexicon import Synset, poles

    synsets = {key: Synset(pos, lemmas) for key, pos, lemmas in (
        ("1:v", "v", ["forbid", "prohibit"]), ("2:v", "v", ["allow", "permit"]), ("3:v", "v", ["ban"]),
        ("4:v", "v", ["add"]), ("5:v", "v", ["subtract", "deduct"]), ("6:v", "v", ["remove"]))}
    synsets["1:v"].antonyms.append((1, "2:v", 1))
    synsets["2:v"].antonyms.append((1, "1:v", 1))
    synsets["1:v"].hyponyms.append("3:v")
    synsets["4:v"].antonyms.append((1, "5:v", 1))
    synsets["5:v"].antonyms.append((1, "4:v", 1))
    synsets["6:v"].also.append("5:v")

    def opposed(rules: tuple[str, ...]) -> set[frozenset[str]]:
        return {frozenset((a, b)) for mine, theirs, _ in poles(synsets, rules) for a in mine for b in theirs}
    assert frozenset(("ban", "allow")) not in opposed(())
    assert frozenset(("remove", "add")) not in opposed(())
    widened = opposed(("troponyms", "also-see"))
    assert {frozenset(("ban", "allow")), frozenset(("ban", "permit")), frozenset(("remove", "add"))} <= widened
    assert frozenset(("ban", "forbid")) not in widened and frozenset(("remove", "subtract")) not in widened


@pytest.mark.skipif(not Path("/usr/share/wordnet/data.adj").exists(), reason="apt-get install -y wordnet-base")
def test_the_shipped_antonyms_are_what_build_lexicon_makes_from_wordnet(tmp_path):
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "build_lexicon.py"
    subprocess.run([sys.executable, str(script), "--output", str(tmp_path)], check=True, capture_output=True)
    shipped = Path(__file__).resolve().parents[1] / "qa" / "models"
    for name in ("antonyms.tsv", "english_words.txt"):
        assert (tmp_path / name).read_bytes() == (shipped / name).read_bytes(), name
    assert (shipped / "antonyms.tsv").stat().st_size < 2_000_000


@pytest.mark.parametrize(("first", "second"), [("big", "large"), ("said", "stated"), ("rose", "climbed"),
                                               ("reluctant", "hesitant")])
def test_synonyms_are_no_reversal(first, second):
    assert not is_reversal(first, second)


def test_before_swapped_for_after_is_a_reversal(service):
    quote = "visit France after an expected visit from Russian President Vladimir Putin to Beijing"
    assert _changes(service, quote) == ("misquoted", [("after", "before", "reversal", False)])


def test_since_swapped_for_until_is_a_reversal(service):
    quote = "marking the most significant border violation until the invasion started in February 2022"
    assert _changes(service, quote) == ("misquoted", [("until", "since", "reversal", False)])


@pytest.mark.parametrize(("first", "second"), [
    ("before", "after"), ("since", "until"), ("since", "till"), ("over", "under"), ("above", "beneath"),
    ("into", "out"), ("onto", "off"), ("to", "from"), ("towards", "from"), ("for", "against"),
    ("if", "unless"), ("including", "except"), ("more", "fewer"), ("most", "fewest"),
    ("everywhere", "nowhere"), ("sometimes", "never"), ("either", "neither")])
def test_opposed_function_words_which_wordnet_has_no_part_of_speech_for_are_a_reversal(first, second):
    assert is_reversal(first, second) and is_reversal(second, first)


@pytest.mark.parametrize(("first", "second"), [("in", "on"), ("to", "for"), ("before", "since"), ("after", "since"),
                                               ("until", "till"), ("over", "above"), ("from", "of"),
                                               ("this", "that"), ("he", "she")])
def test_function_words_of_one_pole_or_of_no_opposition_are_no_reversal(first, second):
    assert not is_reversal(first, second)


def test_function_opposites_are_a_file_of_their_own_outside_wordnets_data_and_licence():
    models = Path(__file__).resolve().parents[1] / "qa" / "models"
    header = [line for line in (models / "function_opposites.tsv").read_text(encoding="utf-8").splitlines()
              if line.startswith("#")]
    assert any("Quirk" in line for line in header) and any("not derived from WordNet" in line.lower()
                                                           or "NOT" in line for line in header)
    wordnet_words = {w for line in (models / "antonyms.tsv").read_text(encoding="utf-8").splitlines()
                     for side in line.split("\t") for w in side.split()}
    assert not {"before", "since", "until", "against", "unless"} & wordnet_words
    assert "function_opposites" not in (models / "wordnet-license.txt").read_text(encoding="utf-8")


def test_a_function_word_that_is_a_negation_is_named_a_negation_once_not_a_reversal_too(service):
    quote = "China has a great deal of power because it was a major ally of Russia before and without its invasion"
    assert _changes(service, quote) == ("misquoted", [("without", "after", "negation", False)])


@pytest.mark.parametrize(("quote", "change"), [
    ("Beijing remains hesitant to openly condemn Russian actions", ("hesitant", "reluctant", "wording")),
    ("Beijing remains reluctant to condemn Russian actions", ("", "openly", "wording")),
    ("Beijing remains reluctant to openly condemn all Russian actions", ("all", "", "wording")),
    ("Beijing remains reluctant to openly condemn Russian actions and can afford to cut off ties",
     ("", "ill", "wording")),
])
def test_an_unmarked_substitution_insertion_or_dropped_word_is_a_misquote(service, quote, change):
    assert _changes(service, quote) == ("misquoted", [(*change, False)])


def test_an_ellipsis_omission_is_close_and_named_as_allowed(service):
    for mark in ("...", "\u2026", "[\u2026]", "[...]"):
        assert _changes(service, f"Beijing remains reluctant {mark} Russian actions") == (
            "close", [(mark, "to openly condemn", "ellipsis", True)])
    assert _changes(service, "\u2026 remains reluctant to openly condemn Russian actions") == (
        "close", [("\u2026", "", "cut", True)])


def test_a_bracketed_insertion_or_replacement_is_close_and_named_as_allowed(service):
    assert _changes(service, "[China] remains reluctant to openly condemn Russian actions") == (
        "close", [("[China]", "Beijing", "brackets", True)])
    assert _changes(service, "Beijing remains reluctant to openly condemn [Moscow's] actions") == (
        "close", [("[Moscow's]", "Russian", "brackets", True)])
    assert _changes(service, "Beijing remains reluctant [sic] to openly condemn Russian actions") == (
        "close", [("[sic]", "", "brackets", True)])


def test_brackets_that_add_a_negation_are_a_misquote(service):
    assert _changes(service, "Beijing remains [not] reluctant to openly condemn Russian actions") == (
        "misquoted", [("[not]", "", "negation", False)])


def test_brackets_that_put_another_number_in_place_are_a_misquote(service):
    assert _changes(service, "trade between China and Russia reached a record [$250 billion] in 2023") == (
        "misquoted", [("[$250 billion]", "$240.1 billion", "number", False)])


def test_an_articles_own_brackets_quoted_as_they_stand_are_no_editing():
    source = "Victoria is bordered by Bass Strait and Tasmania to the south,[note 1] New South Wales to the north"
    assert compare(source, source) == ("exact", [])
    assert compare(source.replace("note 1", "note 8"), source)[0] == "misquoted"


def test_an_ellipsis_that_leaves_out_a_negation_is_a_misquote(service):
    assert _changes(service, "China did \u2026 contribute to the crisis in Ukraine") == (
        "misquoted", [("\u2026", "not", "negation", False)])


@pytest.mark.parametrize(("quote", "change"), [
    ("Beijing remains reluctant to openly condemm Russian actions", ("condemm", "condemn")),  # a typo
    ("Beijing remains reluctnat to openly condemn Russian actions", ("reluctnat", "reluctant")),  # two letters swapped
    ("the European Union is unwavering in its support for Kyiv", None),  # exact
    ("Russia to cease its aggressive actions in Ukraine during a tri-lateral meeting in Paris",
     ("tri-lateral", "trilateral")),
    ("emphasising that the European Union is unwavering in its support for Kyiv", ("emphasising", "emphasizing")),
])
def test_spelling_variants_typos_and_hyphenation_are_close(service, quote, change):
    expected = ("close", [(*change, "spelling", True)]) if change else ("exact", [])
    assert _changes(service, quote) == expected


def test_number_words_hyphenated_otherwise_are_spelling():
    assert compare("the plague killed two thirds of the inhabitants", "the plague killed two-thirds of the inhabitants") \
        == ("close", [QuoteChange(draft="two thirds", source="two-thirds", kind="spelling", allowed=True)])


def test_another_english_word_within_one_edit_is_no_typo():
    assert compare("the rates rose", "the dates rose") == ("misquoted", [
        QuoteChange(draft="rates", source="dates", kind="wording", allowed=False)])
    assert not is_spelling_variant("form", "from") and is_spelling_variant("colour", "color")


def test_an_ending_that_the_lemmas_part_of_speech_does_not_take_makes_a_typo_not_a_word():
    # faille and loo are nouns, which take no -ed or -ing: failled and looing are typos.
    assert is_spelling_variant("failled", "failed") and is_spelling_variant("looing", "looking")
    assert compare("the talks failled", "the talks failed") == ("close", [
        QuoteChange(draft="failled", source="failed", kind="spelling", allowed=True)])
    assert is_english("ruing")  # rue is a verb: ruing is a word, though a rare one (see below)


def test_a_rare_word_one_slip_from_a_common_one_is_a_typo():
    # ruing and bodes are English (rue, bode) but used under once per million words, where
    # ruling and bodies are used over ten times per million: a slip of the keys, not a choice.
    assert compare("the court is ruing on the case", "the court is ruling on the case") == ("close", [
        QuoteChange(draft="ruing", source="ruling", kind="spelling", allowed=True)])
    assert compare("the bodes were recovered", "the bodies were recovered") == ("close", [
        QuoteChange(draft="bodes", source="bodies", kind="spelling", allowed=True)])


@pytest.mark.parametrize(("quote", "source"), [
    ("we are now ready to talk", "we are not ready to talk"),
    ("there is on deal", "there is no deal"),
    ("she won the seat", "she win the seat"),
    ("prices rose again", "prices rise again"),
    ("the plan is workable", "the plan was workable"),
    ("we can go ahead", "we can't go ahead"),
    ("the rates were fixed", "the dates were fixed"),
    ("the firm was unable to pay", "the firm was able to pay"),
    ("the move was inactive", "the move was active"),
    ("the tenor of the report", "the tensor of the report"),  # a commoner word for a rarer one
    ("the minister sinned the treaty", "the minister signed the treaty"),  # sinned: not rare enough
])
def test_common_words_one_or_two_edits_apart_stay_a_misquote(quote, source):
    assert compare(quote, source)[0] == "misquoted"


@pytest.mark.parametrize(("quote", "source", "kind"), [
    ("there are nether of them left", "there are neither of them left", "negation"),
    ("one mullion people voted", "one million people voted", "number"),
])
def test_a_rare_word_in_place_of_a_number_or_a_negation_is_no_typo(quote, source, kind):
    status, changes = compare(quote, source)
    assert status == "misquoted" and [c.kind for c in changes] == [kind]


@pytest.mark.parametrize(("draft", "source"), [
    ("asocial", "social"), ("unreported", "reported"), ("immaterial", "material"), ("infrequent", "frequent"),
    ("chancellors", "chancellor"), ("campaigner", "campaign"), ("dedicates", "dedicated"), ("arrester", "arrested"),
])
def test_a_changed_prefix_or_ending_is_no_typo_however_rare_the_word(draft, source):
    # Each draft word is rare, each source word common and one or two edits away: only the changed
    # first or last letter keeps a negative prefix, a plural, a tense or a derived noun from passing
    # as a typo.
    assert not is_spelling_variant(draft, source)
    assert compare(f"the {draft} was noted", f"the {source} was noted")[0] == "misquoted"


FOOTNOTED = ("the force acts normal to the interface between two objects.:93 The normal force holds "
             "the structure up. Prices rose 5.5% in May.")


@pytest.mark.parametrize(("quote", "cited"), [
    ("the force acts normal to the interface between two objects.", "the force acts normal to the interface between two objects."),
    ("normal to the interface between two objects", "normal to the interface between two objects"),
    (":93 The normal force holds the structure up.", ":93 The normal force holds the structure up."),
])
def test_a_quote_of_a_sentence_with_a_footnote_mark_glued_on_is_exact(quote, cited):
    start = FOOTNOTED.index(quote[:12])
    span = source_span(quote, FOOTNOTED, start, start + len(quote))
    assert FOOTNOTED[span[0] : span[1]] == cited and compare(quote, cited) == ("exact", [])


@pytest.mark.parametrize("quote", ["the structure up. Prices rose 5", "the structure up. Prices rose 5.",
                                   "5% in May."])
def test_a_decimal_point_is_never_taken_for_the_end_of_a_sentence(quote):
    start = FOOTNOTED.index("the structure")
    span = source_span(quote, FOOTNOTED, start, start + len(quote) + 4)
    status, changes = compare(quote, FOOTNOTED[span[0] : span[1]])
    assert status == "misquoted" and [c.kind for c in changes] == ["number"]


def test_changed_punctuation_is_close_and_named(service):
    assert _changes(service, "Beijing remains reluctant to openly condemn Russian actions; and can ill afford") == (
        "close", [("actions;", "actions", "punctuation", True)])


def test_sentence_mode_checks_every_sentence(service):
    text = ("According to Chinese customs data, trade between China and Russia reached a record $240.1 billion "
            "in 2023. The moon is made of green cheese and always has been.")
    response = verify(service.corpus, text, mode="sentences")
    assert [q.status for q in response.quotes] == ["exact", "not_found"]


# ---- HTTP and command line ---------------------------------------------------------------
def test_verify_endpoint_reports_in_text_order(client):
    text = f"First \u201c{SOURCE}\u201d, then \"a sentence nobody ever wrote anywhere\"."
    response = client.post("/citations/verify", json={"text": text})
    assert response.status_code == 200, response.text
    body = response.json()
    assert [q["status"] for q in body["quotes"]] == ["exact", "not_found"]
    assert body["counts"] == {"exact": 1, "close": 0, "misquoted": 0, "not_found": 1}
    first = body["quotes"][0]
    assert text[first["start"] : first["end"]] == SOURCE
    citation = client.get(f"/citations/{first['source']['id']}").json()
    assert citation["quote"] == SOURCE


def test_verify_endpoint_bounds(client):
    too_long = client.post("/citations/verify", json={"text": "word " * (MAX_VERIFY_CHARACTERS // 5 + 1)})
    assert too_long.status_code == 413 and "at most 50,000" in too_long.json()["detail"]
    many = " ".join(f'"quote number {n} here"' for n in range(MAX_VERIFY_QUOTES + 1))
    too_many = client.post("/citations/verify", json={"text": many})
    assert too_many.status_code == 413 and f"at most {MAX_VERIFY_QUOTES}" in too_many.json()["detail"]
    assert client.post("/citations/verify", json={"text": "x", "mode": "words"}).status_code == 400
    assert client.post("/citations/verify", json={"text": "   "}).status_code == 400


@pytest.fixture
def cli_env(service, monkeypatch):
    monkeypatch.setenv("QA_DATA_DIR", service.settings.data_dir)
    monkeypatch.setenv("QA_MODEL_CACHE_DIR", service.settings.model_cache_dir)


def test_qa_verify_exits_1_when_a_quote_is_wrong(cli_env, tmp_path, capsys):
    good, bad = tmp_path / "good.txt", tmp_path / "bad.txt"
    good.write_text(f"They wrote \u201c{SOURCE}\u201d.")
    bad.write_text(f"They wrote \u201c{SOURCE.replace('240.1', '204.1')}\u201d.")
    assert main(["verify", str(good)]) == 0
    assert "EXACT" in capsys.readouterr().out
    assert main(["verify", str(bad)]) == 1
    out = capsys.readouterr().out
    assert "MISQUOTED" in out and "\u201c$240.1\u201d" in out and "\033[" not in out  # no colour when piped
    assert main(["verify", str(bad), "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["counts"]["misquoted"] == 1
    assert main(["verify", str(tmp_path / "missing.txt")]) == 2


def test_qa_verify_prints_a_reversal_first_and_an_ellipsis_as_allowed(cli_env, tmp_path, capsys):
    draft = tmp_path / "draft.txt"
    draft.write_text("They wrote \u201cBeijing is willing to openly condemn Russian actions\u201d and "
                     "\u201cWestern powers have expressed concerns that China could \u2026 provide weapons to Russia\u201d.")
    assert main(["verify", str(draft)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[1:3] == ["   REVERSAL: the source says \u201creluctant\u201d, the text \u201cwilling\u201d",
                          "   wording: the source says \u201cremains\u201d, the text \u201cis\u201d"]
    assert "   allowed, ellipsis: \u201c\u2026\u201d leaves out \u201cpotentially\u201d" in lines
