"""Route decorators shared by the controllers.

`get_or_head`: a GET route that answers HEAD as well. Uptime monitors and link checkers probe
with HEAD; the handler runs as for GET and the server (uvicorn) sends the headers only."""

from __future__ import annotations

from functools import partial

from litestar import route
from litestar.enums import HttpMethod

get_or_head = partial(route, http_method=[HttpMethod.GET, HttpMethod.HEAD])
