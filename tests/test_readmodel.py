"""The read model's files (index/readmodel/) as the corpus opens them: every record the
store's snapshot holds comes back at the same offsets, with the same words, vectors and
BM25 scores; orphans stay out; a half-written folder is never opened."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from index.lexical import terms, terms_of_many
from index.readmodel import format as readmodel
from index.readmodel import publish, publishing, writing
from qa.corpus import Corpus


@pytest.fixture(scope="module")
def snapshot(service):
    return service.store.snapshot()


@pytest.fixture(scope="module")
def opened(snapshot, tmp_path_factory) -> Corpus:
    folder = tmp_path_factory.mktemp("readmodel") / "g1"
    writing.write(folder, writing.from_snapshot(snapshot), readmodel.State("g1", 0))
    return Corpus.open(folder)


def test_every_record_comes_back_at_its_offsets(snapshot, opened):
    assert len(opened.passages) == len(snapshot.passages) and len(opened.sentences) == len(snapshot.sentences)
    assert {p.id: p for p in opened.passages} == {p.id: p for p in snapshot.passages}
    by_id = {s.id: s for s in snapshot.sentences}
    for row in range(len(opened.sentences)):
        record = opened.sentences[row]
        stored = by_id[record.id]
        assert (record.doc_id, record.passage_id, record.start, record.end) == \
            (stored.doc_id, stored.passage_id, stored.start, stored.end)
        assert opened.sentence_text(row) == opened.documents[stored.doc_id].text[stored.start : stored.end]
        assert opened.sentence_terms[row] == frozenset(terms(opened.sentence_text(row)))
        assert opened.version.sentence_rows([record.id]) == [row]  # as Chroma's search results are mapped


def test_repeated_passages_and_sentences_keep_the_stores_ids(embedder, tmp_path):
    """A span's id is its document's and its text's, and copies of one text in an article are
    numbered (index.documents.span_ids): the corpus gives each passage and sentence the id the
    store holds, the copies' included."""
    from index.pipeline import ingest
    from index.store import Store
    from tests.conftest import make_settings

    settings = make_settings(tmp_path / "data")
    store = Store.open(settings)
    paragraph = " ".join(f"The council met on day {n} and voted on the budget for the harbour." for n in range(6))
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "thrice.txt").write_text(f"Thrice\n\n{paragraph}\n\n{paragraph}\n\n{paragraph}\n")
    ingest([tmp_path / "c"], store, embedder, settings, progress=False)
    snapshot = store.snapshot()
    folder = tmp_path / "readmodel" / "g1"
    writing.write(folder, writing.from_snapshot(snapshot), readmodel.State("g1", 0))
    opened = Corpus.open(folder)
    texts = [opened.passage_text(r) for r in range(len(opened.passages))]
    assert len(texts) > len(set(texts))  # the test holds a repeated passage
    assert [p.id for p in opened.passages] == [p.id for p in snapshot.passages]
    assert [s.id for s in opened.sentences] == [s.id for s in snapshot.sentences]
    assert len({p.id for p in opened.passages}) == len(texts)
    assert len({s.id for s in opened.sentences}) == len(opened.sentences) == store.counts()["sentences"]


def test_passages_hold_their_sentences_in_text_order(opened):
    for row in range(len(opened.passages)):
        passage = opened.passages[row]
        rows = opened.passage_sentences(row)
        assert [int(opened.sentence_start[r]) for r in rows] == [s.start for s in passage.sentences]
        assert opened.passage_terms[row] == frozenset().union(*(opened.sentence_terms[int(r)] for r in rows))
        assert opened.passage_text(row) == opened.documents[passage.doc_id].text[passage.start : passage.end]
    for doc_id in opened.documents:  # a document's passages are one run of rows, in text order
        starts = [opened.passages[r].start for r in opened.doc_passages(doc_id)]
        assert starts == sorted(starts) and len(starts) == opened.passage_count(doc_id) > 0


