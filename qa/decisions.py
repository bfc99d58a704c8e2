"""How good an evaluation's decisions are, with 95% bootstrap intervals, and how two
evaluations of the same questions differ (paired, so that small sets can still show a gain).

A decision is right when an answerable question is answered with a gold answer quoted, or an
unanswerable one is abstained on. The utility scores each question +1 for a right answer or a
right abstention, -1 for a wrong or false answer and 0 for a withheld answerable question: it
prefers saying nothing to saying something wrong. The AUC is the confidence's ranking of the
answers whose quoted sentences hold a gold answer above the rest."""

from __future__ import annotations

import numpy as np

BOOTSTRAP_SAMPLES = 2000
SEED = 0


def outcome(record: dict) -> tuple[bool, int]:
    """(right decision, utility) of one per-question record of a report."""
    if record["answerable"]:
        if not record["answered"]:
            return False, 0
        return record["cited_hit"], 1 if record["cited_hit"] else -1
    return not record["answered"], 1 if not record["answered"] else -1


def roc_auc(scores, labels) -> float | None:
    """Probability that a random positive outscores a random negative (ties count half);
    None when one class is missing."""
    scores, labels = np.asarray(scores, dtype=float), np.asarray(labels, dtype=bool)
    positives, negatives = scores[labels], scores[~labels]
    if not len(positives) or not len(negatives):
        return None
    order = np.argsort(np.concatenate([positives, negatives]), kind="stable")
    values = np.concatenate([positives, negatives])[order]
    ranks = np.empty(len(values))
    ranks[order] = _average_ranks(values)
    return float((ranks[: len(positives)].sum() - len(positives) * (len(positives) + 1) / 2)
                 / (len(positives) * len(negatives)))


def _average_ranks(sorted_values: np.ndarray) -> np.ndarray:
    """1-based ranks of sorted values, ties given their average rank."""
    _, first, counts = np.unique(sorted_values, return_index=True, return_counts=True)
    return np.repeat(first + (counts + 1) / 2, counts)


def _interval(samples: list[float | None]) -> list[float]:
    finite = np.asarray([s for s in samples if s is not None])
    return [round(float(np.percentile(finite, 2.5)), 4), round(float(np.percentile(finite, 97.5)), 4)] if len(finite) else []


def summary(records: list[dict]) -> dict:
    """Right decisions, utility and AUC of a report's per-question records, each with its
    95% bootstrap interval (questions resampled)."""
    right, utility, confidence, holds = _columns(records)
    draws = _draws(len(records))
    return {
        "questions": len(records),
        "right_decisions": int(right.sum()), "right_decisions_interval": _interval([right[d].sum() for d in draws]),
        "utility": int(utility.sum()), "utility_interval": _interval([utility[d].sum() for d in draws]),
        "auc": _rounded(roc_auc(confidence, holds)),
        "auc_interval": _interval([roc_auc(confidence[d], holds[d]) for d in draws]),
    }


def compare(new: list[dict], old: list[dict]) -> dict:
    """The paired difference new − old over the questions both records hold (matched by id):
    right decisions, utility and AUC, each with a 95% bootstrap interval."""
    old_by_id = {r["id"]: r for r in old}
    pairs = [(r, old_by_id[r["id"]]) for r in new if r["id"] in old_by_id]
    if not pairs:
        raise ValueError("the two reports share no question ids")
    n_right, n_utility, n_conf, n_holds = _columns([n for n, _ in pairs])
    o_right, o_utility, o_conf, o_holds = _columns([o for _, o in pairs])
    draws = _draws(len(pairs))
    out = {"questions": len(pairs)}
    for name, new_values, old_values in (("right_decisions", n_right, o_right), ("utility", n_utility, o_utility)):
        delta = new_values - old_values
        out[name] = {"new": int(new_values.sum()), "old": int(old_values.sum()), "difference": int(delta.sum()),
                     "interval": _interval([delta[d].sum() for d in draws])}
    new_auc, old_auc = roc_auc(n_conf, n_holds), roc_auc(o_conf, o_holds)
    out["auc"] = {"new": _rounded(new_auc), "old": _rounded(old_auc),
                  "difference": _rounded(new_auc - old_auc) if new_auc is not None and old_auc is not None else None,
                  "interval": _interval([_difference(roc_auc(n_conf[d], n_holds[d]), roc_auc(o_conf[d], o_holds[d]))
                                         for d in draws])}
    return out


def _columns(records: list[dict]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per record: right decision (0/1), utility, confidence, whether the quotes hold gold."""
    outcomes = [outcome(r) for r in records]
    return (np.array([right for right, _ in outcomes], dtype=float), np.array([u for _, u in outcomes], dtype=float),
            np.array([r["confidence"] for r in records], dtype=float),
            np.array([r["selected_hit"] for r in records], dtype=bool))


def _draws(n: int) -> list[np.ndarray]:
    """The bootstrap's resamples of n questions (seeded: a report's intervals are reproducible)."""
    rng = np.random.default_rng(SEED)
    return [rng.integers(0, n, n) for _ in range(BOOTSTRAP_SAMPLES)] if n else []


def _difference(a: float | None, b: float | None) -> float | None:
    return a - b if a is not None and b is not None else None


def _rounded(value: float | None) -> float | None:
    return round(value, 4) if value is not None else None
