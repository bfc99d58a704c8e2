"""Which browser origins may call the API: the service's own origin, plus the comma-separated
`cors_allow_origins` setting (for sites that embed the chat widget)."""

from __future__ import annotations

from litestar.config.cors import CORSConfig

from config import Settings


def allowed_origins(settings: Settings) -> list[str]:
    extra = [origin.strip().rstrip("/") for origin in settings.cors_allow_origins.split(",") if origin.strip()]
    return [f"http://{settings.host}:{settings.port}", *extra]


def cors_config(settings: Settings) -> CORSConfig:
    # Methods and headers keep Litestar's permissive defaults: the origin list is the control.
    return CORSConfig(allow_origins=allowed_origins(settings), max_age=600)