def test_vectors_and_bm25_match_the_snapshot(snapshot, opened):
    row_of = {s.id: k for k, s in enumerate(snapshot.sentences)}
    rows = [row_of[opened.sentences[r].id] for r in range(len(opened.sentences))]
    assert np.abs(opened.all_vectors - snapshot.sentence_vectors[rows]).max() < 1e-3
    texts = [opened.passage_text(r) for r in range(len(opened.passages))]
    query = terms("What did Xi Jinping promise about weapons for Russia?")
    import bm25s

    reference = bm25s.BM25()
    reference.index([terms(t) for t in texts], show_progress=False)  # what the index was before it was ours
    known = [t for t in query + query[:1] if t in reference.vocab_dict]
    assert np.allclose(opened.lexical.scores(query + query[:1]), reference.get_scores(known), rtol=1e-5, atol=1e-6)


def test_unknown_ids_are_not_found(opened):
    known = opened.sentences[3].id
    assert opened.version.sentence_rows(["0" * 20, known, "f" * 20, "x"]) == [None, 3, None, None]
    assert opened.doc_passages("no-such-document") == range(0)


def test_orphans_are_left_out(snapshot, tmp_path):
    kept = dict(list(snapshot.documents.items())[1:])  # the first document's record is gone: its rest are orphans
    orphaned = snapshot.__class__(documents=kept, passages=snapshot.passages, sentences=snapshot.sentences,
                                  sentence_vectors=snapshot.sentence_vectors)
    writing.write(tmp_path / "g", writing.from_snapshot(orphaned), readmodel.State("g", 0))
    corpus = Corpus.open(tmp_path / "g")
    assert set(corpus.documents) == set(kept)
    assert {p.doc_id for p in corpus.passages} == set(kept)
    assert len(corpus.sentences) == sum(s.doc_id in kept for s in snapshot.sentences)


def test_only_committed_folders_are_used_and_old_generations_go(service, tmp_path):
    settings = service.settings.replace(data_dir=str(tmp_path))
    generation = service.store.generation()
    folder = readmodel.folder_for(tmp_path, service.store.prefix, generation)
    stale = folder.with_name("an-old-generation")
    stale.mkdir(parents=True)
    folder.mkdir()
    (folder / "documents.msgpack").write_bytes(b"half written")  # no COMMITTED marker: a killed writer's
    corpus = Corpus(publish(service.store, settings))
    assert readmodel.is_committed(folder) and not stale.exists()
    assert len(corpus.passages) == len(service.corpus.passages)


def _same(corpus: Corpus, reference: Corpus) -> None:
    """The same records, words, vectors and BM25 scores, whatever their row order."""
    def sentences(c: Corpus) -> dict[str, tuple]:
        return {c.sentences[r].id: (c.sentence_text(r), c.sentence_terms[r]) for r in range(len(c.sentences))}

    assert {p.id: p for p in corpus.passages} == {p.id: p for p in reference.passages}
    assert sentences(corpus) == sentences(reference)
    assert corpus.documents == reference.documents
    rows = {reference.sentences[r].id: r for r in range(len(reference.sentences))}
    order = [rows[corpus.sentences[r].id] for r in range(len(corpus.sentences))]
    assert np.array_equal(corpus.sentence_vectors.take(np.arange(len(corpus.sentences))),
                          reference.sentence_vectors.take(order))
    passage_rows = {reference.passages[r].id: r for r in range(len(reference.passages))}
    passage_order = [passage_rows[corpus.passages[r].id] for r in range(len(corpus.passages))]
    for question in ("What did Xi Jinping promise?", "trade between China and Russia", "court acquitted"):
        query = terms(question)
        assert np.allclose(corpus.lexical.scores(query), reference.lexical.scores(query)[passage_order], atol=1e-6)
        assert all(corpus.lexical.idf(t) == pytest.approx(reference.lexical.idf(t)) for t in query)


