"""The answer reader's network and its ONNX file: a cross-encoder made of the first layers of
the shipped all-MiniLM-L6-v2, reading a question together with one candidate sentence and
the context before it, and scoring "this sentence answers the question" against a learned
"no answer" logit (as SQuAD 2.0 readers score a null answer).

Only what training changes ships (a safetensors file in fp16, with a JSON manifest beside it;
qa/reader.py names the shipped pair): the encoder layers kept, the position and segment
embeddings, the head and the null logit; the word embeddings are frozen and read from the base
model. The int8 ONNX file is made from both on first use and cached, as the embedder's is.
Needs torch; qa/reader.py runs the exported file without it.

Input layout (`pair_ids`): [CLS] question [SEP] sentence [SEP] context [SEP], the question in
segment 0 and the rest in segment 1, at most `max_tokens` word pieces; the context (title,
then the previous sentence) is cut from its start, so that the words nearest the sentence
stay, and the sentence from its end."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

CLS, SEP = 101, 102  # MiniLM's (BERT uncased) special word pieces
RECIPE = "reader-opset17-int8-per-channel-7bit"


def pair_ids(question: list[int], sentence: list[int], context: list[int],
             max_tokens: int) -> tuple[list[int], list[int]]:
    """(word piece ids, segment ids) of one question-sentence pair, given each part's ids
    without special tokens."""
    question = question[: max_tokens // 3]
    sentence = sentence[: max(max_tokens - len(question) - 4, 1)]
    room = max_tokens - len(question) - len(sentence) - 4
    context = context[len(context) - room :] if room > 0 else []
    ids = [CLS, *question, SEP, *sentence, SEP]
    segments = [0] * (len(question) + 2) + [1] * (len(sentence) + 1)
    if context:
        ids += [*context, SEP]
        segments += [1] * (len(context) + 1)
    return ids, segments


def context_text(title: str, previous: str) -> str:
    """What the reader reads beside a sentence: the article's title and the sentence before it,
    joined by ". ", with the periods and spaces at either end stripped (the previous
    sentence's closing period too: the reader was trained on that form)."""
    return f"{title}. {previous}".strip(". ") if previous else title


def build(base_dir: Path, layers: int):
    """A fresh reader (torch module) made of the first `layers` layers of the base model."""
    import torch
    from transformers import AutoModel

    class Reader(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = AutoModel.from_pretrained(str(base_dir), local_files_only=True,
                                                     attn_implementation="eager", add_pooling_layer=False)
            self.encoder.encoder.layer = self.encoder.encoder.layer[:layers]
            self.encoder.config.num_hidden_layers = layers
            self.encoder.embeddings.word_embeddings.weight.requires_grad_(False)
            self.head = torch.nn.Linear(self.encoder.config.hidden_size, 1)
            self.null_logit = torch.nn.Parameter(torch.zeros(()))

        def scores(self, input_ids, attention_mask, token_type_ids):
            """Each pair's logit that its sentence answers, on the scale of `null_logit`."""
            hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                                  token_type_ids=token_type_ids).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
            return self.head(pooled).squeeze(-1)

        def forward(self, input_ids, attention_mask, token_type_ids):
            """The exported output: each pair's logit against "no answer" (0 means a tie)."""
            return self.scores(input_ids, attention_mask, token_type_ids) - self.null_logit

    return Reader()


def trained_state(model) -> dict:
    """The parameters training changes, by name (what the shipped weights file holds)."""
    return {name: p.detach() for name, p in model.named_parameters() if p.requires_grad}


def load(base_dir: Path, weights: Path):
    """A trained reader: the base model with the trained parameters of `weights` put in."""
    from safetensors.torch import load_file

    manifest = read_manifest(weights)
    model = build(base_dir, int(manifest["layers"]))
    state = {name: tensor.float() for name, tensor in load_file(str(weights)).items()}
    missing = set(trained_state(model)) - set(state)
    if missing:
        raise ValueError(f"{weights} lacks {sorted(missing)[:3]}…: not a reader of this layout")
    model.load_state_dict(state, strict=False)
    return model.eval()


def manifest_file(weights: Path) -> Path:
    """The manifest beside a weights file: layout, data, steps, seed, held-out figures."""
    return weights.with_suffix(".json")


def read_manifest(weights: Path) -> dict:
    return json.loads(manifest_file(weights).read_text())


def fingerprint(weights: Path) -> str:
    """The weights' identity: the calibration records it, the ONNX cache is keyed by it."""
    digest = hashlib.sha256(weights.read_bytes())
    digest.update(RECIPE.encode())
    return digest.hexdigest()[:12]


def ensure_onnx(base_dir: Path, weights: Path, cache_dir: Path) -> Path:
    """The int8 ONNX file of the reader `weights` puts into the base model, exported on first use."""
    from index.onnx_export import export_module, quietly

    path = cache_dir / f"reader-{fingerprint(weights)}" / "reader-int8.onnx"
    if not path.exists():
        with quietly():
            model = load(base_dir, weights)
        export_module(model, path.with_name("reader-fp32.onnx"), path, "score")
    return path


def tokenizer(model_dir: Path):
    """The base model's tokenizer, without truncation or padding: `pair_ids` lays out each pair."""
    from tokenizers import Tokenizer

    loaded = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    loaded.no_truncation()
    loaded.no_padding()
    return loaded


def tokenize(tokenizer, texts: Sequence[str]) -> list[list[int]]:
    """Word piece ids of each text, without special tokens (a `tokenizers.Tokenizer`)."""
    return [e.ids for e in tokenizer.encode_batch(list(texts), add_special_tokens=False)]
