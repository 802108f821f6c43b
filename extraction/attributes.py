"""A layer's config as rows of attributes, as Netron's side panel lists them.

``config_attributes(config)`` turns the config a file records for a layer (``LayerWeights.config``)
into ``(name, value)`` rows of plain text: ``filters 32``, ``kernel_size (3, 3)``,
``activation relu``, ``kernel_initializer GlorotUniform(seed=None)``.

Decided (each has a test):
- ``name`` is left out (the panel's title says it); so are entries that are null (an unset
  regularizer or constraint says nothing) and Keras's bookkeeping (``module``,
  ``registered_name``, ``build_config``).
- A dtype policy reads as its name (``float32``, ``mixed_float16``); a serialized object
  (initializer, regularizer, constraint, nested layer) as ``Class(key=value, ...)`` of its own
  config, nulls included there (``seed=None`` says the draw was not seeded); lists as tuples.
- A value's text is at most ``MAX_VALUE_CHARS`` characters (longer ends in "…"; a list of
  more than 16 items starts with how many it holds), and at most ``MAX_ROWS`` rows are
  listed, so a config holding a vocabulary of a million words stays a short panel. Rows keep
  the config's order.
- Text is returned as written; showing it as text (never Markdown or HTML) is the page's job.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MAX_VALUE_CHARS = 120
MAX_ROWS = 60
_SKIPPED = {"name", "module", "registered_name", "build_config", "compile_config"}


def config_attributes(config: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """``(attribute, value as text)`` rows of a layer config (see the module doc)."""
    rows: list[tuple[str, str]] = []
    if not isinstance(config, Mapping):
        return ()
    for key, value in config.items():
        if len(rows) >= MAX_ROWS:
            rows.append(("…", f"{len(config) - MAX_ROWS} more attributes"))
            break
        if key in _SKIPPED or value is None:
            continue
        rows.append((str(key)[:MAX_VALUE_CHARS], _clip(_text(value, 0))))
    return tuple(rows)


def _clip(text: str) -> str:
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 1] + "…"


def _text(value: Any, depth: int) -> str:
    """``value`` as short text; nesting deeper than 4 reads as ``…``."""
    if depth > 4:
        return "…"
    if value is None:
        return "None"
    if isinstance(value, (bool, int, float, str)):
        return str(value)
    if isinstance(value, Mapping):
        inner = value.get("config")
        cls = value.get("class_name")
        if isinstance(cls, str):
            if cls in ("DTypePolicy", "DTypePolicyFloat8", "QuantizedDTypePolicy") and isinstance(
                inner, Mapping
            ):
                return str(inner.get("name", cls))
            args = inner if isinstance(inner, Mapping) else {}
            parts = ", ".join(f"{k}={_text(v, depth + 1)}" for k, v in list(args.items())[:8])
            more = ", …" if len(args) > 8 else ""
            return _clip(f"{cls}({parts}{more})")
        parts = ", ".join(f"{k}: {_text(v, depth + 1)}" for k, v in list(value.items())[:8])
        return _clip("{" + parts + (", …" if len(value) > 8 else "") + "}")
    if isinstance(value, (list, tuple)):
        shown = ", ".join(_text(v, depth + 1) for v in value[:16])
        if len(value) > 16:
            return _clip(f"{len(value):,} items: ({shown}, …)")
        return f"({shown},)" if len(value) == 1 else f"({shown})"
    return type(value).__name__
