"""What crosses from the sandboxed worker: a few typed messages, records rebuilt field by field
from explicit lists, bound to the caller's store, and nothing a file could choose to build."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest

from kerascope.extraction.analysis.stats import Stats, compute_stats
from kerascope.extraction.errors import CorruptFile, UnsafeModel
from kerascope.extraction.graph import GraphNode, ModelGraph
from kerascope.extraction.readers._wire import (
    LAYER_FIELDS,
    LOCAL_FIELDS,
    MODEL_FIELDS,
    WEIGHT_FIELDS,
    ArrayAt,
    ArrayFile,
    Confined,
    Failed,
    FindExtent,
    Manifest,
    OpenFile,
    OutOfMemory,
    Preloading,
    ReadArray,
    ReadStats,
    Ready,
    ScanDone,
    ScanRun,
    SnapshotRead,
    Sniffed,
    StatsOnly,
    WireError,
    decode,
    dumps,
    encode,
    error_of,
    failed,
    loads,
    manifest,
    rebuild,
    reply_from_wire,
    request_from_wire,
    stats_from_wire,
)
from kerascope.extraction.readers.confine import Confinement
from kerascope.extraction.readers.store import ArrayStore
from kerascope.extraction.records import (
    ArrayRef,
    Extent,
    LayerWeights,
    ModelWeights,
    OptimizerSlot,
    OptimizerState,
    Quantization,
    Weight,
)


def _records() -> ModelWeights:
    store = ArrayStore()
    kernel = store.weight("kernel", np.ones((3, 2), "float32"))
    m = OptimizerSlot("m", (3, 2), "float32", store.add(np.zeros((3, 2), "float32")))
    state = OptimizerState("Adam", 12, (m,), (("epsilon", 1e-7), ("learning_rate", 0.001)))
    kernel = dataclasses.replace(kernel, optimizer=state)
    bias = store.weight(
        "bias", np.zeros(2, "float32"), dtype="bfloat16", trainable=False,
        quantization=Quantization((0.5, 0.25), (0, 1), 0), layout="OI",
    )  # fmt: skip
    config = {"units": 2, "pair": (1, 2), "nested": {"list": [1.5, None, "x"]}, 3: "int key"}
    layer = LayerWeights(
        "dense", "outer/dense", "TimeDistributed", "dense", config, (kernel, bias), "Dense"
    )
    graph = ModelGraph("model", (GraphNode("outer/dense", "dense", "Dense", "outer"),), (), (), ())
    return ModelWeights("m.keras", "keras_zip", "model", (layer,), ("a note",), graph=graph,
                        store=store)  # fmt: skip


def _crossed(records: ModelWeights) -> Manifest:
    reply = reply_from_wire(loads(dumps(manifest(records))))
    assert isinstance(reply, Manifest)
    return reply


def test_the_field_lists_name_every_record_field() -> None:
    # A field added to a record must be sent, or be declared local: never dropped silently.
    for cls, names in ((ModelWeights, MODEL_FIELDS), (LayerWeights, LAYER_FIELDS),
                       (Weight, WEIGHT_FIELDS)):  # fmt: skip
        assert {f.name for f in dataclasses.fields(cls)} == set(names) | (
            LOCAL_FIELDS & {f.name for f in dataclasses.fields(cls)}
        ), cls.__name__


def test_every_record_field_crosses_and_weights_are_bound_to_the_callers_store() -> None:
    records = _records()
    theirs = ArrayStore()
    theirs.add(np.full((3, 2), 7.0, "float32"))  # what the caller's store answers for ref 0
    rebuilt = rebuild(_crossed(records), theirs)
    pairs = zip(records.layers[0].weights, rebuilt.layers[0].weights, strict=True)
    for names, a, b in [
        (MODEL_FIELDS, records, rebuilt),
        (LAYER_FIELDS, records.layers[0], rebuilt.layers[0]),
        *[(WEIGHT_FIELDS, w1, w2) for w1, w2 in pairs],
    ]:
        for name in names:
            assert getattr(a, name) == getattr(b, name), name
            assert type(getattr(a, name)) is type(getattr(b, name)), name
    assert rebuilt.layers[0].config[3] == "int key"
    assert rebuilt.store is theirs and all(w.store is theirs for _, w in rebuilt.iter_weights())
    assert rebuilt.layers[0].weight("kernel").array()[0, 0] == 7.0


def test_only_the_allowed_record_types_cross_inside_a_field() -> None:
    q = Quantization((0.1,), (3,))
    assert decode(loads(dumps(Sniffed("x", "y", False)))) == {
        "type": "sniffed", "format": "x", "label": "y", "preload": False
    }  # fmt: skip
    assert decode(encode({"q": q, "ref": ArrayRef(4)})) == {"q": q, "ref": ArrayRef(4)}
    array = np.arange(6, dtype="int8").reshape(2, 3)
    back = decode(encode(array))
    assert back.dtype == np.int8 and np.array_equal(back, array)
    for value in (compute_stats(np.arange(5.0)), Extent("p", 0, "<f4"), object()):
        with pytest.raises(WireError, match="cannot send"):
            encode(value)


@pytest.mark.parametrize(
    "message",
    [
        {"\x00record": ["subprocess:Popen", {"args": "id"}]},
        {"\x00record": ["Popen", {"args": "id"}]},
        {"\x00record": ["os:system", {}]},
        {"\x00record": ["kerascope.extraction.records:Weight", {}]},
        {"\x00record": ["Weight", {"name": "x"}]},
        {"\x00record": ["Stats", {}]},
        {"\x00record": ["Quantization", {"scale": [1.0], "__class__": 1}]},
        {"\x00record": ["Quantization", {}]},
        {"\x00ndarray": ["|O", [1], [1]]},
        {"\x00ndarray": ["<f4", [3], [1.0]]},
        {"\x00ndarray": ["not a dtype", [1], [1]]},
        {"\x00unknown": []},
    ],
)
def test_what_encode_never_makes_is_refused(message: object) -> None:
    with pytest.raises(WireError):
        decode(message)


STATS = Stats(3, 0.0, 1.0, 0.5, 0.1, 1.0, 0.0, 0, 0)


@pytest.mark.parametrize(
    "message",
    [
        OpenFile("/m.keras", ["/tmp/kerascope-worker-x"]),
        ReadArray(3, "/tmp/x.npy"),
        ReadStats(0, "/tmp/y.npy"),
        FindExtent(7),
        ScanRun([("/run/a.h5", None), ("/run/b.h5", "/run/a.h5")], ["/tmp/x"]),
    ],
)
def test_each_request_kind_crosses_as_itself(message: Any) -> None:
    assert request_from_wire(loads(dumps(message))) == message


@pytest.mark.parametrize(
    "message",
    [
        Confined(Confinement({"seccomp": "on"}, {"landlock": "none here"})),
        Sniffed("keras_zip", "a .keras file", True),
        Preloading(),
        SnapshotRead(0, {"version": 4}, None),
        SnapshotRead(1, None, Failed("CorruptFile", "b.h5 is cut short")),
        ScanDone(2),
        Ready(),
        ArrayAt("bfloat16", Extent("/m.safetensors", 128, "<u2")),
        ArrayAt("float32", None),
        ArrayFile("float32", STATS),
        StatsOnly(STATS),
        Failed("CorruptFile", "m.h5 is damaged"),
        Failed("", "IndexError: list index out of range"),
        OutOfMemory(1 << 30),
    ],
)
def test_each_reply_kind_crosses_as_itself(message: Any) -> None:
    assert reply_from_wire(loads(dumps(message))) == message


@pytest.mark.parametrize(
    "data",
    [
        None,
        [],
        {},
        {"ok": {"dtype": "float32"}},  # the old, untyped replies
        {"type": "npy", "dtype": "float32"},
        {"type": "npy", "dtype": "float32", "stats": {**STATS.as_dict(), "min": "0"}},
        {"type": "npy", "dtype": "float32", "stats": {**STATS.as_dict(), "extra": 1}},
        {"type": "npy", "dtype": 4, "stats": STATS.as_dict()},
        {"type": "npy", "dtype": "float32", "stats": STATS.as_dict(), "extra": 1},
        {
            "type": "extent",
            "dtype": "float32",
            "extent": {"path": "/x", "offset": True, "dtype": "<f4"},
        },  # fmt: skip
        {"type": "extent", "dtype": "float32", "extent": "/etc/passwd"},
        {"type": "error", "kind": "SystemExit", "message": "x"},
        {"type": "error", "kind": "KerascopeError", "message": "x"},
        {"type": "memory", "limit": "all"},
        {"type": "sniffed", "format": "x", "label": "y", "preload": 1},
        {"type": "array", "index": 0, "out": "/x"},  # a request is no reply
        {"type": "__class__"},
        {"type": "confined", "confinement": {"applied": {"root": "yes"}, "missing": {}}},
        {"type": "snapshot", "index": 0, "entry": {}, "error": {"kind": "", "message": "x"}},
        {"type": "snapshot", "index": 0, "entry": None, "error": None},
        {"type": "snapshot", "index": 0, "entry": None, "error": {"kind": "Exit", "message": ""}},
        {"type": "scan_done", "count": "2"},
    ],
)
def test_a_reply_that_is_not_one_of_the_kinds_is_refused(data: Any) -> None:
    with pytest.raises(WireError):
        reply_from_wire(data)


@pytest.mark.parametrize(
    "data",
    [
        {"type": "array", "index": -1, "out": "/x"},
        {"type": "array", "index": True, "out": "/x"},
        {"type": "array", "index": 1.0, "out": "/x"},
        {"type": "stats", "index": 0},
        {"type": "open", "path": 3, "folders": ["/tmp/x"]},
        {"type": "open", "path": "/x"},
        {"type": "open", "path": "/x", "folders": []},
        {"op": "open", "path": "/x"},
        {"type": "scan_run", "files": [["/a.h5"]], "folders": ["/tmp/x"]},
        {"type": "scan_run", "files": [["/a.h5", 3]], "folders": ["/tmp/x"]},
    ],
)
def test_a_request_that_is_not_one_of_the_kinds_is_refused(data: Any) -> None:
    with pytest.raises(WireError):
        request_from_wire(data)


def test_errors_cross_as_the_allowed_types_only() -> None:
    back = error_of(failed(CorruptFile("the file is cut short")))
    assert type(back) is CorruptFile and str(back) == "the file is cut short"
    assert type(error_of(failed(UnsafeModel("no")))) is UnsafeModel
    # Any other failure crosses as what it says of the file, never a Python exception's name.
    other = failed(IndexError("list index out of range"))
    assert error_of(other) is None and other.kind == ""
    assert other.message.startswith("it refers to parts it does not have")
    assert "IndexError" not in other.message


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda w: w.update(shape={"\x00tuple": [-1]}), "shape"),
        (lambda w: w.update(loader="x"), "fields"),
        (lambda w: w.pop("dtype"), "fields"),
        (lambda w: w.update(role="weapon"), "role"),
        (lambda w: w.update(trainable=1), "trainable"),
        (lambda w: w.update(ref={"\x00record": ["ArrayRef", {"index": -2}]}), "ref"),
        (
            lambda w: w.update(ref={"\x00record": ["ArrayRef", {"index": 0, "layout": "OI"}]}),
            "derived",
        ),  # fmt: skip
        (lambda w: w.update(ref=0), "ref"),
        (lambda w: w.update(quantization="q"), "quantization"),
        (lambda w: w.update(optimizer="Adam"), "optimizer"),
        (lambda w: w["optimizer"]["\x00record"][1].update(iterations=1.5), "iterations"),
        (lambda w: w["optimizer"]["\x00record"][1].update(hyper={"\x00tuple": [1]}), "settings"),
        (lambda w: w["optimizer"]["\x00record"][1].update(slots={"\x00tuple": ["m"]}), "slots"),
        (
            lambda w: w["optimizer"]["\x00record"][1]["slots"]["\x00tuple"][0]["\x00record"][
                1
            ].update(ref={"\x00record": ["ArrayRef", {"index": 1, "layout": "OI"}]}),
            "derived",
        ),
    ],
)
def test_manifests_are_type_checked(change: Any, match: str) -> None:
    message = _crossed(_records())
    change(message.layers[0]["weights"][0])
    with pytest.raises(WireError, match=match):
        rebuild(message, ArrayStore())


def test_manifest_layers_and_models_are_type_checked() -> None:
    for part, key, value in (("layer", "kind", "weapon"), ("layer", "config", [1]),
                             ("model", "notes", ["not a tuple"]), ("model", "graph", "g"),
                             ("model", "source", 3)):  # fmt: skip
        message = _crossed(_records())
        target = message.layers[0] if part == "layer" else message.model
        target[key] = value
        with pytest.raises(WireError):
            rebuild(message, ArrayStore())


def test_statistics_are_type_checked() -> None:
    good = STATS.as_dict()
    assert stats_from_wire(good) == STATS
    with pytest.raises(WireError):
        stats_from_wire({**good, "size": True})
