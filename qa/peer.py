"""Another replica's read model over HTTP (`read_model_peer`): GET /read-model and its files,
for index/readmodel/publishing.py to copy when this replica starts with no usable version.
The wire's shapes (qa/schemas.py) and httpx's errors stop here: the read model gets its own
Manifest, and OSError for a peer that cannot be read."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import httpx
import msgspec

from config import Settings
from index.readmodel.format import Manifest
from qa.schemas import ReadModelManifest

TIMEOUT_SECONDS = 30.0  # per request; a large version's vectors take a few seconds on a LAN


def client_for(settings: Settings) -> httpx.Client:
    headers = {"X-API-Key": settings.api_key} if settings.api_key else {}
    return httpx.Client(base_url=settings.read_model_peer, headers=headers, timeout=TIMEOUT_SECONDS)


def configured(settings: Settings) -> HttpPeer | None:
    """The peer that `read_model_peer` names, if any."""
    return HttpPeer(settings) if settings.read_model_peer else None


@contextlib.contextmanager
def _unreadable() -> Iterator[None]:
    """httpx's errors as OSError, which the read model's copy expects of a peer it cannot read."""
    try:
        yield
    except httpx.HTTPError as exc:
        raise OSError(str(exc)) from exc


class HttpPeer:
    """index.readmodel.Peer over the peer's API (the API key its replicas share)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def manifest(self) -> Manifest:
        with _unreadable(), client_for(self._settings) as client:
            wire = msgspec.json.decode(client.get("/read-model").raise_for_status().content, type=ReadModelManifest)
        return Manifest(prefix=wire.prefix, generation=wire.generation, format=wire.format,
                        files=[(f.name, f.size) for f in wire.files])

    @contextlib.contextmanager
    def file(self, generation: str, name: str) -> Iterator[Iterator[bytes]]:
        with _unreadable(), client_for(self._settings) as client, \
                client.stream("GET", f"/read-model/{generation}/{name}") as response:
            response.raise_for_status()
            yield response.iter_bytes(1 << 20)
