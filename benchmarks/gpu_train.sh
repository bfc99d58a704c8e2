#!/usr/bin/env bash
# Train the answer reader on a lent GPU machine (one H100 or H200) in one device call, from
# data/gpu/ alone: benchmarks/gpu_train.py, the same groups, order, loss and held-out figures
# as benchmarks/train_reader.py on the CPU. Options go to gpu_train.py (--help lists them);
# the checkpoint, its manifest and the log land in $OUT as they come, every 2 minutes and at
# the end, so a run killed at the time limit still brings back its last checkpoint.
#
# Before the call, here (once per data change; ~3 minutes on one core, less when cached):
#   .venv/bin/python benchmarks/gpu_bundle.py     # prints the sizes; fails over 60 MiB in all
#
# The device call (the tool's run; device time is 15 minutes a session, one call at most 10):
#   command:   bash benchmarks/gpu_train.sh --minutes 7 --layers 6 --max-tokens 64 --batch 64 --lr 1e-4
#   carry:     ["data/gpu"]
#   timeout_s: 540
# The command trains 7 minutes; loading (~30 s: the bundle, the base weights, CUDA) and the last
# held-out evaluation (seconds on a GPU) come on top, so it ends inside 9 minutes, and the
# machine's start (a minute or two) leaves the 15 minutes' rest for nothing but a look at the
# result: do not plan a second training call in the same session.
#
# Why these values: --batch 64 questions (~380 pairs of <=64 word pieces a step) keeps the GPU
# busy while a 7-minute run still takes thousands of steps (the CPU's batch of 8 would leave a
# GPU idle on Python); --lr 1e-4 is 5e-5 (the CPU's, at batch 8) scaled by the square root of
# the batch, rounded down (8x the batch; linear scaling overshoots with AdamW), with 300 warm-up
# steps and a linear fall to 0.1 of it by the end (--decay-to; the CPU runs plateaued at a
# constant rate). --layers 6 because a GPU affords it (3 is the CPU's choice, for speed at
# query time); --max-tokens 96 or 128 reads more of the context (pair it with --batch 32 if
# steps get slow). --resume benchmarks/checkpoints/reader.safetensors goes on from the
# committed CPU reader (its layers, max_tokens and group win) instead of the base model.
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
# Tested on the CPU (no GPU needed): .venv/bin/python benchmarks/gpu_bundle.py --limit 200, then
#   OUT=/tmp/gpuout bash benchmarks/gpu_train.sh --minutes 1 --limit 200
# PYTHON picks the interpreter (default python3, the one that holds torch on the GPU machine).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${OUT:?set OUT to the folder that comes back (the device tool sets it)}"
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
"${PYTHON:-python3}" benchmarks/gpu_train.py --out "$OUT" "$@" 2>&1 | tee "$OUT/train.log"
