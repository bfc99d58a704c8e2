"""Export all-MiniLM-L6-v2 to ONNX with mean pooling and normalisation inside the graph,
and quantise it to int8 (per-channel weights). Needs torch; runs offline from the
packaged model files. The files are cached under `model_cache_dir`."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from config import Settings


# Part of the cache key: a change to the export or quantisation settings must not reuse old files.
RECIPE = "opset17-int8-per-channel-7bit"


def _fingerprint(model_dir: Path) -> str:
    weights = model_dir / "model.safetensors"
    stat = weights.stat()
    return hashlib.sha256(f"{weights.resolve()}:{stat.st_size}:{RECIPE}".encode()).hexdigest()[:12]


def onnx_paths(settings: Settings) -> dict[str, Path]:
    from index.embedding import model_path

    folder = Path(settings.model_cache_dir) / f"minilm-{_fingerprint(model_path(settings))}"
    return {"fp32": folder / "model-fp32.onnx", "int8": folder / "model-int8.onnx"}


def export(model_dir: Path, fp32_file: Path, int8_file: Path) -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModel

    class PooledEncoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = AutoModel.from_pretrained(
                str(model_dir), local_files_only=True, attn_implementation="eager"
            )

        def forward(self, input_ids, attention_mask, token_type_ids):
            hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                                  token_type_ids=token_type_ids).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1)

    fp32_file.parent.mkdir(parents=True, exist_ok=True)
    model = PooledEncoder().eval()
    example = torch.ones((2, 8), dtype=torch.long)
    mask = example.clone()
    mask[1, 5:] = 0  # a padded row, so that the traced graph keeps the masking path
    tmp_fp32 = fp32_file.with_suffix(f".{os.getpid()}.tmp")
    with torch.no_grad():
        torch.onnx.export(
            model, (example, mask, torch.zeros_like(example)), str(tmp_fp32),
            input_names=["input_ids", "attention_mask", "token_type_ids"], output_names=["embedding"],
            dynamic_axes={name: {0: "batch", 1: "sequence"} for name in ("input_ids", "attention_mask", "token_type_ids")}
            | {"embedding": {0: "batch"}},
            opset_version=17, dynamo=False,
        )
    tmp_int8 = int8_file.with_suffix(f".{os.getpid()}.tmp")
    # 7-bit weights (reduce_range): on CPUs without VNNI the 8-bit products saturate. Measured on
    # the seed sentences: 18 instead of 43 of 168 below cosine 0.99 to torch, and seed-dev top
    # passages identical to torch for 20 instead of 17 of 20 questions, at the same speed.
    quantize_dynamic(str(tmp_fp32), str(tmp_int8), per_channel=True, reduce_range=True, weight_type=QuantType.QInt8)
    # Rename last: a crash mid-export never leaves a half-written model behind.
    tmp_fp32.replace(fp32_file)
    tmp_int8.replace(int8_file)


def ensure_onnx_model(settings: Settings, variant: str) -> Path:
    from index.embedding import model_path

    paths = onnx_paths(settings)
    if not paths[variant].exists():
        export(model_path(settings), paths["fp32"], paths["int8"])
    return paths[variant]