def test_a_write_applies_only_the_changed_documents(embedder, tmp_path):
    """After each write the service's new version is built from the one before and the
    documents the change log names, and equals a version built from the whole store."""
    from tests.conftest import SEEDS, make_settings
    from qa.service import QAService
    from index.store import Store

    settings = make_settings(tmp_path / "data")
    service = QAService(settings, Store.open(settings), embedder)
    files = sorted(SEEDS.glob("*.txt"))
    service.ingest(files[:2])
    asked: list[list[str] | None] = []
    snapshot = service.store.snapshot

    def recorded(doc_ids=None):
        asked.append(doc_ids)
        return snapshot(doc_ids)

    service.store.snapshot = recorded
    changed = tmp_path / "changed"
    changed.mkdir()
    edited = changed / files[0].name
    edited.write_text(files[0].read_text() + "\n\nA closing paragraph was added later by the editors.\n")

    def check() -> None:
        reference_folder = tmp_path / "reference" / service.store.generation()
        writing.write(reference_folder, writing.from_snapshot(snapshot()), readmodel.State("reference", 0))
        _same(service.corpus, Corpus.open(reference_folder))

    service.ingest([files[2]])  # added
    check()
    service.ingest([edited])  # replaced
    check()
    assert service.delete(files[1].stem)  # deleted
    check()
    # Only the documents each write changed were read: the log is read with a minute of
    # overlap for clock skew, but the records a version already applied are skipped.
    assert asked == [[files[2].stem], [files[0].stem], [files[1].stem]]


def test_a_reader_older_than_the_change_log_reads_the_whole_store(service):
    import time

    assert service.store.changes_since(0) is None
    changes = service.store.changes_since(time.time_ns())
    assert isinstance(changes.doc_ids, set) and changes.until > 0


def test_a_large_store_is_read_by_a_child_process(service, monkeypatch):
    """The whole-store rebuild of a large corpus runs in a child process (its transient
    objects never inflate the server) and gives the same version as in this process."""
    monkeypatch.setattr(publishing, "IN_PROCESS_REBUILD_MAX", 0)
    children = []
    real = publishing.rebuild_in_child
    monkeypatch.setattr(publishing, "rebuild_in_child", lambda *args: children.append(args) or real(*args))
    folder = readmodel.folder_for(service.settings.data_dir, service.store.prefix, service.store.generation())
    shutil.rmtree(folder)  # the service keeps its open files; the next load must rebuild
    corpus = Corpus(publish(service.store, service.settings))
    assert len(children) == 1 and readmodel.is_committed(folder)
    _same(corpus, service.corpus)


def test_a_new_reader_starts_from_the_latest_version_on_disk(embedder, tmp_path):
    """A process without a version of its own (a replica starting beside a shared data dir)
    opens the latest version there and applies only what was written since."""
    from index.pipeline import ingest
    from index.store import Store
    from tests.conftest import SEEDS, make_settings

    settings = make_settings(tmp_path / "data")
    store = Store.open(settings)
    files = sorted(SEEDS.glob("*.txt"))
    ingest(files[:2], store, embedder, settings, progress=False)
    before = Corpus(publish(store, settings))
    ingest(files[2:3], store, embedder, settings, progress=False)  # written by someone who did not read
    asked = []
    snapshot = store.snapshot
    store.snapshot = lambda doc_ids=None: asked.append(doc_ids) or snapshot(doc_ids)
    after = Corpus(publish(store, settings))
    assert after.generation != before.generation and asked and None not in asked
    assert set(after.documents) == {f.stem for f in files[:3]}
    reference = tmp_path / "reference"
    writing.write(reference, writing.from_snapshot(snapshot()), readmodel.State("reference", 0))
    _same(after, Corpus.open(reference))


def _other_writer(service, tmp_path, age: float):
    """A data dir where another process has been writing the store's current version for `age` seconds."""
    import os
    import time

    settings = service.settings.replace(data_dir=str(tmp_path))
    folder = readmodel.folder_for(settings.data_dir, service.store.prefix, service.store.generation())
    mark = readmodel.temporary(folder, 99999)
    mark.mkdir(parents=True)
    os.utime(mark, (time.time() - age, time.time() - age))
    return settings, folder, mark


