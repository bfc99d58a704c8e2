"""The reader's groups as a compact, token-level file (a bundle): what the data preparation
(benchmarks/reader_data.py, which needs the index's text tools) hands to the training loop
(benchmarks/reader_training.py), so that training needs only numpy, torch and
index/reader_model.py, on this machine or on a lent GPU machine without those tools.

A bundle holds named sets of groups (a question, its candidate (sentence, context) pairs and a
0/1 label per pair, as reader_data.py makes them), and for a set that is read in another
order than stored (training's shuffle), that order. Each distinct text is stored once as its
word piece ids, without special tokens and untruncated, so that one bundle serves every
`max_tokens`; the groups are indices into those texts. The file is an uncompressed .npz inside
xz (not the zip deflate of np.savez_compressed: every MB counts against what travels to the
GPU); all 89,673 training groups hold 12 MiB of word pieces and take 6 MiB.

`load` lays a bundle's sets out for one `max_tokens`: each pair as `reader_model.pair_ids`
makes it, exactly what `encode` in the earlier train_reader.py produced."""

from __future__ import annotations

import io
import itertools
import json
import lzma
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from index import reader_model

SUFFIX = ".npz.xz"


def training_name(group: int, limit: int, seed: int) -> str:
    """A training bundle's file name: the options that decide its groups."""
    return f"train-group{group}-limit{limit}-seed{seed}{SUFFIX}"


def held_out_name(seed: int) -> str:
    """The held-out bundle's file name."""
    return f"heldout-seed{seed}{SUFFIX}"


@dataclass(frozen=True)
class Groups:
    """One set's groups laid out for the reader: the pairs of group g are rows
    offsets[g]:offsets[g + 1] of `ids`/`segments` (zero-padded to the longest pair)."""

    ids: np.ndarray  # int32 [pairs, width]: word piece ids, 0 ([PAD]) after `lengths`
    segments: np.ndarray  # int8 [pairs, width]
    lengths: np.ndarray  # int32 [pairs]
    labels: np.ndarray  # int8 [pairs]: 1 where the sentence answers
    offsets: np.ndarray  # int64 [groups + 1]

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def longest(self) -> np.ndarray:
        """Each group's longest pair, in word pieces (what batches are sorted by)."""
        return np.maximum.reduceat(self.lengths, self.offsets[:-1])

    def rows(self, groups: np.ndarray) -> np.ndarray:
        """The pair rows of `groups`, group after group."""
        return np.concatenate([np.arange(self.offsets[g], self.offsets[g + 1]) for g in groups])


def write(path: Path, sets: dict[str, list[dict]], tokenizer, meta: dict,
          orders: dict[str, list[int]] | None = None) -> None:
    """Write `sets` (name -> groups) with `meta` (JSON) to `path`, renamed into place. A set with
    an order in `orders` is read back as [groups[i] for i in order] (the groups are stored as
    made, article by article, which compresses to two thirds of a shuffled order)."""
    number: dict[str, int] = {}  # each text by first appearance: an article's texts stay together
    for groups in sets.values():
        for g in groups:
            for text in (g["question"], *(x for p in g["pairs"] for x in p)):
                number.setdefault(text, len(number))
    pieces = reader_model.tokenize(tokenizer, list(number))
    assert tokenizer.get_vocab_size() < 2**16  # word pieces fit uint16
    arrays = {"tokens": np.fromiter((i for p in pieces for i in p), dtype=np.uint16),
              "text_offsets": np.cumsum([0, *map(len, pieces)], dtype=np.int64),
              "meta": np.array(json.dumps({**meta, "sets": {n: len(g) for n, g in sets.items()}}))}
    for name, groups in sets.items():
        pairs = [p for g in groups for p in g["pairs"]]
        arrays |= {f"{name}/questions": np.array([number[g["question"]] for g in groups], dtype=np.int32),
                   f"{name}/offsets": np.cumsum([0, *(len(g["pairs"]) for g in groups)], dtype=np.int64),
                   f"{name}/sentences": np.array([number[s] for s, _ in pairs], dtype=np.int32),
                   f"{name}/contexts": np.array([number[c] for _, c in pairs], dtype=np.int32),
                   f"{name}/labels": np.array([label for g in groups for label in g["labels"]], dtype=np.int8)}
        if orders and name in orders:
            arrays[f"{name}/order"] = np.array(orders[name], dtype=np.int32)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(lzma.compress(buffer.getvalue(), preset=6))
    tmp.replace(path)


def read_meta(path: Path) -> dict:
    """The bundle's `meta`, with "sets": group count per set."""
    with np.load(io.BytesIO(lzma.decompress(path.read_bytes()))) as arrays:
        return json.loads(str(arrays["meta"]))


def load(path: Path, max_tokens: int) -> tuple[dict[str, Groups], dict]:
    """Every set of the bundle at `path` (in its order, where one was written), laid out for
    `max_tokens`, and the bundle's meta."""
    with np.load(io.BytesIO(lzma.decompress(path.read_bytes()))) as arrays:
        meta = json.loads(str(arrays["meta"]))
        tokens, bounds = arrays["tokens"].tolist(), arrays["text_offsets"].tolist()
        texts = [tokens[a:b] for a, b in itertools.pairwise(bounds)]
        sets = {}
        for name in meta["sets"]:
            questions, offsets = arrays[f"{name}/questions"], arrays[f"{name}/offsets"]
            pairs = [arrays[f"{name}/{part}"] for part in ("sentences", "contexts", "labels")]
            if f"{name}/order" in arrays:
                order = arrays[f"{name}/order"]
                rows = np.concatenate([np.arange(offsets[g], offsets[g + 1]) for g in order])
                questions, offsets = questions[order], np.cumsum([0, *np.diff(offsets)[order]])
                pairs = [part[rows] for part in pairs]
            sets[name] = _lay_out(texts, questions, offsets, *pairs, max_tokens)
    return sets, meta


def _lay_out(texts: list[list[int]], questions: np.ndarray, offsets: np.ndarray, sentences: np.ndarray,
             contexts: np.ndarray, labels: np.ndarray, max_tokens: int) -> Groups:
    question_of_pair = np.repeat(questions, np.diff(offsets)).tolist()
    pairs = [reader_model.pair_ids(texts[q], texts[s], texts[c], max_tokens)
             for q, s, c in zip(question_of_pair, sentences.tolist(), contexts.tolist(), strict=True)]
    lengths = np.array([len(ids) for ids, _ in pairs], dtype=np.int32)
    ids = np.zeros((len(pairs), int(lengths.max(initial=1))), dtype=np.int32)
    segments = np.zeros(ids.shape, dtype=np.int8)
    for row, (i, s) in enumerate(pairs):
        ids[row, : len(i)] = i
        segments[row, : len(s)] = s
    return Groups(ids, segments, lengths, labels.astype(np.int8), offsets.astype(np.int64))
