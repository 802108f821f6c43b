"""State that belongs to the open model: keyed by it, and dropped when another model opens.

Streamlit gives a keyed widget its identity from the key alone: a widget drawn again under the
same key on another model's page is the same widget to the browser, which goes on showing what
it held (the previous model's ``conv1 · 160 params``, its display mode) while the script reads a
value that happens to be valid for the new model too. So every widget or session key whose
meaning depends on the open model is made with ``model_key(name)``, and one whose meaning
depends on the layer or weight too names them: ``model_key("grid_mode", layer, weight)``. Keys
made from a model key by appending (``f"{key}-weight"``) stay in its scope.

The scope is a short digest of where the model comes from (kind and name) and of its structure
(every layer's path and class, every weight's name and shape). It stays when a run grows, a file
is saved again with the same architecture, or an application's ImageNet weights replace its
random ones; it changes with anything that could give an old value another meaning. When the
scope changes, every key of the old one is dropped, so a model chosen in the sidebar starts
exactly as its deep link opens it, and coming back to a model does too.
"""

from __future__ import annotations

import hashlib

import streamlit as st

from kerascope.extraction.records import ModelWeights

from .sources import ModelRef

SCOPE = "model_scope"
"""Session key of the open model's scope."""
SCOPE_OF = "model_scope_of"
"""Session key of the reference the scope was computed for (it is computed once per open)."""
_DIGITS = 12


def model_scope(ref: ModelRef, model: ModelWeights) -> str:
    """The scope of ``model`` opened from ``ref`` (pure): a digest of source and structure."""
    digest = hashlib.sha256(f"{ref.kind}\0{ref.name}".encode())
    for layer in model.layers:
        digest.update(f"\0{layer.path}\0{layer.class_name}".encode())
        for weight in layer.weights:
            digest.update(f"\1{weight.name}{weight.shape}".encode())
    return digest.hexdigest()[:_DIGITS]


def scoped(name: str, scope: str, *within: str) -> str:
    """The key ``name`` in ``scope`` (pure), narrowed to a layer, weight ... by ``within``."""
    return "|".join((f"@{scope}", name, *within))


def enter(ref: ModelRef, model: ModelWeights) -> str:
    """Make ``model`` (opened from ``ref``) the scope of ``model_key``; when it differs from
    the scope before, drop every key of the old one. Returns the scope."""
    if st.session_state.get(SCOPE_OF) == ref and SCOPE in st.session_state:
        return str(st.session_state[SCOPE])
    scope = model_scope(ref, model)
    old = st.session_state.get(SCOPE)
    if old is not None and old != scope:
        prefix = f"@{old}|"
        for key in [k for k in st.session_state if str(k).startswith(prefix)]:
            del st.session_state[key]
    st.session_state[SCOPE] = scope
    st.session_state[SCOPE_OF] = ref
    return scope


def model_key(name: str, *within: str) -> str:
    """The session or widget key ``name`` of the open model (``enter``), narrowed by ``within``
    (a layer path, a weight name) when its meaning depends on them too. Outside any model (a
    page that shows no model) the scope is empty."""
    return scoped(name, str(st.session_state.get(SCOPE, "")), *within)
