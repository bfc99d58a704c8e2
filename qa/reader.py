"""The answer reader at query time: the shipped cross-encoder (index/reader_model.py), run by
onnxruntime in int8, reads the question together with each of the ranker's best candidate
sentences (and the title and sentence before it) and scores, in one batched call, how likely
each one answers the question against "no answer" (a logit; 0 is a tie with no answer)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from index.reader_model import context_text, ensure_onnx, fingerprint, pair_ids, read_manifest, tokenizer
from qa.confidence import MODELS_DIR

WEIGHTS_FILE = MODELS_DIR / "reader.safetensors"  # its manifest: reader.json beside it


def shipped_fingerprint() -> str | None:
    """The shipped reader's fingerprint (None when no reader ships)."""
    return fingerprint(WEIGHTS_FILE) if WEIGHTS_FILE.exists() else None


class Reader:
    def __init__(self, onnx_file: Path, tokenizer_dir: Path, max_tokens: int, threads: int = 1) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(str(onnx_file), options, providers=["CPUExecutionProvider"])
        self._tokenizer = tokenizer(tokenizer_dir)
        self.max_tokens = max_tokens

    @classmethod
    def shipped(cls, settings) -> "Reader":
        """The reader of qa/models/, its ONNX file made on first use."""
        from index.embedding import model_path

        base = model_path(settings)
        onnx_file = ensure_onnx(base, WEIGHTS_FILE, Path(settings.model_cache_dir))
        return cls(onnx_file, base, int(read_manifest(WEIGHTS_FILE)["max_tokens"]), settings.threads)

    def scores(self, question: str, sentences: Sequence[str], titles: Sequence[str],
               previous: Sequence[str]) -> np.ndarray:
        """Each sentence's logit that it answers the question, against "no answer"."""
        if not sentences:
            return np.zeros(0, dtype=np.float32)
        contexts = [context_text(t, p) for t, p in zip(titles, previous)]
        encoded = self._tokenizer.encode_batch([question, *sentences, *contexts], add_special_tokens=False)
        n = len(sentences)
        q = encoded[0].ids
        rows = [pair_ids(q, encoded[1 + i].ids, encoded[1 + n + i].ids, self.max_tokens) for i in range(n)]
        width = max(len(ids) for ids, _ in rows)
        ids = np.zeros((n, width), dtype=np.int64)
        segments = np.zeros_like(ids)
        for row, (i, s) in enumerate(rows):
            ids[row, : len(i)] = i
            segments[row, : len(s)] = s
        feed = {"input_ids": ids, "attention_mask": (ids != 0).astype(np.int64), "token_type_ids": segments}
        return self._session.run(None, feed)[0].astype(np.float32)
