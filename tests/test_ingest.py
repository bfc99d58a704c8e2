"""Ingestion against a real embedded Chroma: idempotence, replacement, deletion, bad files."""

import shutil

import numpy as np
import pytest

from index.loading import METADATA_LIMITS, RawDocument, UnreadableFile, read_document
from index.pipeline import TITLE_MAX, ingest, prepare
from index.store import Store
from tests.conftest import SEEDS, make_settings


@pytest.fixture
def store_and_settings(tmp_path):
    settings = make_settings(tmp_path / "data")
    return Store.open(settings), settings


def test_reingest_adds_nothing_and_changed_file_replaces_its_passages(tmp_path, embedder, store_and_settings):
    store, settings = store_and_settings
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(SEEDS / "000_05abd8f469b4269b.txt", corpus / "a.txt")
    first = ingest([corpus], store, embedder, settings, progress=False)
    counts = store.counts()
    assert first.added == ["a"] and counts["documents"] == 1 and counts["passages"] == first.passages

    again = ingest([corpus], store, embedder, settings, progress=False)
    assert again.unchanged == ["a"] and store.counts() == counts

    (corpus / "a.txt").write_text("A new headline\n\nThe article now says something else entirely. It is short.\n")
    changed = ingest([corpus], store, embedder, settings, progress=False)
    assert changed.replaced == ["a"]
    assert store.counts()["passages"] == changed.passages == 1
    assert "something else entirely" in store.get_document("a").text

    assert store.delete_document("a") and store.counts() == {"documents": 0, "passages": 0, "sentences": 0}


def _chroma_writes(store, monkeypatch) -> dict[str, int]:
    """Count the rows each write call asks Chroma to add, upsert or delete, per collection."""
    from collections import Counter

    calls: Counter[str] = Counter()

    def spy(kind: str, verb: str):
        collection = getattr(store, kind)
        call = getattr(collection, verb)

        def counted(*args, **kwargs):
            ids = kwargs.get("ids")
            if ids is None:  # a delete by document id: as many rows as it matches
                ids = collection.get(where=kwargs["where"], include=[])["ids"]
            calls[f"{kind} {verb}"] += len(ids)
            return call(*args, **kwargs)

        monkeypatch.setattr(collection, verb, counted)

    for kind in ("sentences", "passages"):
        for verb in ("add", "upsert", "delete"):
            spy(kind, verb)
    return calls


def test_a_replacement_writes_only_the_rows_that_changed(tmp_path, embedder, store_and_settings, monkeypatch):
    """A new version of an article keeps the stored rows of the sentences and passages it did
    not change, wherever they moved: only the changed ones are deleted and added (an embedded
    Chroma's HNSW index never reuses a deleted row's slot: rewriting every row grew it, in
    memory and on disk, by the whole article at each replacement). What is stored is what
    ingesting that version afresh stores; repeated sentences are told apart."""
    store, settings = store_and_settings
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    body = (SEEDS / "003_e5a21eedf92042f0.txt").read_text() + "\n\nRead more.\n\nRead more.\n"
    (corpus / "story.txt").write_text(f"Edition 9 of this report, issued on day 10.\n\n{body}")
    first = ingest([corpus], store, embedder, settings, progress=False)
    counts = store.counts()
    writes = _chroma_writes(store, monkeypatch)

    # A longer first line moves every later offset, as an edited or updated lede does.
    (corpus / "story.txt").write_text(f"Edition 10 of this report, issued on day 11.\n\n{body}")
    edited = ingest([corpus], store, embedder, settings, progress=False)
    assert edited.replaced == ["story"] and store.counts() == counts
    assert first.sentences > 40 and first.passages > 5
    assert writes["sentences add"] == writes["sentences delete"] == 1  # the edited line's sentence
    assert writes["passages delete"] == 1 and writes["passages upsert"] == first.passages  # offsets moved
    assert "sentences upsert" not in writes and "passages add" not in writes

    fresh_settings = make_settings(tmp_path / "fresh")
    fresh = Store.open(fresh_settings)
    ingest([corpus], fresh, embedder, fresh_settings, progress=False)
    stored, expected = store.snapshot(), fresh.snapshot()
    assert stored.sentences == expected.sentences and stored.passages == expected.passages
    assert len({s.id for s in stored.sentences}) == len(stored.sentences)
    assert np.allclose(stored.sentence_vectors, expected.sentence_vectors, atol=1e-5)

    writes.clear()
    for edition in range(11, 15):  # the same edit again and again: the same few rows each time
        (corpus / "story.txt").write_text(f"Edition {edition} of this report, issued on day {edition + 1}.\n\n{body}")
        ingest([corpus], store, embedder, settings, progress=False)
    assert writes["sentences add"] == writes["sentences delete"] == 4 and store.counts() == counts
    assert writes["passages upsert"] == writes["passages delete"] == 4  # offsets unmoved: the rest stay as stored


