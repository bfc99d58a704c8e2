"""Shared fixtures: one embedder per test session, a seeded service on a temporary store."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from config import Settings, load_settings  # noqa: E402
from index.embedding import Embedder, load_embedder  # noqa: E402
from index.store import Store  # noqa: E402
from qa.service import QAService  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"
SHARED = ROOT.parent / "shared"
SEED_DEV = SHARED / "eval" / "seed-dev" / "questions.jsonl"


def make_settings(data_dir: Path, **overrides) -> Settings:
    return load_settings(environ={}, data_dir=str(data_dir), model_cache_dir=str(ROOT / "data" / "models"),
                         seeds_dir=str(SEEDS), **overrides)


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    return load_embedder(make_settings(ROOT / "data"))


@pytest.fixture(scope="session")
def seeded_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("seeded")


@pytest.fixture(scope="session")
def service(seeded_dir, embedder) -> QAService:
    settings = make_settings(seeded_dir)
    svc = QAService(settings, Store.open(settings), embedder)
    svc.ingest([SEEDS])
    return svc


@pytest.fixture(scope="session")
def client(service):
    from litestar.testing import TestClient

    from qa.api.app import create_app

    with TestClient(create_app(service.settings, service)) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def seed_questions() -> list[dict]:
    if not SEED_DEV.exists():
        pytest.skip("../shared/eval/seed-dev is not present")
    return [json.loads(line) for line in SEED_DEV.read_text().splitlines() if line.strip()]
