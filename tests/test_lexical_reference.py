"""index/lexical.py's BM25 against bm25s's, the way bm25s checks itself against other
implementations: the same tokens, the same parameters (Lucene's variant, k1 and b), the
same scores for every passage."""

from collections import Counter

import bm25s
import numpy as np
import pytest

from index.lexical import B, K1, LexicalIndex, Postings, terms

CORPUS = [
    "China and Russia reached a record trade volume in 2023, customs data show.",
    "Chinese exports to Russia increased by 46.9%, while imports from Russia rose by 13%.",
    "The summit in Beijing ended without a statement on Ukraine.",
    "Russian forces advanced in Kharkiv as the leaders met in Beijing.",
    "Trade between the two countries has grown every year since 2020; trade in energy most of all.",
    "Western powers worry that China could supply weapons to Russia.",
]
QUERIES = ["How much did China-Russia trade reach in 2023?", "Kharkiv offensive", "exports imports Russia",
           "trade trade energy", "weapons Western", "a word no passage holds"]


def _index(tokens: list[list[str]]) -> LexicalIndex:
    vocabulary = {t: i for i, t in enumerate(sorted({t for passage in tokens for t in passage}))}
    ids, counts, bounds = [], [], [0]
    for passage in tokens:
        counted = sorted(Counter(vocabulary[t] for t in passage).items())
        ids += [t for t, _ in counted]
        counts += [c for _, c in counted]
        bounds.append(len(ids))
    postings = Postings.of(0, np.array(ids, dtype=np.int32), np.array(counts, dtype=np.int32),
                           np.array(bounds, dtype=np.int64), len(vocabulary))
    return LexicalIndex(vocabulary, np.array([len(p) for p in tokens]), [postings])


@pytest.mark.parametrize("query", QUERIES)
def test_bm25_scores_equal_bm25s_lucene_scores_on_the_same_tokens(query):
    tokens = [terms(text) for text in CORPUS]
    reference = bm25s.BM25(method="lucene", k1=K1, b=B)
    reference.index(tokens, show_progress=False)
    query_terms = terms(query)
    expected = reference.get_scores(query_terms) if query_terms else np.zeros(len(CORPUS))
    assert np.allclose(_index(tokens).scores(query_terms), expected, rtol=1e-5, atol=1e-6)
