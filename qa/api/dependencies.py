"""Dependency providers: the one QAService per process, created in the lifespan hook."""

from __future__ import annotations

from litestar.datastructures import State

from qa.service import QAService


def provide_service(state: State) -> QAService:
    return state.service
