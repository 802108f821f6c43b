"""The two WeightStores answer alike: records opened through the worker are bound to its store,
which answers array, stats and extent as the in-process store does, keeps the worker alive
while any weight of it is held, and refuses a ref the records never named."""

from __future__ import annotations

import gc
from pathlib import Path

import numpy as np
import pytest

from kerascope.extraction import open_model
from kerascope.extraction.errors import CorruptFile
from kerascope.extraction.readers.store import ArrayStore
from kerascope.extraction.readers.worker import WorkerStore
from kerascope.extraction.records import ArrayRef


def test_both_stores_answer_array_stats_and_extent_alike(realworld: Path) -> None:
    path = realworld / "mnist_mlp.h5"
    isolated, local = open_model(path), open_model(path, isolate=False)
    assert isinstance(isolated.store, WorkerStore) and isinstance(local.store, ArrayStore)
    for (_, a), (_, b) in zip(isolated.iter_weights(), local.iter_weights(), strict=True):
        assert a.store is isolated.store and a.ref == b.ref
        assert a.stats() == b.stats() and not a.is_loaded  # statistics crossed as numbers
        assert isolated.store.extent(a.ref) == local.store.extent(b.ref) is not None
        np.testing.assert_array_equal(a.array(), b.array())
        assert a.is_loaded and isolated.store.loaded_bytes() >= a.nbytes
    kernel = isolated.layer("dense").weight("kernel")
    assert isolated.store.extent(kernel.keras_axes().ref) is not None  # (no layout: itself)
    view = ArrayRef(kernel.ref.index, layout="OI")
    assert isolated.store.extent(view) is None  # a derived view lies nowhere in the file


def test_a_weight_keeps_its_worker_alive_after_its_model_is_dropped(realworld: Path) -> None:
    path = realworld / "mnist_cnn.keras"
    weight = open_model(path).weighted_layers()[0].weight("kernel")
    gc.collect()
    assert weight.array().shape == weight.shape  # read through a worker still serving it
    assert weight.optimizer_slot("v").array().min() >= 0


def test_a_ref_the_records_never_named_is_refused(realworld: Path) -> None:
    model = open_model(realworld / "mnist_mlp.h5")
    with pytest.raises(CorruptFile, match="no array 999"):
        model.store.array(ArrayRef(999))