def test_replicas_sharing_a_data_dir_write_a_version_once(service, tmp_path, monkeypatch):
    """A reader that finds another process writing the version it needs (a replica on the
    same volume) waits for it and opens it, rather than writing its own copy."""
    import threading

    settings, folder, mark = _other_writer(service, tmp_path, age=0)
    snapshot = service.store.snapshot()

    def other_replica_commits():
        writing.write(folder, writing.from_snapshot(snapshot), readmodel.State(folder.name, 0))
        shutil.rmtree(mark)

    written = []
    monkeypatch.setattr(publishing, "_write_next", lambda *args: written.append(args))
    threading.Timer(0.3, other_replica_commits).start()
    corpus = Corpus(publish(service.store, settings))
    assert written == [] and corpus.generation == folder.name
    _same(corpus, service.corpus)


def test_a_crashed_writers_leftover_is_not_waited_for(service, tmp_path):
    settings, folder, _ = _other_writer(service, tmp_path, age=120)
    corpus = Corpus(publish(service.store, settings))  # writes the version itself, at once
    assert readmodel.is_committed(folder)
    _same(corpus, service.corpus)


def test_a_write_that_only_adds_links_the_files_before(embedder, tmp_path, monkeypatch):
    """A write that only adds documents keeps the version before's vectors, documents and BM25
    postings files (the same files, hard-linked: nothing rewritten) and puts what it adds in
    their tails, and the reader takes the documents it already decoded from the version it
    held; a write that removes rows, or a tail that would outgrow its share of its base,
    writes that file out whole again. Every version equals one built from the whole store."""
    import os

    from index.store import Store
    from qa.service import QAService
    from tests.conftest import SEEDS, make_settings

    settings = make_settings(tmp_path / "data")
    service = QAService(settings, Store.open(settings), embedder)
    files = sorted(SEEDS.glob("*.txt"))
    service.ingest(files[:3])

    def check() -> dict[str, int]:
        """Inodes of the current version's base files, and their tails' lengths."""
        reference = tmp_path / "reference" / service.store.generation()
        writing.write(reference, writing.from_snapshot(service.store.snapshot()), readmodel.State("reference", 0))
        _same(service.corpus, Corpus.open(reference))
        corpus, columns = service.corpus, service.corpus.columns
        every = range(len(corpus.sentences))
        assert corpus.version.sentence_rows([corpus.sentences[r].id for r in every]) == list(every)
        return {"vectors": os.stat(columns.vectors.base_file).st_ino, "vectors_tail": len(columns.vectors.tail),
                "documents": os.stat(columns.documents_base.file).st_ino,
                "documents_tail": len(columns.documents) - columns.documents_base.count,
                "bm25": os.stat(columns.bm25.base_folder / "bm25_rows.npy").st_ino, "bm25_tail": columns.bm25.tail.size,
                "ids": os.stat(corpus.version.folder / "sentence_id_order.npy").st_ino,
                "ids_tail": len(corpus.version.sentence_id_order[1])}

    first = check()
    assert first["vectors_tail"] == first["documents_tail"] == first["bm25_tail"] == first["ids_tail"] == 0
    monkeypatch.setattr(readmodel, "TAIL_MAX_FRACTION", 1.0)
    before = service.corpus
    titles = {d: before.title_terms(d) for d in before.documents}
    service.ingest([files[3]])  # added: all linked, its rows and record in the tails
    added = check()
    assert [added[k] for k in ("vectors", "documents", "bm25", "ids")] == \
        [first[k] for k in ("vectors", "documents", "bm25", "ids")]
    assert added["documents_tail"] == 1 and added["vectors_tail"] == added["ids_tail"] > 0 and added["bm25_tail"] > 0
    assert all(service.corpus.documents[d] is before.documents[d] for d in before.documents)  # not decoded again
    assert all(service.corpus.title_terms(d) is words for d, words in titles.items())  # nor analysed again
    assert service.corpus.doc_ids == [*before.doc_ids, files[3].stem]
    # Added again: the sentences and postings would outgrow their bases (one base again); 2 documents beside 3 do not.
    service.ingest([files[4]])
    merged = check()
    assert merged["vectors"] != first["vectors"] and merged["vectors_tail"] == merged["ids_tail"] == 0
    assert merged["ids"] != first["ids"]
    assert merged["bm25"] != first["bm25"] and merged["bm25_tail"] == 0
    assert merged["documents"] == first["documents"] and merged["documents_tail"] == 2
    monkeypatch.setattr(readmodel, "TAIL_MAX_FRACTION", 10.0)
    assert service.delete(files[0].stem)  # removed: all written whole again
    rewritten = check()
    assert all(rewritten[k] != merged[k] for k in ("vectors", "documents", "bm25", "ids"))
    assert rewritten["vectors_tail"] == rewritten["documents_tail"] == rewritten["bm25_tail"] == rewritten["ids_tail"] == 0


