"""Experiment (not shipped): the sentence ranker and the confidence model refit on news.

Trained on news-bbc, news-train, news-headline, -2 and -4 (news weighted 1, 3 or 10 to 1)
and half of squad2-dev's articles; scored on what none of them saw: news-headline-3,
news-dev, seed-dev and the other half of squad2-dev. The confidence model is fit on the
ranker's out-of-fold choices (5 folds by story), its threshold chosen on the training news
for the most right decisions. Prints, per set: best sentence has gold, answered with gold,
answered wrongly, unanswerable abstained, AUC. benchmarks/HISTORY.md quotes the output.

    .venv/bin/python benchmarks/news_refit.py   # ~4 minutes on 2 cores
"""
import json
import os
import random
import re
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from config import load_settings  # noqa: E402
from qa.answer import CONFIDENCE_FEATURES, SENTENCE_FEATURES  # noqa: E402
from qa.decisions import roc_auc  # noqa: E402
from qa.evaluation import answer_found, load_dataset, open_dataset_service  # noqa: E402
from qa.question import analyse  # noqa: E402
from qa.retrieval import Retriever  # noqa: E402
from train_models import fit, fit_ranker  # noqa: E402

SH = ROOT.parent / "shared" / "eval"; BD = ROOT / "benchmarks" / "data"
SETS = {"bbc": SH/"news-bbc", "nt": BD/"news-train", "h1": BD/"news-headline", "h2": BD/"news-headline-2",
        "h3": BD/"news-headline-3", "h4": BD/"news-headline-4", "dev": SH/"news-dev", "seed": SH/"seed-dev",
        "squad": SH/"squad2-dev"}
settings = load_settings()

def group_of(name, raw):
    if "article" in raw: return name + ":" + raw["article"]
    if raw.get("sources"): return name + ":" + Path(raw["sources"][0]).stem
    m = re.search(r"[\w-]+\.txt", raw.get("note", ""))
    return name + ":" + (Path(m.group()).stem if m else raw["id"])

def collect(name, folder):
    ds = load_dataset(folder, settings)
    raws = {json.loads(l)["id"]: json.loads(l) for l in (folder/"questions.jsonl").read_text().splitlines() if l.strip()}
    svc = open_dataset_service(ds, settings)
    composer = svc.answering(svc.corpus)[1]
    out = []
    for q in ds.questions:
        v = svc.embedder.embed([q.question])[0]
        a = analyse(q.question, v, svc.corpus.lexical.idf)
        hits = Retriever(svc.corpus, svc.store, svc.ranker).retrieve(a, max(10, settings.answer_passages))
        rows, hit_of, feats = composer.sentence_features(a, hits)
        labels = np.array([q.answerable and answer_found([svc.corpus.sentence_text(int(r))], q.answers) for r in rows], bool)
        out.append({"q": q, "a": a, "hits": hits, "rows": rows, "hit_of": hit_of, "f": feats, "y": labels,
                    "g": group_of(name, raws[q.id])})
    return svc, composer, out

data = {}
for name, folder in SETS.items():
    if name == "squad" and "--nosquad" in sys.argv: continue
    svc, comp, out = collect(name, folder)
    data[name] = (comp, out)
    print(name, len(out), flush=True)

def conf_x(comp, p, logits):
    if not len(p["rows"]): return None, None
    best = int(np.argmax(logits))
    vals = comp.confidence_features(p["a"], p["hits"], p["rows"], p["hit_of"], p["f"], logits, best)
    return [vals[n] for n in CONFIDENCE_FEATURES], best

