"""What crosses from the sandboxed worker: JSON that rebuilds every record field, and nothing
that could make this side build objects a file chose."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from kerascope.extraction.analysis.stats import Stats, compute_stats
from kerascope.extraction.readers._wire import (
    WireError,
    decode,
    dumps,
    encode,
    loads,
    manifest,
    rebuild,
    stats_from_wire,
    stats_to_wire,
)
from kerascope.extraction.records import LayerWeights, ModelWeights, Weight, eager


def _records() -> ModelWeights:
    kernel = Weight("kernel", "kernel", (3, 2), "float32", True, eager(np.ones((3, 2), "float32")))
    bias = Weight("bias", "bias", (2,), "bfloat16", False, eager(np.zeros(2, "float32")))
    config = {"units": 2, "pair": (1, 2), "nested": {"list": [1.5, None, "x"]}, 3: "int key"}
    layer = LayerWeights(
        "dense", "outer/dense", "TimeDistributed", "dense", config, (kernel, bias), "Dense"
    )
    return ModelWeights("m.keras", "keras_zip", "model", (layer,), ("a note",))


def test_every_record_field_crosses_and_loaders_are_replaced() -> None:
    records = _records()
    message = loads(dumps(manifest(records)))
    calls: list[tuple[int, int, str, tuple[int, ...]]] = []

    def loaders(i: int, j: int, what: str, shape: tuple[int, ...], cache: dict) -> tuple:  # type: ignore[type-arg]
        calls.append((i, j, what, shape))
        return (lambda: np.full((3, 2), 7.0, "float32")), None, cache

    rebuilt = rebuild(message, loaders)
    pairs = zip(records.layers[0].weights, rebuilt.layers[0].weights, strict=True)
    for cls, a, b in [
        (ModelWeights, records, rebuilt),
        (LayerWeights, records.layers[0], rebuilt.layers[0]),
        *[(Weight, w1, w2) for w1, w2 in pairs],
    ]:
        for f in dataclasses.fields(cls):
            if f.name.startswith("_") or f.name in ("loader", "stats_loader", "layers", "weights"):
                continue
            assert getattr(a, f.name) == getattr(b, f.name), (cls.__name__, f.name)
            assert type(getattr(a, f.name)) is type(getattr(b, f.name)), (cls.__name__, f.name)
    assert rebuilt.layers[0].config[3] == "int key"
    assert calls[0] == (0, 0, "weight 'kernel' of layer 'outer/dense'", (3, 2))
    assert rebuilt.layers[0].weight("kernel").array()[0, 0] == 7.0


def test_a_record_inside_a_field_crosses_when_it_is_kerascopes_own() -> None:
    stats = compute_stats(np.arange(5.0))
    assert decode(loads(dumps(encode({"stats": stats})))) == {"stats": stats}
    assert stats_from_wire(loads(dumps(stats_to_wire(stats)))) == stats
    array = np.arange(6, dtype="int8").reshape(2, 3)
    back = decode(loads(dumps(encode(array))))
    assert back.dtype == np.int8 and np.array_equal(back, array)


@pytest.mark.parametrize(
    "message",
    [
        {"\x00record": ["subprocess:Popen", {"args": "id"}]},
        {"\x00record": ["os:system", {}]},
        {"\x00record": ["kerascope.extraction.api:open_model", {}]},
        {"\x00ndarray": ["|O", [1], [1]]},
        {"\x00ndarray": ["<f4", [3], [1.0]]},
        {"\x00unknown": []},
    ],
)
def test_what_encode_never_makes_is_refused(message: object) -> None:
    with pytest.raises((WireError, TypeError)):
        decode(message)


def test_statistics_and_manifests_are_type_checked() -> None:
    good = stats_to_wire(Stats(3, 0.0, 1.0, 0.5, 0.1, 1.0, 0.0, 0, 0))
    with pytest.raises(WireError):
        stats_from_wire({**good, "min": "0"})
    with pytest.raises(WireError):
        stats_from_wire({**good, "extra": 1})
    message = loads(dumps(manifest(_records())))
    message["layers"][0]["weights"][0]["shape"] = {"\x00tuple": [-1]}
    with pytest.raises(WireError, match="shape"):
        rebuild(message, lambda i, j, what, nbytes, cache: (lambda: None, None, cache))
    message = loads(dumps(manifest(_records())))
    message["layers"][0]["weights"][0]["loader"] = "x"
    with pytest.raises(WireError, match="unexpected Weight fields"):
        rebuild(message, lambda i, j, what, nbytes, cache: (lambda: None, None, cache))
