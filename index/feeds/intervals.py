"""Poll intervals as people write them (`15m`, `1h`, `90s`, `1h30m`) and back."""

from __future__ import annotations

import re

UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
MIN_SECONDS = 60  # polling a feed more often than once a minute is not polite
MAX_SECONDS = 7 * 86400
_PART = re.compile(r"(\d{1,6})([dhms])")


class BadInterval(ValueError):
    """An interval that does not parse or is out of bounds."""


def parse_interval(text: str) -> int:
    """Seconds in `text` (`15m`, `1h30m`, `90s`, or a bare number of seconds), between one
    minute and a week; BadInterval says why not."""
    text = text.strip().lower()
    if text.isdigit():
        seconds = int(text)
    else:
        parts = _PART.findall(text)
        if not parts or "".join(n + u for n, u in parts) != text:
            raise BadInterval(f"invalid interval {text!r}: use a number with a unit, like 15m, 1h or 1h30m")
        seconds = sum(int(n) * UNITS[u] for n, u in parts)
    if not MIN_SECONDS <= seconds <= MAX_SECONDS:
        raise BadInterval(f"interval {text!r} is out of bounds: between 1m and 7d")
    return seconds


def format_interval(seconds: int) -> str:
    """`seconds` as the shortest interval text (`900` -> `15m`, `5400` -> `1h30m`)."""
    out = ""
    for unit, size in UNITS.items():
        if seconds >= size:
            out += f"{seconds // size}{unit}"
            seconds %= size
    return out or "0s"
