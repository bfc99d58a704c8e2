"""The base model (all-MiniLM-L6-v2, the reader's starting point) made small enough to travel to
a lent GPU machine beside the repository (64 MiB in all, 20 to 41 MiB of it tracked files),
in two parts, and made whole again there.

- The words (config.json and the word embeddings, which training never changes:
  `reader_model.build` freezes them) as int8 with one fp32 scale per row, 10.5 MiB: a row's
  error is at most half its largest value over 127, and a reader's logits move by 0.01 on
  average (0.08 at most; logit spread 2.2), as much as bf16 autocast moves them. Every run
  needs them.
- The layers (everything else `reader_model.build` loads) in fp16, 18 MiB: what a fresh run
  starts from (bf16 autocast rounds far coarser). A run that resumes from a checkpoint in the
  tree needs none of it: the checkpoint holds every trained tensor.

The pooler (`add_pooling_layer=False`) and the position-id buffer are left out; each part is a
safetensors file inside xz. `expand` writes the fp32 model folder `reader_model.build` takes.
Needs torch and safetensors only."""

from __future__ import annotations

import lzma
from pathlib import Path

import torch
from safetensors.torch import load, load_file, save, save_file

WORDS = "embeddings.word_embeddings.weight"
WORDS_FILE = "words.safetensors.xz"
LAYERS_FILE = "layers.safetensors.xz"


def compact(model_dir: Path, words_dir: Path, layers_dir: Path) -> None:
    """Write the words (with config.json) to `words_dir`, the layers to `layers_dir`."""
    state = load_file(str(model_dir / "model.safetensors"))
    words = state.pop(WORDS).float()
    scale = (words.abs().amax(1) / 127).clamp(min=1e-12)
    _write(words_dir / WORDS_FILE, {f"{WORDS}.int8": torch.round(words / scale[:, None]).to(torch.int8),
                                    f"{WORDS}.scale": scale})
    (words_dir / "config.json").write_text((model_dir / "config.json").read_text())
    _write(layers_dir / LAYERS_FILE, {name: t.half() for name, t in state.items()
                                      if not name.startswith("pooler.") and name != "embeddings.position_ids"})


def expand(words_dir: Path, layers_dir: Path | None, model_dir: Path) -> Path:
    """Write the fp32 model folder (config.json, model.safetensors) to `model_dir` and return it;
    without `layers_dir`, only the word embeddings (then `transformers` initialises the rest at
    random, and a checkpoint must bring every trained tensor)."""
    words = _read(words_dir / WORDS_FILE)
    state = {WORDS: words[f"{WORDS}.int8"].float() * words[f"{WORDS}.scale"][:, None]}
    if layers_dir is not None:
        state |= {name: t.float() for name, t in _read(layers_dir / LAYERS_FILE).items()}
    model_dir.mkdir(parents=True, exist_ok=True)
    save_file(state, str(model_dir / "model.safetensors"))
    (model_dir / "config.json").write_text((words_dir / "config.json").read_text())
    return model_dir


def _write(path: Path, tensors: dict[str, torch.Tensor]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(lzma.compress(save(tensors), preset=6))
    tmp.replace(path)


def _read(path: Path) -> dict[str, torch.Tensor]:
    return load(lzma.decompress(path.read_bytes()))