# squad split by article: A (train) / B (eval)
if "squad" in data:
    arts = sorted({p["g"] for p in data["squad"][1]}); random.Random(0).shuffle(arts)
    A = set(arts[: len(arts)//2])
    comp, out = data["squad"]
    data["squadA"] = (comp, [p for p in out if p["g"] in A]); data["squadB"] = (comp, [p for p in out if p["g"] not in A])
    del data["squad"]

TRAIN = ["bbc", "nt", "h1", "h2", "h4"] + (["squadA"] if "squadA" in data else [])
EVAL = ["h3", "dev", "seed"] + (["squadB"] if "squadB" in data else [])
shipped_rank = data["dev"][0].sentence_model
shipped_conf = data["dev"][0].confidence_model

def report(tag, ranker, conf, thr):
    for name in EVAL:
        comp, out = data[name]
        best_ok = gold = wrong = abst_u = nu = na = 0; scores = []; ans = []
        for p in out:
            if not len(p["rows"]):
                c = 0.0; ok = False
            else:
                lg = ranker.logits(p["f"]); x, b = conf_x(comp, p, lg)
                c = float(1/(1+np.exp(-conf.logits(np.array([x]))[0]))) if hasattr(conf, "logits") else 0
                ok = bool(p["y"][b])
            scores.append(c); ans.append(p["q"].answerable)
            if p["q"].answerable:
                na += 1; best_ok += ok
                if c >= thr: gold += ok; wrong += not ok
            else:
                nu += 1; abst_u += c < thr
        print(f"  {tag:10s} {name:7s} best {best_ok:4d}/{na:<4d} gold {gold:4d} wrong {wrong:4d} abst_u {abst_u:3d}/{nu:<4d} auc {roc_auc(scores, ans):.3f}", flush=True)

report("shipped", shipped_rank, shipped_conf, 0.278)

def pool(names, news_w):
    qs = []
    for n in names:
        w = 1 if n.startswith("squad") else news_w
        for p in data[n][1]:
            if p["q"].answerable and p["y"].any() and (~p["y"]).any():
                qs.extend([(p["f"], p["y"])] * w)
    return qs

for news_w in (1, 3, 10):
    ranker = fit_ranker(pool(TRAIN, news_w), SENTENCE_FEATURES, "")
    # confidence: OOF ranker logits on train sets by group fold
    groups = sorted({p["g"] for n in TRAIN for p in data[n][1]}); fold = {g: i % 5 for i, g in enumerate(groups)}
    X, Y, W, A_, N_ = [], [], [], [], []
    for k in range(5):
        qs = []
        for n in TRAIN:
            w = 1 if n.startswith("squad") else news_w
            for p in data[n][1]:
                if fold[p["g"]] != k and p["q"].answerable and p["y"].any() and (~p["y"]).any(): qs.extend([(p["f"], p["y"])] * w)
        r_k = fit_ranker(qs, SENTENCE_FEATURES, "")
        for n in TRAIN:
            comp = data[n][0]
            for p in data[n][1]:
                if fold[p["g"]] != k or not len(p["rows"]): continue
                x, b = conf_x(comp, p, r_k.logits(p["f"]))
                X.append(x); Y.append(bool(p["y"][b])); W.append(1 if n.startswith("squad") else news_w); A_.append(p["q"].answerable); N_.append(not n.startswith("squad"))
    X, Y, W, A_, N_ = map(np.array, (X, Y, W, A_, N_))
    Xr = np.repeat(X, W, axis=0); Yr = np.repeat(Y, W)
    conf = fit(Xr, Yr, CONFIDENCE_FEATURES, "", c=1.0)
    # threshold: max right decisions on news train (in-sample conf, OOF ranker)
    pr = 1/(1+np.exp(-conf.logits(X)))
    best_t, best_v = 0.3, -1
    for t in np.arange(0.1, 0.7, 0.01):
        v = ((pr >= t) & Y & N_).sum() + ((pr < t) & ~A_ & N_).sum()
        if v > best_v: best_t, best_v = t, v
    print(f"news_w {news_w}: threshold {best_t:.2f}")
    report(f"rank+conf{news_w}", ranker, conf, best_t)
    report(f"rank{news_w}", ranker, shipped_conf, 0.278)
