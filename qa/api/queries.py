"""Query parameters a route does not take are a 400 naming them: `GET /documents?doc_ids=x`
(for `doc_id`) would otherwise quietly list every document. Only routes that take query
parameters are checked; pages that take none (`/`, `/widget.js`) ignore tracking or
cache-busting ones."""

from __future__ import annotations

from litestar import Litestar, Request
from litestar.exceptions import ValidationException
from litestar.handlers import HTTPRouteHandler
from litestar.routes import HTTPRoute

STATE_KEY = "query_parameters"  # in app.state: what declared_query_parameters gives


def declared_query_parameters(app: Litestar) -> dict[HTTPRouteHandler, frozenset[str]]:
    """The query parameters each of the app's route handlers takes (its dependencies' too,
    such as the filters), for the handlers that take any."""
    declared = {}
    for route in app.routes:
        if isinstance(route, HTTPRoute):
            for handler, kwargs in route.route_handler_map.values():
                if names := frozenset(p.field_alias for p in kwargs.expected_query_params):
                    declared[handler] = names
    return declared


def check_query(request: Request) -> None:
    """A before-request check: ValidationException naming the query parameters the route
    does not take (the first few, and how many)."""
    declared = request.app.state[STATE_KEY].get(request.route_handler)
    if not declared or not (unknown := sorted(set(request.query_params) - declared)):
        return
    named = ", ".join(map(repr, unknown[:5])) + (f" and {len(unknown) - 5:,} more" if len(unknown) > 5 else "")
    raise ValidationException(f"unknown query parameter(s) {named}: {request.url.path} takes "
                              f"{', '.join(sorted(declared))}",
                              extra=[{"message": "unknown query parameter", "key": name, "source": "query"}
                                     for name in unknown[:5]])
