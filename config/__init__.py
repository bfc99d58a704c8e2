"""Settings for the whole project: `config/defaults.toml`, an optional file named by
QA_CONFIG, then QA_* environment variables, in increasing priority."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

import msgspec

DEFAULTS_FILE = Path(__file__).with_name("defaults.toml")
ENV_PREFIX = "QA_"


class Settings(msgspec.Struct, kw_only=True, frozen=True):
    data_dir: str
    collection: str
    seeds_dir: str
    store_mode: Literal["embedded", "http"]
    chroma_host: str
    chroma_port: int
    read_model_peer: str
    embedder: Literal["onnx", "torch"]
    onnx_variant: Literal["int8", "fp32"]
    model_path: str
    model_cache_dir: str
    threads: int
    max_passage_tokens: int
    min_passage_tokens: int
    default_top_k: int
    answer_passages: int
    reader_candidates: int
    min_confidence: float
    host: str
    port: int
    workers: int
    cors_allow_origins: str
    api_key: str
    read_requires_key: bool
    rate_limit_per_minute: int
    expensive_rate_limit_per_minute: int
    trusted_proxies: str
    max_request_bytes: int
    max_upload_bytes: int
    conversation_limit: int
    conversations_per_client: int
    conversation_ttl_seconds: int
    feeds_poll: Literal["auto", "off"]
    feeds_default_every: str
    feeds_contact_url: str
    feeds_host_interval: float
    feeds_connect_timeout: float
    feeds_read_timeout: float
    feeds_response_seconds: float
    feeds_max_bytes: int
    feeds_retries: int
    feeds_retry_backoff: float
    feeds_retry_after_max: float
    feeds_full_text_chars: int
    feeds_workers: int
    min_free_mb: float
    write_timeout_seconds: float

    def replace(self, **changes: Any) -> "Settings":
        return msgspec.structs.replace(self, **changes)


def _read_toml(path: Path) -> dict[str, Any]:
    with path.open("rb") as handle:
        return tomllib.load(handle)


def load_settings(environ: dict[str, str] | None = None, **overrides: Any) -> Settings:
    """Defaults, then QA_CONFIG, then QA_* variables, then explicit keyword overrides."""
    environ = dict(os.environ if environ is None else environ)
    values = _read_toml(DEFAULTS_FILE)
    if extra := environ.get("QA_CONFIG"):
        values.update(_read_toml(Path(extra)))
    for name in values:
        if (raw := environ.get(ENV_PREFIX + name.upper())) is not None:
            values[name] = raw
    values.update(overrides)
    # strict=False lets "8001" and "true" from the environment become int and bool.
    return msgspec.convert(values, Settings, strict=False)