def test_the_document_index_of_an_upload_extends_the_one_before(embedder, tmp_path, monkeypatch):
    """After an upload or a removal marked in place, the index that filters and citation
    lookups use (metadata columns, documents by content hash, words by length) is the previous
    one changed (only new documents' metadata read); after a rewrite it is built anew. Each
    equals a fresh build."""
    import qa.doc_index
    from index.store import Store
    from qa.doc_index import DocumentIndex
    from qa.service import QAService
    from tests.conftest import SEEDS, make_settings

    def equal(index: DocumentIndex, fresh: DocumentIndex) -> None:
        assert index.by_hash == fresh.by_hash
        assert {k: sorted(v) for k, v in index.terms_by_length.items()} == \
            {k: sorted(v) for k, v in fresh.terms_by_length.items()}
        for name in ("doc_ids", "published", "publishers"):
            assert np.array_equal(getattr(index.metadata, name), getattr(fresh.metadata, name))
        assert index.metadata.authors == fresh.metadata.authors

    settings = make_settings(tmp_path / "data")
    # No watcher: it builds document indexes of its own, whose reads this test would count.
    service = QAService(settings, Store.open(settings), embedder, watch=False)
    files = sorted(SEEDS.glob("*.txt"))
    service.ingest(files[:3])
    before = DocumentIndex(service.corpus)
    monkeypatch.setattr(readmodel, "TAIL_MAX_FRACTION", 1.0)  # the upload's document goes in a tail
    read = []
    real = qa.doc_index._ordinal
    monkeypatch.setattr(qa.doc_index, "_ordinal", lambda value: read.append(value) or real(value))
    service.ingest([files[3]])
    extended = DocumentIndex(service.corpus, before)
    assert len(read) == 1  # the new document's date only
    equal(extended, DocumentIndex(service.corpus))
    monkeypatch.setattr(writing, "REMOVED_MAX_FRACTION", 1.0)
    assert service.delete(files[0].stem)  # marked removed: extended again, nothing read
    read.clear()
    marked = DocumentIndex(service.corpus, extended)
    assert read == [] and files[0].stem not in {d for ids in marked.by_hash.values() for d in ids}
    equal(marked, DocumentIndex(service.corpus))
    monkeypatch.setattr(writing, "REMOVED_MAX_FRACTION", 0.0)
    assert service.delete(files[1].stem)  # the files written again: built anew
    read.clear()
    rebuilt = DocumentIndex(service.corpus, marked)
    assert len(read) == 2 and files[1].stem not in rebuilt.metadata.doc_ids
    equal(rebuilt, DocumentIndex(service.corpus))


def _alive(corpus: Corpus) -> tuple[dict, dict]:
    """The passages and sentences (by id) that no removed document holds."""
    removed = set(corpus.version.removed_passages.tolist())
    passages = {corpus.passages[r].id: corpus.passages[r] for r in range(len(corpus.passages)) if r not in removed}
    sentences = {corpus.sentences[r].id: corpus.sentence_text(r) for r in range(len(corpus.sentences))
                 if int(corpus.sentence_passage[r]) not in removed}
    return passages, sentences


