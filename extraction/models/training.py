"""Train a small CNN from a few knobs, keeping a weight snapshot per epoch.

Two tasks: scikit-learn's 8x8 digits (``digits``), or whitened RGB patches of its two sample
photos labelled by photo and edge orientation (``photos``, see ``photo_edges``), where the
first layer's 7x7 filters visibly become oriented edge and colour detectors within a few epochs.

The lesson is to watch filters go from random to edge detectors, so the run keeps the weights
before training (epoch 0) and after every epoch, plus the loss and accuracy history, and turns
any kept snapshot into ``ModelWeights`` records the ordinary views draw.

Memory is bounded (decided, tested): snapshots are plain numpy copies, and their total size
never passes ``max_bytes`` (default ``DEFAULT_MAX_BYTES``, 64 MB; the default knobs take
about 0.1 MB per epoch). When the next snapshot would pass it, every second kept snapshot
after epoch 0 is dropped (epoch 0 and the newest always stay), so the kept epochs stay evenly
spread over the run; ``TrainingRun.epochs`` lists those kept. A cap too small for two
snapshots keeps only the newest; a single snapshot larger than the cap is refused up front
with ``ValueError``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np

from ..readers.store import ArrayStore
from ..records import Array, ModelWeights
from .demos import compile_classifier, digits_data, epoch_callback

Optimizer = Literal["adam", "sgd", "rmsprop"]
OPTIMIZERS: tuple[Optimizer, ...] = ("adam", "sgd", "rmsprop")
Task = Literal["digits", "photos"]
TASKS: tuple[Task, ...] = ("digits", "photos")
CONV1_DECAY = 3e-3
"""L2 weight decay on ``conv1`` in the photos task: it fades the random start's speckle that
no gradient touches, so what remains is what the filters learned."""
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
Snapshot = dict[tuple[str, str], Array]
"""One epoch's arrays by (layer path, weight name)."""


@dataclass(frozen=True)
class Knobs:
    """The architecture and training choices a user makes."""

    conv_filters: int = 8
    """Filters per conv layer."""
    kernel_size: int = 3
    """Side of the square conv kernels."""
    depth: int = 1
    """Conv layers, each ``conv_filters`` wide (``conv1``, ``conv2`` ...)."""
    dense_units: int = 32
    """Units of the hidden Dense layer."""
    epochs: int = 10
    """Passes over the 1,347 training digits."""
    learning_rate: float = 3e-3
    """The optimizer's step size."""
    optimizer: Optimizer = "adam"
    """Which Keras optimizer."""
    seed: int = 7
    """Same seed and knobs, same run."""
    task: Task = "digits"
    """What the network learns: ``digits`` or ``photos`` (patches of photos, in colour)."""

    def check(self) -> None:
        """Raise ``ValueError`` naming the first knob out of range."""
        limits = {
            "conv_filters": (1, 128),
            "kernel_size": (1, 8),
            "depth": (1, 4),
            "dense_units": (1, 1024),
            "epochs": (1, 200),
        }
        for name, (lo, hi) in limits.items():
            value = getattr(self, name)
            if not lo <= value <= hi:
                raise ValueError(f"{name} must be between {lo} and {hi}; received {value}")
        if not 0 < self.learning_rate <= 1:
            raise ValueError(f"learning_rate must be in (0, 1]; received {self.learning_rate}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}; received {self.optimizer!r}")
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}; received {self.task!r}")


@dataclass(frozen=True)
class EpochLog:
    """Loss and accuracy after one epoch (epoch 0: before training, evaluated)."""

    epoch: int
    loss: float
    accuracy: float
    val_loss: float
    val_accuracy: float