def test_a_store_written_with_older_ids_is_read_and_then_rewritten(tmp_path, embedder, store_and_settings):
    """Stores written before span ids were their text's hold ids of the document version and
    offsets: they are read as they are, and a replacement writes the article in the new ids."""
    from index.pipeline import records
    from index.store import legacy_span_id

    store, settings = store_and_settings
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(SEEDS / "000_05abd8f469b4269b.txt", corpus / "a.txt")
    ingest([corpus], store, embedder, settings, progress=False)
    document = store.get_document("a")
    made = records(document, embedder, settings)
    store.sentences.delete(where={"doc_id": "a"})
    store.sentences.add(ids=[legacy_span_id(document, s.start, s.end) for s in made.sentences],
                        embeddings=made.sentence_vectors, metadatas=[{"doc_id": "a"}] * len(made.sentences))
    older = store.snapshot()
    assert [(s.start, s.end) for s in older.sentences] == [(s.start, s.end) for s in made.sentences]
    assert {s.id for s in older.sentences} == set(store.sentences.get(include=[])["ids"])

    (corpus / "a.txt").write_text((corpus / "a.txt").read_text() + "\n\nA correction was appended.\n")
    ingest([corpus], store, embedder, settings, progress=False)
    assert {s.id for s in store.snapshot().sentences} == set(store.sentences.get(include=[])["ids"])
    assert store.counts()["sentences"] == len(made.sentences) + 1


def test_documents_split_by_an_older_splitter_are_split_again(tmp_path, embedder, store_and_settings, monkeypatch):
    """Citations' offsets come from the splitter: a re-run of ingest replaces what an older
    version split, though the text is unchanged, and leaves the rest alone."""
    from index import splitting

    store, settings = store_and_settings
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "wire.txt").write_text("(CNN) -- The mayor resigned. Her deputy -- a lawyer -- takes over.\n")
    monkeypatch.setattr(splitting, "VERSION", "1")
    ingest([corpus], store, embedder, settings, progress=False)
    monkeypatch.undo()
    again = ingest([corpus], store, embedder, settings, progress=False)
    assert again.replaced == ["wire"] and store.get_document("wire").metadata["sentence_splitter"] == splitting.VERSION
    assert ingest([corpus], store, embedder, settings, progress=False).unchanged == ["wire"]


