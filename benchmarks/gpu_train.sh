#!/usr/bin/env bash
# Train the answer reader on a lent GPU machine (one H100 or H200) in one device call, from
# data/gpu/ alone: benchmarks/gpu_train.py, the same groups, order, loss and held-out figures
# as benchmarks/train_reader.py on the CPU. Options go to gpu_train.py (--help lists them);
# the checkpoint, its manifest and the log land in $OUT as they come, every 2 minutes and at
# the end, so a run killed at the time limit still brings back its last checkpoint.
#
# Before the call, here (a few minutes on one core the first time, then cached in data/reader/):
#   .venv/bin/python benchmarks/gpu_bundle.py
# It builds data/gpu/ (the bundles and the base model's int8 word embeddings, 17 MiB; every run
# carries it) and data/gpu-layers/ (the base model's fp16 layers, 19 MiB; only a fresh run
# carries it) and prints what each kind of run would send: tracked files (31 MiB on 2026-12-08,
# with the committed 6-layer checkpoint, 21.7 MB), untracked files git does not ignore, and the
# carried folders, against the tool's 64 MiB (it fails over 60).
#
# The device call (the tool's run; device time is 15 minutes a session, one call at most 10):
#   going on from the committed checkpoint (47.9 MiB travelled on 2026-12-08; its layers, word
#   pieces, group and seed win):
#     command:   bash benchmarks/gpu_train.sh --minutes 7 --resume benchmarks/checkpoints/reader.safetensors --batch 64 --lr 5e-5
#     carry:     ["data/gpu"]
#     timeout_s: 540
#   or fresh (66.5 MiB with the committed checkpoint in the tree: move it out of the tree first,
#   which leaves 45 MiB):
#     command:   bash benchmarks/gpu_train.sh --minutes 7 --layers 6 --max-tokens 64 --batch 64 --lr 1e-4
#     carry:     ["data/gpu", "data/gpu-layers"]
#     timeout_s: 540
# A run ends at --minutes or after --epochs passes over the data (default 3), whichever comes
# first. Loading (the bundle took 13 s on this machine's loaded CPU, then the base weights and
# CUDA) and the last held-out evaluation come on top of the minutes, so 7 ends well inside 540 s;
# the machine's start (a minute or two) and the 540 s leave about 4 minutes of the 15: enough to
# read the result, not for a second training call. The log prints groups/s every 30 s.
#
# Why these values: --batch 64 questions (about 380 pairs a step) gives a GPU enough work per
# step (the CPU's batch of 8 would leave it waiting on Python) and still 1,400 steps an epoch;
# --lr 1e-4 is the CPU's 5e-5 at batch 8 scaled by the square root of the 8x batch (1.4e-4),
# rounded down (linear scaling overshoots with AdamW); 300 warm-up steps, then a linear fall to
# 0.1 of it by the run's end (--decay-to; the CPU's constant rate plateaued). A resumed run
# starts at 5e-5: its weights are trained already. --layers 6 because a GPU affords it (3 was
# the CPU's choice, for speed at query time: 6 layers take 12.7 ms for 3 pairs in int8 ONNX);
# --max-tokens 96 or 128 reads more context (at 128, 3.5% of pairs are cut, against 49% at 64).
#
# What comes back (files_at, read-only), at most 8 files of 16 MiB:
#   reader.safetensors.part0[, .part1]   the fp16 trained parameters, split under 16 MiB
#   reader.safetensors.sha256             the whole file's hash
#   reader.json                           the manifest, the learning curve with held-out figures
#   train.log                             this script's output
# Join and check them, then ship (into a scratch worktree to try it, as below, or this tree):
#   mkdir -p /tmp/reader-gpu && cat <files_at>/reader.safetensors.part* > /tmp/reader-gpu/reader.safetensors
#   cp <files_at>/reader.json <files_at>/reader.safetensors.sha256 /tmp/reader-gpu/
#   (cd /tmp/reader-gpu && sha256sum -c reader.safetensors.sha256)
#   git worktree add /tmp/gpu-ship HEAD && cd /tmp/gpu-ship && PYTHONPATH=/tmp/gpu-ship \
#     /work/main/.venv/bin/python benchmarks/train_reader.py --ship --checkpoint /tmp/reader-gpu/reader.safetensors
#   then benchmarks/calibrate_news.py there, `qa eval` and `qa compare` (benchmarks/HISTORY.md, "reader")
#
# Tested on the CPU (no GPU needed), in a venv holding only torch, transformers, tokenizers,
# safetensors, numpy and tqdm, in a copy of what travels: benchmarks/gpu_bundle.py --limit 200, then
#   OUT=/tmp/gpuout PYTHON=<that venv>/bin/python bash benchmarks/gpu_train.sh --minutes 1 --limit 200
# PYTHON picks the interpreter (default python3, the one that holds torch on the GPU machine).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${OUT:?set OUT to the folder that comes back (the device tool sets it)}"
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
"${PYTHON:-python3}" benchmarks/gpu_train.py --out "$OUT" "$@" 2>&1 | tee "$OUT/train.log"