@dataclass(frozen=True)
class TrainingRun:
    """A finished (or interrupted) run: history, kept snapshots, the structure to rebuild them."""

    knobs: Knobs
    history: tuple[EpochLog, ...]
    """One entry per epoch, 0 included."""
    snapshots: dict[int, Snapshot] = field(repr=False)
    """Kept epochs' arrays."""
    structure: ModelWeights = field(repr=False)
    """The layers (names, kinds, configs) every snapshot shares."""
    model: Any = field(default=None, repr=False)
    """The trained ``keras.Model`` (runnable, for activations); None for a run read back."""
    classes: int = 0
    """How many labels the task has (guessing at random scores ``1 / classes``)."""
    majority: float = math.nan
    """The share of held-out samples with the most common label: what always answering it
    scores."""
    majority_label: str = ""
    """That label's name."""

    @property
    def epochs(self) -> list[int]:
        """The kept epochs, ascending."""
        return sorted(self.snapshots)

    @property
    def nbytes(self) -> int:
        """Bytes the kept snapshots take."""
        return sum(_snapshot_bytes(s) for s in self.snapshots.values())

    def weights_at(self, epoch: int) -> ModelWeights:
        """The records of a kept epoch, for the ordinary views.

        Raises:
            KeyError: the epoch was not kept (the message lists those that were).
        """
        if epoch not in self.snapshots:
            raise KeyError(f"epoch {epoch} was not kept; kept epochs are {self.epochs}")
        snap = self.snapshots[epoch]
        store = ArrayStore()
        layers = tuple(
            replace(
                layer,
                weights=tuple(
                    replace(w, ref=store.add(snap[(layer.path, w.name)]), store=store)
                    for w in layer.weights
                ),
            )
            for layer in self.structure.layers
        )
        return replace(
            self.structure,
            source=f"training run, epoch {epoch}",
            name=f"epoch {epoch}",
            layers=layers,
            live_model=None,
            notes=(f"weights after epoch {epoch} of a training run",),
            store=store,
        )


def default_knobs(task: Task) -> Knobs:
    """The knobs the Train tab starts from: for the photos task, 16 7x7 filters and 8 epochs
    (edge detectors in under a minute on two busy cores; 0.85-0.88 held-out accuracy)."""
    if task == "photos":
        return Knobs(conv_filters=16, kernel_size=7, epochs=8, task="photos")
    return Knobs()


def build_model(knobs: Knobs) -> Any:
    """The compiled CNN for ``knobs``: digits (input 8x8x1, 10 classes, flattened into the
    Dense layer) or photos (input 24x24x3, 8 classes, ``conv1`` with weight decay, averaged over
    positions before the Dense layer, so only what the filters see counts, not where)."""
    import keras
    from keras import layers

    from .photo_edges import CLASSES, PATCH

    knobs.check()
    photos = knobs.task == "photos"
    shape = (PATCH, PATCH, 3) if photos else (8, 8, 1)
    parts: list[Any] = [keras.Input(shape, name="patch" if photos else "image")]
    for i in range(knobs.depth):
        first_on_photos = photos and i == 0
        parts.append(
            layers.Conv2D(
                knobs.conv_filters,
                knobs.kernel_size,
                # Photos: conv1 steps 2 pixels, as AlexNet's first layer steps 4; the filters
                # learn the same, at a quarter of the work (minutes become seconds).
                strides=2 if first_on_photos else 1,
                padding="same",
                activation="relu",
                kernel_regularizer=keras.regularizers.L2(CONV1_DECAY) if first_on_photos else None,
                name=f"conv{i + 1}",
            )
        )
    pool = (
        layers.GlobalAveragePooling2D(name="average") if photos else layers.Flatten(name="flatten")
    )
    parts += [
        pool,
        layers.Dense(knobs.dense_units, activation="relu", name="dense"),
        layers.Dense(
            len(CLASSES) if photos else 10,
            activation="softmax",
            name="label" if photos else "digit",
        ),
    ]
    model = keras.Sequential(parts, name="trained_photos" if photos else "trained_digits")
    return compile_classifier(model, knobs.learning_rate, knobs.optimizer)


