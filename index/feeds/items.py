"""What keys a story from a feed: its canonical URL (courlan: host lower-cased, tracking
parameters such as utm_* and fbclid and the fragment dropped), and the document id made from
it, stable and URL-safe, so that the same story always lands on the same document."""

from __future__ import annotations

import hashlib
import re
from urllib.parse import urlsplit

from courlan import normalize_url

DOC_ID_SLUG = 80  # characters of host and path kept in a document id; a hash makes it unique


def canonical_url(link: str, base: str) -> str | None:
    """The canonical form of an item's link (relative links resolved against `base`, the
    feed's URL); None for anything but an http(s) address."""
    from urllib.parse import urljoin

    absolute = urljoin(base, link.strip())
    if urlsplit(absolute).scheme not in ("http", "https") or not urlsplit(absolute).netloc:
        return None
    try:
        return normalize_url(absolute, strict=True)
    except ValueError:
        return None


def story_id(url: str) -> str:
    """The document id of the story at canonical `url`: host and path as a slug, then 10 hex
    characters of the URL's hash (`example.com-2024-05-vote-3f2a9c01de`)."""
    parts = urlsplit(url)
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", (parts.hostname or "") + parts.path).strip("-.")[:DOC_ID_SLUG]
    return f"{slug.rstrip('-.')}-{hashlib.sha256(url.encode()).hexdigest()[:10]}"
