"""Model-scoped state: what keys a model's widgets, and what is dropped when another opens."""

from __future__ import annotations

from pathlib import Path

import keras
from keras import layers
from streamlit.testing.v1 import AppTest

from kerascope.components.page.scope import SCOPE, model_scope, scoped
from kerascope.components.page.sources import ModelRef
from kerascope.extraction import open_model

ROOT = Path(__file__).resolve().parents[3]


def _mlp(units: int, name: str = "mlp") -> keras.Model:
    inputs = keras.Input((4,), name="x")
    return keras.Model(inputs, layers.Dense(units, name="dense")(inputs), name=name)


def test_the_scope_follows_source_and_structure_not_values_or_versions() -> None:
    ref = ModelRef("folder", "m.keras", "1-100")
    scope = model_scope(ref, open_model(_mlp(3)))
    # Saved again (new mtime), other values, or a run that grew: the same model.
    assert model_scope(ModelRef("folder", "m.keras", "2-100"), open_model(_mlp(3))) == scope
    # Another architecture under the same name, or the same one from elsewhere: another model.
    assert model_scope(ref, open_model(_mlp(5))) != scope
    assert model_scope(ModelRef("folder", "n.keras", "1-100"), open_model(_mlp(3))) != scope
    assert model_scope(ModelRef("upload", "m.keras", "x"), open_model(_mlp(3))) != scope


def test_scoped_keys_name_their_scope_first_and_narrow_by_layer() -> None:
    assert scoped("layer", "abc") == "@abc|layer"
    assert scoped("grid_mode", "abc", "conv1", "kernel") == "@abc|grid_mode|conv1|kernel"
    assert scoped("layer", "abc") != scoped("layer", "abd")


SWITCH = """
import streamlit as st
from kerascope.components.page.scope import enter, model_key
from kerascope.components.page.sources import ModelRef
from kerascope.extraction import open_model
import keras
from keras import layers

@st.cache_resource
def model(units):
    inputs = keras.Input((4,), name="x")
    return open_model(keras.Model(inputs, layers.Dense(units, name="dense")(inputs)))

units = st.session_state.get("units", 3)
enter(ModelRef("demo", f"m{units}"), model(units))
st.session_state.setdefault(model_key("page", "dense"), 4)
st.session_state["unscoped"] = "kept"
st.selectbox("Mode", ["a", "b"], key=model_key("mode"))
"""


def test_another_model_drops_every_key_of_the_one_before() -> None:
    at = AppTest.from_string(SWITCH, default_timeout=60).run()
    first = str(at.session_state[SCOPE])
    at.selectbox(key=scoped("mode", first)).set_value("b").run()
    assert at.session_state[scoped("page", first, "dense")] == 4
    at.session_state["units"] = 5
    at.run()
    second = str(at.session_state[SCOPE])
    assert second != first
    assert scoped("page", first, "dense") not in at.session_state
    assert scoped("mode", first) not in at.session_state
    assert at.selectbox(key=scoped("mode", second)).value == "a"  # a new widget, as a link opens
    assert at.session_state["unscoped"] == "kept"