def train(
    knobs: Knobs,
    *,
    on_epoch: Callable[[EpochLog, int], None] | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> TrainingRun:
    """Train the CNN of ``knobs``; ``on_epoch(log, total_epochs)`` after each epoch.

    Raises:
        ValueError: a knob out of range, or one snapshot larger than ``max_bytes``.
    """
    import keras

    from ..readers.live import read_live

    knobs.check()
    keras.utils.set_random_seed(knobs.seed)
    x_tr, y_tr, x_te, y_te = task_data(knobs)
    model = build_model(knobs)
    structure = read_live(model, source="training run")
    live = structure.store
    assert isinstance(live, ArrayStore)  # read_live's
    names = task_classes(knobs.task)
    counts = np.bincount(np.asarray(y_te, dtype=np.int64), minlength=len(names))
    weights = list(structure.iter_weights())
    need = sum(w.nbytes for _, w in weights)
    if need > max_bytes:
        raise ValueError(f"one snapshot takes {need:,} bytes, more than the cap of {max_bytes:,}")
    snapshots: dict[int, Snapshot] = {}
    history: list[EpochLog] = []

    def keep(epoch: int, logs: dict[str, float]) -> None:
        # Each epoch's values as they are now, not the store's first read.
        snap = {(layer.path, w.name): live.source(w.ref).read() for layer, w in weights}
        while snapshots and _total(snapshots) + need > max_bytes:
            _thin(snapshots)
        snapshots[epoch] = snap
        log = EpochLog(
            epoch,
            *(
                float(logs.get(k, math.nan))
                for k in ("loss", "accuracy", "val_loss", "val_accuracy")
            ),
        )
        history.append(log)
        if on_epoch is not None:
            on_epoch(log, knobs.epochs)

    train_eval = model.evaluate(x_tr, y_tr, verbose=0, return_dict=True)
    val_eval = model.evaluate(x_te, y_te, verbose=0, return_dict=True)
    keep(0, {**train_eval, **{f"val_{k}": v for k, v in val_eval.items()}})

    model.fit(
        x_tr,
        y_tr,
        epochs=knobs.epochs,
        batch_size=64 if knobs.task == "photos" else 32,
        verbose=0,
        validation_data=(x_te, y_te),
        callbacks=[epoch_callback(keep)],
    )
    return TrainingRun(
        knobs,
        tuple(history),
        snapshots,
        structure,
        model,
        classes=len(names),
        majority=float(counts.max() / counts.sum()),
        majority_label=names[int(counts.argmax())],
    )


def task_classes(task: Task) -> tuple[str, ...]:
    """The names of a task's labels, by index."""
    if task == "photos":
        from .photo_edges import CLASSES

        return CLASSES
    return tuple(f"the digit {d}" for d in range(10))


def run_structure(knobs: Knobs) -> ModelWeights:
    """The layers (names, kinds, configs) of the network ``knobs`` build, untrained: what every
    snapshot of a run of those knobs shares."""
    from ..readers.live import read_live

    return read_live(build_model(knobs), source="training run")


def task_data(knobs: Knobs) -> tuple[Array, Array, Array, Array]:
    """``(x_train, y_train, x_test, y_test)`` of the knobs' task (same seed, same split)."""
    if knobs.task == "photos":
        from .photo_edges import edge_patches

        return edge_patches(knobs.seed)
    return digits_data(knobs.seed, images=True)


def _snapshot_bytes(snap: Snapshot) -> int:
    return sum(int(np.asarray(a).nbytes) for a in snap.values())


def _total(snapshots: dict[int, Snapshot]) -> int:
    return sum(_snapshot_bytes(s) for s in snapshots.values())


def _thin(snapshots: dict[int, Snapshot]) -> None:
    """Drop every second kept epoch between the first and the last; with only those two left,
    the last goes (the snapshot being added replaces it as the newest)."""
    kept = sorted(snapshots)
    if len(kept) <= 1:
        snapshots.clear()
        return
    drop = kept[1:-1][::2] or kept[-1:]
    for epoch in drop:
        del snapshots[epoch]