def test_a_removal_marks_the_rows_removed_until_the_files_are_written_again(embedder, tmp_path, monkeypatch):
    """While removed documents' rows stay within REMOVED_MAX_FRACTION of all, a deletion or a
    correction only marks the old rows removed (the base files stay linked) and nothing reaches
    them: lookups by id, BM25, the exact dense search, Chroma's ids, filters. Past the fraction
    the files are written whole again, without them, as a build from the whole store."""
    import os

    from index.store import Store
    from qa.filters import select
    from qa.schemas import Filters
    from qa.service import QAService
    from tests.conftest import SEEDS, make_settings

    settings = make_settings(tmp_path / "data")
    service = QAService(settings, Store.open(settings), embedder)
    files = sorted(SEEDS.glob("*.txt"))
    service.ingest(files[:5])
    monkeypatch.setattr(readmodel, "TAIL_MAX_FRACTION", 10.0)
    monkeypatch.setattr(writing, "REMOVED_MAX_FRACTION", 10.0)
    before = service.corpus
    vectors_file = os.stat(before.columns.vectors.base_file).st_ino
    gone, corrected = files[0].stem, files[1].stem
    old_rows = [*before.doc_passages(gone), *before.doc_passages(corrected)]
    gone_ids = [before.sentences[int(r)].id for p in before.doc_passages(gone) for r in before.passage_sentences(p)]
    kept_ids = [before.sentences[int(r)].id for p in before.doc_passages(corrected) for r in before.passage_sentences(p)]
    gone_sentence = before.sentence_text(int(before.passage_sentences(before.doc_passages(gone)[0])[0]))
    edited = tmp_path / "edit" / files[1].name
    edited.parent.mkdir()
    edited.write_text(files[1].read_text() + "\n\nA correction was appended here by the editors.\n")

    assert service.delete(gone)
    service.ingest([edited])
    corpus = service.corpus
    assert os.stat(corpus.columns.vectors.base_file).st_ino == vectors_file
    assert sorted(corpus.version.removed_passages.tolist()) == sorted(old_rows)  # marked, not dropped
    assert gone not in corpus.documents and corpus.doc_passages(gone) == range(0)
    assert "A correction was appended here by the editors." in corpus.documents[corrected].text
    assert corpus.version.sentence_rows(gone_ids) == [None] * len(gone_ids)
    # The corrected article's unchanged sentences keep their ids (index.documents.span_id): they
    # reach its new rows, never the removed ones.
    kept_rows = corpus.version.sentence_rows(kept_ids)
    assert None not in kept_rows and not {int(corpus.sentence_passage[r]) for r in kept_rows} & set(old_rows)
    assert not corpus.lexical.scores(terms(gone_sentence))[old_rows].any()
    found = service.search(gone_sentence, 10)  # exact dense search and BM25 alike
    assert found.hits and all(h.doc_id != gone for h in found.hits)
    assert all(h.text == corpus.documents[h.doc_id].text[h.start : h.end] for h in found.hits)
    everything = select(corpus, Filters(published_from=__import__("datetime").date(1900, 1, 1), undated="include"))
    assert sorted(everything.doc_ids) == sorted(corpus.documents)  # once each, the removed left out
    reference_folder = tmp_path / "reference" / "r1"  # write() clears the folder's siblings
    writing.write(reference_folder, writing.from_snapshot(service.store.snapshot()), readmodel.State("r", 0))
    reference = Corpus.open(reference_folder)
    assert _alive(corpus) == _alive(reference) and corpus.documents == reference.documents

    monkeypatch.setattr(writing, "REMOVED_MAX_FRACTION", 0.0)
    assert service.delete(files[2].stem)  # past the fraction: every file written again, without them
    corpus = service.corpus
    assert not len(corpus.version.removed_passages) and not corpus.columns.removed.any()
    reference_folder = tmp_path / "reference" / "r2"
    writing.write(reference_folder, writing.from_snapshot(service.store.snapshot()), readmodel.State("r", 0))
    _same(corpus, Corpus.open(reference_folder))


