"""Build the folders a lent GPU machine trains the reader from (benchmarks/gpu_train.sh; the
device tool's `carry` names them), inside the repository and ignored (/data/):

- data/gpu/ (every run): the token-level training and held-out bundles (benchmarks/
  reader_bundle.py: exactly the groups train_reader.py trains and measures on) and the base
  model's words (benchmarks/base_weights.py), 17 MiB;
- data/gpu-layers/ (a fresh run only): the base model's layers, 18 MiB. A run that resumes from
  a checkpoint in the tree (benchmarks/checkpoints/) takes every trained tensor from it.

No tokenizer files: the bundles hold word pieces. Then it prints each file's size and what
would travel for either kind of run: tracked files, untracked files git does not ignore and the
carried folders, against the device tool's 64 MiB (kept under 60 MiB for files added meanwhile).

    .venv/bin/python benchmarks/gpu_bundle.py              # all the data
    .venv/bin/python benchmarks/gpu_bundle.py --limit 200  # adds a 200-question training bundle for smoke runs"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import base_weights  # noqa: E402  (beside this script)
import reader_bundle  # noqa: E402
import reader_data  # noqa: E402
from index.embedding import packaged_model_path  # noqa: E402

OUT = ROOT / "data" / "gpu"  # inside the repository and ignored (/data/), as a carried path must be
LAYERS = ROOT / "data" / "gpu-layers"
TRAVEL_LIMIT_MIB = 60.0  # the tool refuses over 64 MiB; the margin is for files others add meanwhile


def _git_files(*options: str) -> list[Path]:
    listed = subprocess.run(["git", "ls-files", "-z", *options], cwd=ROOT, capture_output=True, check=True).stdout
    return [ROOT / name for name in listed.decode().split("\0") if name]


def _mib(paths: list[Path]) -> float:
    return sum(p.stat().st_size for p in paths if p.is_file() and not p.is_symlink()) / 2**20


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=0, help="SQuAD questions in the training bundle (0: all)")
    parser.add_argument("--group", type=int, default=6, help="candidates per training question")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--layers-out", type=Path, default=LAYERS)
    args = parser.parse_args()

    for source, name in ((reader_data.training_bundle(args.seed, args.group, args.limit),
                          reader_bundle.training_name(args.group, args.limit, args.seed)),
                         (reader_data.held_out_bundle(args.seed), reader_bundle.held_out_name(args.seed))):
        args.out.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, args.out / name)
    base_weights.compact(packaged_model_path(), args.out / "base", args.layers_out)

    every, fresh = _files(args.out), _files(args.layers_out)
    for path in every + fresh:
        print(f"{path.stat().st_size / 2**20:7.2f} MiB  {path.relative_to(ROOT)}")
    tracked, untracked = _mib(_git_files()), _mib(_git_files("--others", "--exclude-standard"))
    resumed = tracked + untracked + _mib(every)
    print(f"{tracked:7.2f} MiB  tracked files\n{untracked:7.2f} MiB  untracked, not ignored\n"
          f"{resumed:7.2f} MiB  travel for a resumed run (carry {args.out.relative_to(ROOT)})\n"
          f"{resumed + _mib(fresh):7.2f} MiB  travel for a fresh run (carry it and {args.layers_out.relative_to(ROOT)})\n"
          f"(at most {TRAVEL_LIMIT_MIB:.0f} MiB here, 64 MiB for the device tool)")
    return 0 if resumed < TRAVEL_LIMIT_MIB else 1


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


if __name__ == "__main__":
    raise SystemExit(main())
