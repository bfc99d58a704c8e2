"""Train the answer reader on a lent GPU machine from data/gpu/ alone (benchmarks/gpu_bundle.py
builds it here): the same groups, order, loss and held-out figures as benchmarks/train_reader.py,
with the checkpoint and its manifest written into --out (the device tool's $OUT) as they come.
Run through benchmarks/gpu_train.sh, whose header gives the device call.

What comes back in --out, every --checkpoint-minutes and at the end (what is there when the
run is killed is the last checkpoint's): reader.json, the manifest (benchmarks/checkpoints/
reader.json's layout; its curve holds the held-out figures of each checkpoint, device "cuda"),
and the fp16 trained parameters as reader.safetensors.part0, .part1, ... (the tool brings back
files of at most 16 MiB; a 6-layer checkpoint is 22 MB) with reader.safetensors.sha256. Join:
`cat reader.safetensors.part* > reader.safetensors && sha256sum -c reader.safetensors.sha256`.

Imports numpy, torch, transformers, safetensors and this repository's index/reader_model.py,
qa/decisions.py and the benchmarks/ modules named below: nothing the GPU machine lacks."""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
import transformers  # noqa: E402

import base_weights  # noqa: E402  (beside this script)
import reader_bundle  # noqa: E402
import reader_training  # noqa: E402
from index import reader_model  # noqa: E402

BUNDLE = ROOT / "data" / "gpu"
LAYERS = ROOT / "data" / "gpu-layers"
PART_BYTES = 15 * 2**20  # under the 16 MiB the device tool brings back per file
NAME = "reader.safetensors"


def write_out(model, manifest: dict, out: Path, scratch: Path) -> None:
    """The checkpoint into `out` as parts, its sha256 and the manifest (each renamed into place)."""
    whole = scratch / NAME
    reader_training.save_checkpoint(model, manifest, whole)
    data = whole.read_bytes()
    parts = [data[i : i + PART_BYTES] for i in range(0, len(data), PART_BYTES)]
    for stale in out.glob(f"{NAME}.part*"):
        if int(stale.name.removeprefix(f"{NAME}.part")) >= len(parts):
            stale.unlink()
    for number, part in enumerate(parts):
        _put(out / f"{NAME}.part{number}", part)
    _put(out / f"{NAME}.sha256", f"{hashlib.sha256(data).hexdigest()}  {NAME}\n".encode())
    _put(reader_model.manifest_file(out / NAME), reader_model.manifest_file(whole).read_bytes())


def _put(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=7.0, help="train this long (data loading and the last "
                        "evaluation come on top: about a minute), then stop with a checkpoint")
    parser.add_argument("--epochs", type=float, default=3.0,
                        help="stop after this many passes over the data if the minutes are not up first (0: no limit)")
    parser.add_argument("--checkpoint-minutes", type=float, default=2.0)
    parser.add_argument("--layers", type=int, default=3, choices=range(1, 7), help="the base model's first N (3 or 6)")
    parser.add_argument("--max-tokens", type=int, default=64, help="word pieces per pair (64, 96 or 128)")
    parser.add_argument("--batch", type=int, default=64, help="questions per step (about 6 pairs each)")
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--decay-to", type=float, default=0.1,
                        help="the learning rate falls linearly over the run to this share of --lr (1: constant)")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--group", type=int, default=6, help="candidates per training question (picks the bundle)")
    parser.add_argument("--limit", type=int, default=0, help="SQuAD questions (picks the bundle; 0: all)")
    parser.add_argument("--precision", choices=["bf16", "fp32"], default="bf16")
    parser.add_argument("--resume", type=Path, help="a checkpoint in the tree to go on from (its layers, "
                        "max_tokens, group and seed win), e.g. benchmarks/checkpoints/reader.safetensors; default: fresh")
    parser.add_argument("--bundle", type=Path, default=BUNDLE, help="the folder gpu_bundle.py built")
    parser.add_argument("--base-layers", type=Path, default=LAYERS,
                        help="the base model's layers (gpu_bundle.py), which a fresh run starts from")
    parser.add_argument("--out", type=Path, default=os.environ.get("OUT"), required="OUT" not in os.environ,
                        help="where the checkpoint goes (default: $OUT, the folder the device tool brings back)")
    args = parser.parse_args()

    t0 = time.time()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    print(f"torch {torch.__version__} on {torch.cuda.get_device_name() if device.type == 'cuda' else 'the CPU'}",
          flush=True)
    precision = torch.bfloat16 if args.precision == "bf16" else None
    autocast = (lambda: torch.autocast(device.type, dtype=precision)) if precision else contextlib.nullcontext

    resumed = reader_model.read_manifest(args.resume) if args.resume else None
    if resumed:
        for name in ("layers", "max_tokens", "group", "seed"):  # the layout and the data's order
            if resumed[name] != getattr(args, name):
                print(f"--{name.replace('_', '-')} {getattr(args, name)} ignored: {args.resume} has {resumed[name]}")
                setattr(args, name, resumed[name])
    torch.manual_seed(args.seed)
    training_file = args.bundle / reader_bundle.training_name(args.group, args.limit, args.seed)
    held_out_file = args.bundle / reader_bundle.held_out_name(args.seed)
    needed = [training_file, held_out_file, args.bundle / "base" / base_weights.WORDS_FILE]
    layers = args.base_layers if (args.base_layers / base_weights.LAYERS_FILE).exists() else None
    if not args.resume:
        needed.append(args.base_layers / base_weights.LAYERS_FILE)  # a fresh run starts from them
    for path in needed:
        if not path.exists():
            print(f"missing {path}: build it with benchmarks/gpu_bundle.py --limit {args.limit} --seed {args.seed} "
                  "(and carry data/gpu-layers for a fresh run)")
            return 2

    if layers is None:  # every layer is "missing" from the base: the checkpoint brings it
        transformers.logging.set_verbosity_error()
    scratch = Path(tempfile.mkdtemp(prefix="reader-"))
    try:
        base = base_weights.expand(args.bundle / "base", layers, scratch / "base")
        model = reader_model.load(base, args.resume) if args.resume else reader_model.build(base, args.layers)
        sets, meta = reader_bundle.load(training_file, args.max_tokens)
        held_out, _ = reader_bundle.load(held_out_file, args.max_tokens)
        manifest = resumed or reader_training.new_manifest(args.layers, args.max_tokens, args.group, args.batch,
                                                           args.seed, args.lr, meta["data"])
        print(f"{len(sets['train']):,} training groups, {sum(map(len, held_out.values())):,} held out, "
              f"{args.layers} layers, {args.max_tokens} word pieces; {time.time() - t0:.0f} s to load", flush=True)
        model.to(device).train()
        args.out.mkdir(parents=True, exist_ok=True)
        reader_training.train(
            model, sets["train"], held_out, manifest, device=device, autocast=autocast, minutes=args.minutes,
            checkpoint_minutes=args.checkpoint_minutes, batch=args.batch, lr=args.lr, warmup=args.warmup,
            decay_to=args.decay_to, epochs=args.epochs, on_checkpoint=lambda m, man, _: write_out(m, man, args.out, scratch))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"done in {time.time() - t0:.0f} s; {args.out} holds the checkpoint of step {manifest['steps']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