def test_a_writer_is_waited_for_from_the_moment_it_starts(service, tmp_path, monkeypatch):
    """The process that writes a version marks it before reading the store for it, so a
    replica sharing the data dir that sees the new generation meanwhile waits for that
    version instead of writing its own; the mark is gone once the write is done or failed
    (also when a child process wrote the version under its own name)."""
    import time

    from index.store import StoreUnavailable

    settings = service.settings.replace(data_dir=str(tmp_path))
    folder = readmodel.folder_for(settings.data_dir, service.store.prefix, service.store.generation())
    seen = []

    def write_next(store, settings, folder, previous, peer):
        started = time.monotonic()  # another replica seeing the new generation now waits for this write:
        assert not publishing.wait_for_writer(folder, timeout=0.2)
        seen.append(time.monotonic() - started)
        with monkeypatch.context() as child:  # written under another process's name, as rebuild_in_child does
            child.setattr(writing.os, "getpid", lambda: 99999)
            writing.rebuild(store, folder)

    monkeypatch.setattr(publishing, "_write_next", write_next)
    corpus = Corpus(publish(service.store, settings))
    assert len(seen) == 1 and seen[0] >= 0.2 and readmodel.is_committed(folder)
    assert sorted(p.name for p in folder.parent.iterdir()) == [folder.name]
    _same(corpus, service.corpus)

    other = readmodel.folder_for(settings.data_dir, service.store.prefix, "another-generation")
    monkeypatch.setattr(publishing, "WRITER_WAIT_SECONDS", 0)
    with pytest.raises(StoreUnavailable), publishing.claimed(other):
        assert list(other.parent.glob(f"{other.name}.*.tmp"))  # marked while it runs
        raise StoreUnavailable("the store went away mid-write")
    assert not list(other.parent.glob(f"{other.name}.*"))


def keyed_client(service, key: str | None = "replica-key"):
    """A client of `service`'s API configured with the API key `key`, which it sends."""
    from litestar.testing import TestClient

    from qa.api.app import create_app

    client = TestClient(create_app(service.settings.replace(api_key=key or "", rate_limit_per_minute=0), service))
    if key:
        client.headers["X-API-Key"] = key
    return client


def test_a_replica_without_a_read_model_copies_a_peers_instead_of_reading_the_store(service, tmp_path, monkeypatch):
    """With `read_model_peer`, a replica whose data dir holds no version copies the one the peer
    has open (GET /read-model) and reads nothing whole from the store; a peer that cannot be
    reached leaves no partial copy behind, and the store is read instead."""
    import contextlib

    import qa.peer

    def whole_store_read(*args):
        raise AssertionError("the whole store was read")

    settings = service.settings.replace(data_dir=str(tmp_path / "copy"), read_model_peer="http://peer")
    with monkeypatch.context() as patch, keyed_client(service) as client:
        patch.setattr(qa.peer, "client_for", lambda settings: contextlib.nullcontext(client))
        patch.setattr(writing, "rebuild", whole_store_read)
        patch.setattr(publishing, "rebuild_in_child", whole_store_read)
        copied = Corpus(publish(service.store, settings, peer=qa.peer.configured(settings)))
    _same(copied, service.corpus)
    folder = copied.version.folder
    assert folder.parent == tmp_path / "copy" / "readmodel" / service.store.prefix
    assert sorted(p.name for p in folder.parent.iterdir()) == [folder.name] and readmodel.is_committed(folder)
    served = service.corpus.version.folder
    assert [(n, s) for n, s in readmodel.files(folder)] == readmodel.files(served)
    assert all((folder / n).read_bytes() == (served / n).read_bytes() for n, _ in readmodel.files(folder))

    unreachable = service.settings.replace(data_dir=str(tmp_path / "store"), read_model_peer="http://127.0.0.1:9")
    _same(Corpus(publish(service.store, unreachable, peer=qa.peer.configured(unreachable))), service.corpus)
    parent = tmp_path / "store" / "readmodel" / service.store.prefix
    assert [p.name for p in parent.iterdir()] == [service.store.generation()]


def test_the_read_model_is_served_file_by_file_and_nothing_else(service, client):
    """Only to a client with the API key (other replicas): one request sends a whole file."""
    assert client.get("/read-model").status_code == 403  # the server has no key: copies are disabled
    with keyed_client(service) as keyed:
        keyed.headers.pop("X-API-Key")
        assert keyed.get("/read-model").status_code == 401
        keyed.headers["X-API-Key"] = "replica-key"
        _served_file_by_file(service, keyed)