def test_sentence_records_hold_the_document_id_and_a_snapshot_restores_the_rest(tmp_path, embedder,
                                                                              store_and_settings):
    """Chroma keeps a sentence's vector and document id; its passage, offsets and id come back
    from the passage's sentence spans, exactly as ingest made them."""
    import numpy as np

    from index.pipeline import prepare, records

    store, settings = store_and_settings
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(SEEDS / "000_05abd8f469b4269b.txt", corpus / "a.txt")
    ingest([corpus], store, embedder, settings, progress=False)
    made = records(prepare(read_document(corpus / "a.txt", "a")), embedder, settings)
    assert {tuple(m) for m in store.sentences.get(include=["metadatas"])["metadatas"]} == {("doc_id",)}
    snapshot = store.snapshot()
    assert snapshot.sentences == made.sentences
    assert np.allclose(snapshot.sentence_vectors, made.sentence_vectors, atol=1e-6)
    # Stores written before kept the passage, offsets and words in each sentence's metadata too.
    store.sentences.update(ids=[s.id for s in made.sentences],
                           metadatas=[{"doc_id": s.doc_id, "passage_id": s.passage_id, "start": s.start, "end": s.end,
                                       "terms": "older"} for s in made.sentences])
    assert store.snapshot().sentences == made.sentences


