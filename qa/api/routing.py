"""Route decorators and routers shared by the controllers: every GET route answers HEAD too.
Uptime monitors and link checkers probe with HEAD; the handler runs as for GET and the server
(uvicorn) sends the headers only.

`get_or_head`: a GET route that answers HEAD as well. `HeadToo`: a router that gives HEAD to
the GET routes registered on it, for routes Litestar makes itself (the OpenAPI pages)."""

from __future__ import annotations

from functools import partial

from litestar import Router, route
from litestar.enums import HttpMethod
from litestar.handlers import HTTPRouteHandler
from litestar.routes import BaseRoute
from litestar.types import ControllerRouterHandler

get_or_head = partial(route, http_method=[HttpMethod.GET, HttpMethod.HEAD])


class HeadToo(Router):
    def register(self, value: ControllerRouterHandler) -> list[BaseRoute]:
        if isinstance(value, HTTPRouteHandler) and HttpMethod.GET in value.http_methods:
            value.http_methods = {*value.http_methods, HttpMethod.HEAD}
        return super().register(value)
