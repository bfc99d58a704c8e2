"""GET /metrics in Prometheus text format: requests by route template and status, a
latency histogram (Litestar's Prometheus middleware), and how many questions were answered
or abstained on.

Counters are per process; with several uvicorn workers set PROMETHEUS_MULTIPROC_DIR so the
endpoint sums them, and scrape each replica on its own."""

from __future__ import annotations

from litestar.plugins.prometheus import PrometheusConfig, PrometheusController
from prometheus_client import Counter

from qa.api.security import PUBLIC
from qa.schemas import AskResponse

# Seconds: /ask takes tens of milliseconds when idle and seconds under heavy load.
LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0]

ANSWERS = Counter("qa_answers_total", "Questions by outcome: answered with citations, or abstained", ["outcome"])
for _outcome in ("answered", "abstained"):
    ANSWERS.labels(_outcome)  # both series exist from the start, at 0


def record_answer(response: AskResponse) -> None:
    ANSWERS.labels("answered" if response.answered else "abstained").inc()


def prometheus_config() -> PrometheusConfig:
    # group_path labels requests by route template (/documents/{doc_id:str}), so arbitrary
    # ids cannot blow up the number of series.
    return PrometheusConfig(app_name="qa", prefix="qa_http", group_path=True, buckets=LATENCY_BUCKETS)


class MetricsController(PrometheusController):
    path = "/metrics"
    opt = {PUBLIC: True}
    include_in_schema = False
