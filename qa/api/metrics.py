"""GET /metrics in Prometheus text format: requests by route template and status, a
latency histogram (Litestar's Prometheus middleware, counting a request whose client hung up
first as 499, see qa/api/outcomes.py), and how many questions were answered or abstained on.

Counters are per process; with several uvicorn workers set PROMETHEUS_MULTIPROC_DIR so the
endpoint sums them, and scrape each replica on its own."""

from __future__ import annotations

import time

from litestar import Request, Response
from litestar.enums import ScopeType
from litestar.plugins.prometheus import PrometheusConfig, PrometheusController, PrometheusMiddleware
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from litestar.types import Receive, Scope, Send
from prometheus_client import Counter

from qa.api.outcomes import Outcome
from qa.api.routing import get_or_head
from qa.api.security import PUBLIC
from qa.schemas import AskResponse

# Seconds: /ask takes tens of milliseconds when idle and seconds under heavy load.
LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0]

ANSWERS = Counter("qa_answers_total", "Questions by outcome: answered with citations, or abstained", ["outcome"])
for _outcome in ("answered", "abstained"):
    ANSWERS.labels(_outcome)  # both series exist from the start, at 0


def record_answer(response: AskResponse) -> None:
    ANSWERS.labels("answered" if response.answered else "abstained").inc()


class _HttpMetrics(PrometheusMiddleware):
    """Litestar's request metrics (the same series), labelled with the status the client got:
    Litestar's own middleware labels a hang-up with the 500 it answers a body cut short with,
    or with the 200 of a stream cut part-way."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        labels = {**self._get_default_labels(request), **self._get_extra_labels(request)}
        in_progress = self.requests_in_progress(labels).labels(*labels.values())
        in_progress.inc()
        outcome, started = Outcome(receive, send), time.perf_counter()
        try:
            await self.app(scope, outcome.receive, outcome.send)
        finally:
            in_progress.dec()
            labels["status_code"] = outcome.status
            values = [*labels.values()]
            if outcome.status >= HTTP_500_INTERNAL_SERVER_ERROR:
                self.requests_error_count(labels).labels(*values).inc()
            self.request_count(labels).labels(*values).inc()
            self.request_time(labels).labels(*values).observe(time.perf_counter() - started)


def prometheus_config() -> PrometheusConfig:
    # group_path labels requests by route template (/documents/{doc_id:str}), so arbitrary
    # ids cannot blow up the number of series.
    return PrometheusConfig(app_name="qa", prefix="qa_http", group_path=True, buckets=LATENCY_BUCKETS,
                            scopes={ScopeType.HTTP}, middleware_class=_HttpMetrics)


class MetricsController(PrometheusController):
    path = "/metrics"
    opt = {PUBLIC: True}
    include_in_schema = False

    @get_or_head()
    async def get(self) -> Response:
        """Litestar's exposition, answering HEAD as well (its own route answers GET only)."""
        return await PrometheusController.get.fn(self)
