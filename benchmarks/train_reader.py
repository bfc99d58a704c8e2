"""Train the answer reader (index/reader_model.py) listwise over a question's candidate
sentences plus a "no answer" slot, resumably, on the CPU or on CUDA.

The data (benchmarks/reader_data.py: SQuAD 1.1 train, the SQuAD 2.0 train subset's unanswerable
questions and the training news sets; news-dev, news-headline-3 and squad2-dev held out for the
learning curve, news-headline-2 and -4 kept for the calibration) is prepared once into token-level
bundles cached under data/reader/; the loop is benchmarks/reader_training.py, which a lent GPU
runs through benchmarks/gpu_train.sh on the same bundles (benchmarks/gpu_bundle.py).

    .venv/bin/python benchmarks/train_reader.py --minutes 150            # resumes where it stopped
    .venv/bin/python benchmarks/train_reader.py --minutes 1 --limit 200  # a smoke run
    .venv/bin/python benchmarks/train_reader.py --evaluate               # the held-out figures only

Every `--checkpoint-minutes` it writes the whole training state to data/reader/reader-state.pt and
the checkpoint (fp16, trained parameters only: 11 MB at 3 layers, 22 MB at 6) with its manifest to
benchmarks/checkpoints/reader.{safetensors,json}, which are committed: a run resumes from
there (with the optimiser's state when this machine has it, with a fresh one otherwise). `--ship` copies the checkpoint into
qa/models/, after which benchmarks/calibrate_news.py fits its calibration (the two ship as a
pair). The manifest records the data, steps, seed and the held-out figures of each checkpoint
(the learning curve).

    .venv/bin/python benchmarks/train_reader.py --ship && .venv/bin/python benchmarks/calibrate_news.py"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

import reader_bundle  # noqa: E402  (beside this script)
import reader_data  # noqa: E402
from index import reader_model  # noqa: E402
from index.embedding import packaged_model_path  # noqa: E402
from qa.reader import WEIGHTS_FILE  # noqa: E402

WORK = reader_data.WORK
# The latest checkpoint, committed with the repository so that the next session resumes from it
# on any machine (the optimiser's state, data/reader/reader-state.pt, stays local); `--ship` copies it
# to qa/models (WEIGHTS_FILE).
CHECKPOINT = ROOT / "benchmarks" / "checkpoints" / "reader.safetensors"


def state_file_of(checkpoint: Path) -> Path:
    """Where the optimiser's state of `checkpoint` is kept: data/reader/<name>-state.pt for a
    committed checkpoint (it stays on this machine), beside any other (a smoke run's in /tmp must
    not overwrite the committed one's, which has the same name)."""
    if checkpoint.resolve().parent == CHECKPOINT.parent:
        return WORK / f"{checkpoint.stem}-state.pt"
    return checkpoint.with_name(f"{checkpoint.stem}-state.pt")


def ship(checkpoint: Path) -> int:
    """Copy the latest checkpoint into qa/models/ (the service's reader and the next machine's
    resume point); the calibration must then be fit anew for it."""
    if not checkpoint.exists():
        print(f"no checkpoint at {checkpoint}: train first")
        return 2
    for source, target in ((reader_model.manifest_file(checkpoint), reader_model.manifest_file(WEIGHTS_FILE)),
                           (checkpoint, WEIGHTS_FILE)):
        shutil.copyfile(source, target.with_suffix(".tmp"))
        target.with_suffix(".tmp").replace(target)
    print(f"shipped {WEIGHTS_FILE} ({WEIGHTS_FILE.stat().st_size / 1e6:.1f} MB); "
          "now fit its calibration: .venv/bin/python benchmarks/calibrate_news.py")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0, help="train this long, then stop with a checkpoint")
    parser.add_argument("--checkpoint-minutes", type=float, default=15.0)
    parser.add_argument("--layers", type=int, default=3)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--group", type=int, default=6, help="candidates per training question")
    parser.add_argument("--batch", type=int, help="questions per step (default: the checkpoint's, else 8)")
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--decay-to", type=float, default=1.0,
                        help="the learning rate falls linearly over the run to this share of --lr (1: constant)")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--limit", type=int, default=0, help="SQuAD questions to use (0: all); for smoke runs")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--precision", choices=["bf16", "fp32"], default="bf16")
    parser.add_argument("--fresh", action="store_true", help="start from the base model, not the last checkpoint")
    parser.add_argument("--evaluate", action="store_true", help="only print the held-out figures of the latest checkpoint")
    parser.add_argument("--ship", action="store_true", help="copy the latest checkpoint into qa/models/")
    parser.add_argument("--checkpoint", type=Path, default=CHECKPOINT,
                        help="where this run's checkpoint lives (another path trains another model beside it)")
    args = parser.parse_args()
    if args.ship:
        return ship(args.checkpoint)

    import json

    import torch

    import reader_training

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    precision = torch.bfloat16 if args.precision == "bf16" else None
    autocast = (lambda: torch.autocast(device.type, dtype=precision)) if precision else contextlib.nullcontext

    base = packaged_model_path()
    state_file = state_file_of(args.checkpoint)
    # The latest checkpoint, else the shipped reader.
    start_from = None if args.fresh else next((w for w in (args.checkpoint, WEIGHTS_FILE) if w.exists()), None)
    model = reader_model.load(base, start_from) if start_from else reader_model.build(base, args.layers)
    manifest = reader_model.read_manifest(start_from) if start_from else reader_training.new_manifest(
        args.layers, args.max_tokens, args.group, args.batch or 8, args.seed, args.lr, reader_data.DESCRIPTION)
    args.max_tokens, args.group = manifest["max_tokens"], manifest["group"]
    args.batch = args.batch or manifest["batch"]
    model.to(device).train()

    held_out, _ = reader_bundle.load(reader_data.held_out_bundle(args.seed), args.max_tokens)
    if args.evaluate:
        print(json.dumps(reader_training.evaluate(model, {n: reader_training.Placed(g, device)
                                                          for n, g in held_out.items()}, autocast), indent=2))
        return 0
    t0 = time.time()
    sets, _ = reader_bundle.load(reader_data.training_bundle(args.seed, args.group, args.limit), args.max_tokens)
    groups = sets["train"]
    print(f"{len(groups):,} training groups ({time.time() - t0:.0f} s to prepare or load)", flush=True)

    optimizer_state = None
    if start_from and state_file.exists():
        saved = torch.load(state_file, map_location=device, weights_only=False)
        if saved["steps"] == manifest["steps"]:  # the local state belongs to the checkpoint resumed from
            optimizer_state = saved["optimizer"]
            model.load_state_dict(saved["model"], strict=False)
            print(f"resumed the optimiser state at step {manifest['steps']}", flush=True)

    def on_checkpoint(model, manifest: dict, optimizer) -> None:
        reader_training.save_checkpoint(model, manifest, args.checkpoint)
        torch.save({"steps": manifest["steps"], "optimizer": optimizer.state_dict(),
                    "model": reader_model.trained_state(model)}, state_file)

    reader_training.train(model, groups, held_out, manifest, device=device, autocast=autocast, minutes=args.minutes,
                          checkpoint_minutes=args.checkpoint_minutes, batch=args.batch, lr=args.lr,
                          warmup=args.warmup, decay_to=args.decay_to, on_checkpoint=on_checkpoint,
                          optimizer_state=optimizer_state)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