def test_binary_and_undecodable_files_are_skipped_with_a_reason(tmp_path, embedder, store_and_settings):
    store, settings = store_and_settings
    corpus = tmp_path / "mixed"
    corpus.mkdir()
    (corpus / "image.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    (corpus / "latin1.txt").write_bytes("Caf\xe9 society".encode("latin-1"))
    (corpus / "empty.md").write_text("Share.\n\nExit mobile version\n")
    shutil.copy(SEEDS / "002_06d97b826597458d.txt", corpus / "good.txt")
    report = ingest([corpus], store, embedder, settings, progress=False)
    assert report.added == ["good"]
    reasons = dict(report.skipped)
    assert "binary" in reasons[str(corpus / "image.txt")]
    assert "not UTF-8" in reasons[str(corpus / "latin1.txt")]
    assert "no text left" in reasons[str(corpus / "empty.md")]


def test_interrupted_write_leaves_orphans_that_the_next_run_removes(tmp_path, embedder, store_and_settings):
    store, settings = store_and_settings
    corpus = tmp_path / "c"
    corpus.mkdir()
    shutil.copy(SEEDS / "001_af91c15e717acd7a.txt", corpus / "b.txt")
    report = ingest([corpus], store, embedder, settings, progress=False)
    expected = store.counts()
    # Simulate a crash after passages were written but before the document record (the commit marker).
    store.documents.delete(ids=["b"])
    assert store.snapshot().passages == []  # readers ignore uncommitted passages
    rerun = ingest([corpus], store, embedder, settings, progress=False)
    assert rerun.added == ["b"] and store.counts() == expected and report.passages == rerun.passages


def test_markdown_front_matter_and_html_metadata(tmp_path):
    md = tmp_path / "note.md"
    md.write_text("---\ntitle: A Markdown Story\nauthor: Ann Writer\ndate: 2024-05-01\n---\n# A Markdown Story\n\n"
                  "Some **bold** text with a [link](http://x.y).\n")
    raw = read_document(md)
    assert raw.metadata == {"title": "A Markdown Story", "author": "Ann Writer", "date": "2024-05-01"}
    assert raw.paragraphs == ["A Markdown Story", "Some bold text with a link."]

    page = tmp_path / "page.html"
    page.write_text("<html><head><title>Trade Record Set</title><meta name='author' content='Jo Reporter'>"
                    "</head><body><nav>Home | About</nav><article><h1>Trade Record Set</h1>"
                    "<p>Trade between China and Russia reached a record high last year, officials said on Monday.</p>"
                    "<p>Exports grew faster than imports, according to the customs data released in January.</p>"
                    "</article><footer>Share.</footer></body></html>")
    raw = read_document(page)
    assert raw.metadata["title"] == "Trade Record Set"
    assert raw.metadata.get("author") == "Jo Reporter"
    assert any("reached a record high" in p for p in raw.paragraphs)
    assert not any("Home | About" in p for p in raw.paragraphs)


def test_titles_and_metadata_fields_are_capped_at_a_word_boundary():
    """A one-word 2 MB article must not become a 2 MB title served by every GET /documents."""
    one_word = prepare(RawDocument("w", "w.txt", ["x" * 2_000_000], {}))
    assert len(one_word.title) == TITLE_MAX and one_word.title.endswith("…")
    long_heading = "Harbour " * 100
    titled = prepare(RawDocument("t", "t.txt", ["The harbour reopened on Monday after the storm."],
                                 {"title": long_heading, "author": "Ann Lee; " * 200, "url": "https://x.org/"}))
    assert titled.title == titled.metadata["title"] and len(titled.title) <= TITLE_MAX
    assert titled.title.endswith("Harbour…")  # whole words only
    assert len(titled.metadata["author"]) <= METADATA_LIMITS["author"] and titled.metadata["url"] == "https://x.org/"


@pytest.mark.parametrize(("written", "kept"), [("2024-05-01", "2024-05-01"), ("March 3, 2023", "2023-03-03"),
                                               ("2024-05-01T10:30:00Z", "2024-05-01"), ("2023", "2023"),
                                               ("not a date <script>", None), ("2023-13-45", None)])
def test_metadata_dates_are_kept_as_iso_dates_and_unreadable_ones_dropped(tmp_path, written, kept):
    md = tmp_path / "note.md"
    md.write_text(f"---\ntitle: A Story\ndate: {written}\n---\n# A Story\n\nThe harbour reopened on Monday.\n")
    assert prepare(read_document(md)).metadata.get("date") == kept


def test_unsupported_suffix_is_rejected(tmp_path):
    path = tmp_path / "x.pdf"
    path.write_bytes(b"%PDF-1.4")
    with pytest.raises(UnreadableFile, match="unsupported"):
        read_document(path)


def test_same_stem_files_in_a_folder_are_never_lost(tmp_path, embedder, store_and_settings):
    """`a/report.txt` and `b/report.md` are two documents; `report.txt` beside `report.md`
    cannot both have the id `report`: the second is skipped with a reason, not a silent replace."""
    store, settings = store_and_settings
    corpus = tmp_path / "corpus"
    for folder, name, text in [("a", "report.txt", "First report\n\nThe first report says the river flooded."),
                               ("b", "report.md", "# Second report\n\nThe second report says the bridge held."),
                               ("b", "report.txt", "Third\n\nA third file with the same stem as the second.")]:
        (corpus / folder).mkdir(parents=True, exist_ok=True)
        (corpus / folder / name).write_text(text + "\n")
    report = ingest([corpus], store, embedder, settings, progress=False)
    assert sorted(report.added) == ["a-report", "b-report"]
    assert [(path.endswith("b/report.txt"), "same document id" in reason) for path, reason in report.skipped] \
        == [(True, True)]
    assert "river flooded" in store.get_document("a-report").text
    assert "bridge held" in store.get_document("b-report").text


def test_a_file_of_another_name_never_takes_over_a_stored_id_unless_asked(tmp_path, embedder, store_and_settings):
    """`a.html` ingested, then `a.txt` in another run: both would be `a`. The second is skipped
    and reported, the stored article kept, unless replacing is asked for; a new version of
    `a.html` itself (from any folder) is a correction and replaces it."""
    store, settings = store_and_settings
    html, txt = tmp_path / "a.html", tmp_path / "other" / "a.txt"
    txt.parent.mkdir()
    html.write_text("<html><head><title>Harbour Report</title></head><body><article><h1>Harbour Report</h1>"
                    "<p>The harbour reopened on Monday after the storm, officials said in a statement.</p>"
                    "<p>Ferries will run on the winter timetable until the end of the month.</p></article></body></html>")
    txt.write_text("Bridge Report\n\nThe bridge closed on Tuesday for repairs to its northern span.\n")
    assert ingest([html], store, embedder, settings, progress=False).added == ["a"]

    refused = ingest([txt], store, embedder, settings, progress=False)
    assert not refused.added and not refused.replaced and [t.holder for t in refused.taken] == [str(html)]
    assert [(path, "same document id 'a'" in reason and str(html) in reason) for path, reason in refused.skipped] \
        == [(str(txt), True)]
    assert "harbour reopened" in store.get_document("a").text

    html.write_text(html.read_text().replace("Monday", "Sunday"))
    moved = tmp_path / "moved" / "a.html"
    moved.parent.mkdir()
    shutil.copy(html, moved)
    assert ingest([moved], store, embedder, settings, progress=False).replaced == ["a"]

    forced = ingest([txt], store, embedder, settings, progress=False, replace=True)
    assert forced.replaced == ["a"] and not forced.taken
    assert "bridge closed" in store.get_document("a").text and store.get_document("a").source == str(txt)


def test_links_out_of_the_folder_are_refused_unless_asked(tmp_path, embedder, store_and_settings):
    store, settings = store_and_settings
    secret = tmp_path / "outside.txt"
    secret.write_text("Secret\n\nThe password is swordfish and must not be ingested.\n")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(SEEDS / "000_05abd8f469b4269b.txt", corpus / "inside.txt")
    (corpus / "link.txt").symlink_to(secret)
    (corpus / "alias.txt").symlink_to(corpus / "inside.txt")  # a link that stays inside is fine
    report = ingest([corpus], store, embedder, settings, progress=False)
    assert sorted(report.added) == ["alias", "inside"]
    assert [("link.txt" in path, "outside" in reason) for path, reason in report.skipped] == [(True, True)]
    followed = ingest([corpus], store, embedder, settings, progress=False, follow_links=True)
    assert followed.added == ["link"]


def test_orphans_of_a_write_that_never_comes_back_are_removed_by_the_next_ingest(tmp_path, embedder,
                                                                                 store_and_settings):
    """A write killed before its commit marker leaves records of a document that may never be
    ingested again; its intent record names them, so the next ingest of anything removes them."""
    store, settings = store_and_settings
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir(), second.mkdir()
    shutil.copy(SEEDS / "001_af91c15e717acd7a.txt", first / "gone.txt")
    shutil.copy(SEEDS / "002_06d97b826597458d.txt", second / "kept.txt")
    before = store.counts()
    commit_marker = store.documents.add

    def crash(*args, **kwargs):
        raise RuntimeError("killed before the commit marker")

    store.documents.add = crash
    with pytest.raises(RuntimeError):
        ingest([first], store, embedder, settings, progress=False)
    store.documents.add = commit_marker
    assert store.counts()["sentences"] > before["sentences"]  # orphans of "gone" are there
    ingest([second], store, embedder, settings, progress=False)
    kept = {m["doc_id"] for m in store.sentences.get(include=["metadatas"])["metadatas"]}
    assert "gone" not in kept and "kept" in kept
    assert store.meta.get(where={"kind": "pending"})["ids"] == []


def test_a_delete_waits_for_one_batch_write_not_for_a_whole_ingest(tmp_path, embedder):
    """The service's write lock is held while a batch is written, not while an upload embeds:
    a delete sent during a large upload's embedding returns at once."""
    import threading

    from qa.service import QAService

    settings = make_settings(tmp_path / "data")
    service = QAService(settings, Store.open(settings), embedder)
    embedding, release = threading.Event(), threading.Event()

    class SlowEmbedder:
        dimension = embedder.dimension
        count_tokens = staticmethod(embedder.count_tokens)

        def embed(self, texts):
            embedding.set()
            release.wait(30)
            return embedder.embed(texts)

    service._writer.embedder = SlowEmbedder()
    upload = threading.Thread(target=service.ingest, args=([SEEDS / "000_05abd8f469b4269b.txt"],))
    upload.start()
    try:
        assert embedding.wait(30)
        deleted = threading.Thread(target=service.delete, args=("no-such-document",))
        deleted.start()
        deleted.join(5)
        assert not deleted.is_alive(), "the delete waited for the upload's embedding"
    finally:
        release.set()
        upload.join(60)
    assert service.store.get_document("000_05abd8f469b4269b") is not None


def test_a_store_read_in_many_pages_gives_the_same_snapshot(embedder, store_and_settings, monkeypatch):
    """Large stores are read as ids in pages, then records by id in chunks, the vectors kept
    as one float32 matrix: the same snapshot as one request."""
    import numpy as np

    from index import store as store_module

    store, settings = store_and_settings
    ingest([SEEDS], store, embedder, settings, progress=False)
    whole = store.snapshot()
    monkeypatch.setattr(store_module, "_FETCH_CHUNK", 7)
    monkeypatch.setattr(store_module, "_READ_PAGE", 11)
    paged = store.snapshot()
    assert paged.sentences == whole.sentences and len(paged.sentences) > 7 * 11
    assert paged.sentence_vectors.dtype == np.float32
    assert np.array_equal(paged.sentence_vectors, whole.sentence_vectors)
    assert [p.id for p in paged.passages] == [p.id for p in whole.passages]


def test_the_next_batch_is_embedded_while_one_is_written_in_order_and_a_failed_write_stops_the_ingest(
        tmp_path, embedder, store_and_settings, monkeypatch):
    """BatchWriter writes on its own thread: the second batch's embedding starts while the first
    is still being written (a Chroma server writes in its own process), batches land in the
    order they were made, and a write that fails fails the ingest with its own error."""
    import threading

    from index import pipeline

    store, settings = store_and_settings
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in ("000_05abd8f469b4269b", "001_af91c15e717acd7a", "002_06d97b826597458d"):
        shutil.copy(SEEDS / f"{name}.txt", corpus / f"{name}.txt")
    monkeypatch.setattr(pipeline, "WRITE_BATCH_PASSAGES", 1)  # one document per batch
    embedded_during_write = threading.Event()
    writing = threading.Event()
    order: list[str] = []
    real_write, real_embed = store.write_documents, embedder.embed

    def slow_write(batch, ingested_at):
        writing.set()
        if not order:  # the first batch: the ingest must go on embedding meanwhile
            embedded_during_write.wait(30)
        order.extend(item.document.id for item in batch)
        real_write(batch, ingested_at)
        writing.clear()

    class WatchedEmbedder:
        dimension = embedder.dimension
        count_tokens = staticmethod(embedder.count_tokens)

        def embed(self, texts):
            if writing.is_set():
                embedded_during_write.set()
            return real_embed(texts)

    monkeypatch.setattr(store, "write_documents", slow_write)
    report = ingest([corpus], store, WatchedEmbedder(), settings, progress=False)
    assert embedded_during_write.is_set()
    assert order == report.added == sorted(report.added) and len(order) == 3
    assert store.counts()["documents"] == 3

    def failing_write(batch, ingested_at):
        raise RuntimeError("the store refused the batch")

    (corpus / "000_05abd8f469b4269b.txt").write_text("A new headline\n\nThe article now says something else.\n")
    monkeypatch.setattr(store, "write_documents", failing_write)
    with pytest.raises(RuntimeError, match="refused"):
        ingest([corpus], store, embedder, settings, progress=False)


def test_dropping_a_store_removes_its_collections_and_leaves_other_prefixes(tmp_path, embedder):
    settings = make_settings(tmp_path / "data")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(SEEDS / "000_05abd8f469b4269b.txt", corpus / "a.txt")
    scratch, kept = Store.open(settings, prefix="scratch"), Store.open(settings, prefix="kept")
    ingest([corpus], scratch, embedder, settings, progress=False)
    ingest([corpus], kept, embedder, settings, progress=False)
    scratch.drop()
    reopened = Store.open(settings, prefix="scratch")  # a fresh, empty store under the same prefix
    assert reopened.counts() == {"documents": 0, "passages": 0, "sentences": 0}
    assert kept.counts()["documents"] == 1 and kept.get_document("a") is not None