@pytest.mark.parametrize("removed_max_fraction", [1.0, 0.0], ids=["marked removed", "written again"])
def test_a_deleted_article_is_in_no_file_a_replica_copies(embedder, tmp_path, monkeypatch, removed_max_fraction):
    """A takedown takes the text down: once DELETE /documents/{id} is answered, no file of the
    version served to replicas holds the article's sentences or title, whether its rows are
    only marked removed or the files written again, and whether it was in the documents base
    or the tail; the other articles are still served and answered."""
    from index.store import Store
    from qa.service import QAService
    from tests.conftest import SEEDS, make_settings

    settings = make_settings(tmp_path / "data")
    service = QAService(settings, Store.open(settings), embedder, watch=False)
    files = sorted(SEEDS.glob("*.txt"))
    service.ingest(files[:2])
    monkeypatch.setattr(readmodel, "TAIL_MAX_FRACTION", 10.0)  # the third article goes in the tail
    service.ingest(files[2:3])
    monkeypatch.setattr(writing, "REMOVED_MAX_FRACTION", removed_max_fraction)
    kept = service.corpus.documents[files[1].stem]
    with keyed_client(service) as client:
        for gone in (files[0].stem, files[2].stem):  # in the base, in the tail
            corpus = service.corpus
            sentences = [corpus.sentence_text(int(r)) for p in corpus.doc_passages(gone)
                         for r in corpus.passage_sentences(p)]
            others = [d.text for d in corpus.documents.values() if d.id != gone]
            secrets = [corpus.documents[gone].title, *(s for s in sentences if len(s.split()) > 5
                                                       and not any(s in text for text in others))]
            assert len(secrets) > 5
            assert client.delete(f"/documents/{gone}").status_code == 204
            assert client.get(f"/documents/{gone}").status_code == 404
            manifest = client.get("/read-model").json()
            served = b"".join(client.get(f"/read-model/{manifest['generation']}/{f['name']}").content
                              for f in manifest["files"])
            assert bool(service.corpus.columns.removed.any()) == (removed_max_fraction == 1.0)
            assert [s for s in secrets if s.encode() in served] == []
            assert kept.text.encode() in served and kept.title.encode() in served
    answer = service.ask("How long is Xi Jinping's visit to Europe?")
    assert answer.answered and {c.doc_id for c in answer.citations} == {kept.id}
    assert service.corpus.documents == {kept.id: kept}


def _served_file_by_file(service, client) -> None:
    manifest = client.get("/read-model").json()
    folder = service.corpus.version.folder
    assert manifest["generation"] == folder.name and manifest["prefix"] == service.store.prefix
    assert [f["name"] for f in manifest["files"]][-1] == readmodel.COMMITTED
    state = client.get(f"/read-model/{folder.name}/state.json")
    assert state.status_code == 200 and state.content == (folder / "state.json").read_bytes()
    assert int(state.headers["content-length"]) == len(state.content)
    for path in ("/read-model/another-generation/state.json", f"/read-model/{folder.name}/state.jsonx",
                 f"/read-model/{folder.name}/..%2F..%2Fchroma.sqlite3", f"/read-model/{folder.name}/../../x"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert "Traceback" not in response.text


def test_many_texts_are_analysed_as_each_alone(snapshot):
    """The read model analyses a corpus's sentences in one batch (each distinct word stemmed
    once); every sentence must get exactly the words `terms` gives it alone."""
    texts = [snapshot.documents[s.doc_id].text[s.start : s.end] for s in snapshot.sentences]
    texts += ["", "The the THE", "Running runs ran; 2024's 1 2 3"]
    assert terms_of_many(texts) == [terms(t) for t in texts]


def test_a_whole_store_is_read_a_part_of_its_documents_at_a_time(service, snapshot, tmp_path):
    """The first version of a store is built from parts of its documents, each made compact
    before the next is read (one snapshot of a 1M-passage store outgrew 13 GB): the same
    version as one snapshot gives, BM25 and vectors included."""
    parts, whole = tmp_path / "parts" / "g", tmp_path / "whole" / "g"  # write() removes versions beside its own
    assert len(snapshot.documents) > 2
    writing.write(parts, writing.from_store(service.store, part_documents=2), readmodel.State("parts", 0))
    writing.write(whole, writing.from_snapshot(snapshot), readmodel.State("whole", 0))
    _same(Corpus.open(parts), Corpus.open(whole))
