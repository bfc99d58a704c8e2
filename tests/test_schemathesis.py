"""Property-based fuzzing of every operation in /schema (schemathesis, in-process ASGI):
whatever the generated request, valid or not, the API must never answer with a 5xx.

The app has the API key, so generated writes get past the guard into the handlers; it
runs on a store of its own, seeded with the seed articles. Set QA_WRITE_REPORTS=1 to
write the case count to benchmarks/results/schemathesis.json.

Hypothesis drives the operations' strategies directly: schemathesis' pytest plugin does
not work with pytest 9."""

from __future__ import annotations

import json
import os
from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from index.store import Store
from qa.api.app import create_app
from qa.service import QAService
from tests.conftest import ROOT, SEEDS, make_settings

KEY = "schemathesis-key"
EXAMPLES = 50  # per operation and generation mode
REPORT = ROOT / "benchmarks" / "results" / "schemathesis.json"


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory, embedder):
    app_settings = make_settings(tmp_path_factory.mktemp("fuzzed"), api_key=KEY, rate_limit_per_minute=0,
                                 expensive_rate_limit_per_minute=0)
    service = QAService(app_settings, Store.open(app_settings), embedder)
    service.ingest([SEEDS])
    return schemathesis.openapi.from_asgi("/schema/openapi.json", create_app(app_settings, service))


def test_no_operation_gives_a_server_error(api_schema):
    cases: Counter[str] = Counter()
    statuses: Counter[int] = Counter()
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 6
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
            def fuzz(case) -> None:
                response = case.call(headers={"X-API-Key": KEY})
                cases[operation.label] += 1
                statuses[response.status_code] += 1
                case.validate_response(response, checks=[not_a_server_error])

            try:
                fuzz()
            except Unsatisfiable:
                assert mode is GenerationMode.NEGATIVE  # nothing to break in an operation without inputs
    total = sum(cases.values())
    server_errors = sum(n for status, n in statuses.items() if status >= 500)
    print(f"\nschemathesis: {total} cases over {len(operations)} operations, statuses {dict(sorted(statuses.items()))}")
    if os.environ.get("QA_WRITE_REPORTS") == "1":
        REPORT.parent.mkdir(parents=True, exist_ok=True)
        REPORT.write_text(json.dumps({"cases": total, "server_errors": server_errors, "operations": len(operations),
                                      "examples_per_operation_and_mode": EXAMPLES, "by_operation": cases,
                                      "by_status": {str(k): v for k, v in sorted(statuses.items())}}, indent=2) + "\n")
    assert server_errors == 0
