"""Notes grouped by kind: one line per kind of problem, naming the layers it touches.

A file with ten unnamed layers gets one note listing them, not ten notes pushing the page down.
"""

from __future__ import annotations

from collections.abc import Iterable

SHOWN = 6
"""How many affected names one note spells out before it says how many more there are."""


def grouped(kind: str, items: Iterable[str]) -> list[str]:
    """``[]`` when ``items`` is empty, else one note: ``kind: a, b, c and 4 more``."""
    names = list(dict.fromkeys(items))
    if not names:
        return []
    shown = ", ".join(names[:SHOWN])
    more = f" and {len(names) - SHOWN} more" if len(names) > SHOWN else ""
    return [f"{kind} ({len(names)}): {shown}{more}"]
