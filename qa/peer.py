"""Copy the read model from another replica (`read_model_peer`): a replica that starts with no
usable version fetches the files of the version a peer has open (GET /read-model) instead of
reading every record from the store, which over Chroma's HTTP API costs about 170 µs per
sentence (half a minute at 50k passages); the changes since that version then come from the
store's change log as for any new version. A copy is staged in a temporary folder and renamed
into place complete (COMMITTED last), so a failed or interrupted copy leaves nothing to open."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import httpx
import msgspec

from config import Settings
from index import readmodel
from qa.schemas import ReadModelManifest

log = logging.getLogger(__name__)
TIMEOUT_SECONDS = 30.0  # per request; a large version's vectors take a few seconds on a LAN
ATTEMPTS = 2  # the peer may replace its version between the manifest and the files: read it again


def client_for(settings: Settings) -> httpx.Client:
    headers = {"X-API-Key": settings.api_key} if settings.api_key else {}
    return httpx.Client(base_url=settings.read_model_peer, headers=headers, timeout=TIMEOUT_SECONDS)


def copy_version(client: httpx.Client, parent: Path, prefix: str) -> Path | None:
    """The folder under `parent` of the peer's version, copied; None when the peer has no
    version of this corpus (`prefix`) in this code's format, or cannot be read (logged)."""
    for _ in range(ATTEMPTS):
        try:
            manifest = msgspec.json.decode(client.get("/read-model").raise_for_status().content,
                                           type=ReadModelManifest)
            if manifest.prefix != prefix or manifest.format != readmodel.FORMAT:
                log.warning("read-model peer serves %s in %r, not %s in %r: reading the store instead",
                            manifest.prefix, manifest.format, prefix, readmodel.FORMAT)
                return None
            return _copy(client, manifest, parent)
        except (httpx.HTTPError, msgspec.DecodeError, OSError, ValueError) as exc:
            log.warning("could not copy the read model from the peer: %s", exc)
    return None


def _copy(client: httpx.Client, manifest: ReadModelManifest, parent: Path) -> Path:
    names = [f.name for f in manifest.files]
    if not names or names[-1] != readmodel.COMMITTED or not all(map(_plain, names)):
        raise ValueError(f"not a read-model version's files: {names[:5]}")
    if not _plain(manifest.generation):
        raise ValueError(f"not a generation: {manifest.generation!r}")
    folder = parent / manifest.generation
    if readmodel.is_committed(folder):
        return folder
    tmp = readmodel.staging(folder)
    try:
        for file in manifest.files:
            with client.stream("GET", f"/read-model/{manifest.generation}/{file.name}") as response, \
                    (tmp / file.name).open("wb") as out:
                response.raise_for_status()
                for chunk in response.iter_bytes(1 << 20):
                    out.write(chunk)
            if (tmp / file.name).stat().st_size != file.size:
                raise ValueError(f"{file.name}: {(tmp / file.name).stat().st_size} bytes, the peer listed {file.size}")
        if not readmodel.is_committed(tmp):
            raise ValueError("the copied version is not committed in this code's format")
        readmodel.publish(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def _plain(name: str) -> bool:
    """A name that stays inside the folder it is joined to (what a peer sends is not trusted)."""
    return Path(name).name == name and not name.startswith(".")
