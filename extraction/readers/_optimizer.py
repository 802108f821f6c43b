"""Optimizer state from model files, attached to the weights it belongs to.

Three ways files keep it:
- Keras 3 (``.keras``, ``.weights.h5``, and Keras 3 TF checkpoints): ``optimizer/vars/0..N``
  without names, in creation order (see ``extraction.optimizers``). Slots are matched to the
  model's trainable weights by that order and checked by shape, for the class the model config
  names (``compile_config``); without a config, the class is taken from the optimizer's saved
  name and the weights' order from where their data lies in the file (the order Keras wrote
  them). Whatever is guessed is said in a note.
- Legacy HDF5 (``.h5``): ``optimizer_weights`` lists every variable by name
  (``adam/sequential_dense_kernel_momentum``, Keras 2's ``Adam/dense/kernel/m:0``): matched by
  name to the weights' stored names, checked by shape.
- TF checkpoints written by Keras 2: slot variables recorded against the variable they belong to
  (``kernel/.OPTIMIZER_SLOT/optimizer/m``).

Decided edge cases:
- State that fits no weight (another model's, a layout Kerascope does not know) is not shown,
  and a note says how many arrays were left out; a weight's own arrays are never dropped.
- A learning-rate schedule is evaluated at the saved step count for the schedules Keras ships
  (``ExponentialDecay``, ``InverseTimeDecay``, ``PiecewiseConstantDecay``, ``CosineDecay``,
  ``PolynomialDecay``); another schedule leaves the learning rate unknown (a note says so).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import h5py

from ..optimizers import (
    BASE_GROUPS,
    SlotGroup,
    canonical,
    class_from_name,
    class_from_slots,
    facts,
    slot_groups,
)
from ..records import ArrayRef, LayerWeights, OptimizerSlot, OptimizerState, Weight
from ._h5 import (
    H5_ERRORS,
    DatasetSource,
    attr_list,
    attr_text,
    dataset_weight,
    is_dataset,
    is_group,
    one_line,
)
from ._keras_layout import Layout
from ._saved_graph import Graph
from .store import ArrayStore

HYPER_KEYS = ("learning_rate", "epsilon", "beta_1", "beta_2", "momentum", "rho",
              "initial_accumulator_value", "weight_decay")  # fmt: skip
"""Settings kept beside the slots (what the Optimizer view and its formulas need)."""


@dataclass(frozen=True)
class SavedArray:
    """One array of the optimizer's saved state, not yet read."""

    shape: tuple[int, ...]
    dtype: str
    ref: ArrayRef
    name: str = ""
    """The name the file gives it (legacy HDF5, TF checkpoints); empty for Keras 3."""


@dataclass(frozen=True)
class Described:
    """What a file says of its optimizer beside the arrays."""

    class_name: str | None
    """The Keras class from the model config; None when the file has no config."""
    config: Mapping[str, Any]
    """The optimizer's saved settings (empty without a config)."""
    name: str | None = None
    """The optimizer's own name (Keras 3 keeps it on ``optimizer/vars``)."""


def described(model_config: Any, key: str = "compile_config") -> Described:
    """The optimizer a model config names: Keras 3's ``compile_config.optimizer``, or a legacy
    file's ``training_config.optimizer_config`` (``key="training_config"``)."""
    compiled = model_config.get(key) if isinstance(model_config, Mapping) else None
    if not isinstance(compiled, Mapping):
        return Described(None, {})
    spec = compiled.get("optimizer" if key == "compile_config" else "optimizer_config")
    if not isinstance(spec, Mapping):
        return Described(None, {})
    name = spec.get("class_name")
    config = spec.get("config")
    config = config if isinstance(config, Mapping) else {}
    if isinstance(name, str):  # a registered spelling: "Custom>Adam", "keras.optimizers.Adam"
        name = name.rsplit(">", 1)[-1].rsplit(".", 1)[-1]
    return Described(name if isinstance(name, str) else None, config)


@dataclass
class Matched:
    """Slots found per weight (by the weight's stored array index), and what to tell."""

    slots: dict[int, list[tuple[str, SavedArray]]]
    class_name: str
    notes: list[str]


# --- Keras 3: by order and shape ---------------------------------------------------------------


def match_keras3(
    arrays: Sequence[SavedArray],
    candidates: Sequence[Sequence[Weight]],
    about: Described,
    pool: Sequence[Weight] = (),
) -> tuple[Matched, int | None, int | None] | None:
    """Slots of Keras 3's ``optimizer/vars`` for the weights that fit, trying each list of
    ``candidates`` (the trainable weights in the optimizer's order: the likeliest first), then
    the weights of ``pool`` (in order, with others among them) that fit the slots' shapes.

    Returns the match, and the indices in ``arrays`` of the step count and the learning rate
    (None when absent); None when the arrays fit no candidate list.
    """
    notes: list[str] = []
    iteration = 0 if arrays and arrays[0].shape == () else None
    lead = 0 if iteration is None else 1
    lr_index = lead if len(arrays) > lead and arrays[lead].shape == () else None
    lead += lr_index is not None
    class_name, guessed = about.class_name, False
    if class_name is None and about.name:
        class_name, guessed = class_from_name(about.name), True
    known = facts(class_name) if class_name else None
    fits: list[tuple[tuple[SlotGroup, ...], dict[int, list[tuple[str, SavedArray]]]]] = []
    skipped: list[int] = []
    if class_name is not None and known is not None:
        body = list(arrays[lead : len(arrays) - known.trailing_scalars])
        for tier in _plans(class_name, about.config, guessed):
            for groups in tier:
                found = next(
                    (f for f in (_lay_out(body, ws, groups) for ws in candidates) if f), None
                )
                if found is None and pool:
                    picked = _pick(body, pool, groups)
                    found = _lay_out(body, picked, groups) if picked else None
                    if found is not None and len(picked) < len(pool):
                        skipped.append(len(pool) - len(picked))
                if found is not None:
                    fits.append((groups, found))
            if fits:
                break  # the config's own layout, else the fewest optional groups that fit
    if fits:
        if guessed:
            notes.append(
                f"the optimizer's class ({class_name}) is taken from its saved name "
                f"{about.name!r}: the file has no model config"
            )
        if skipped:
            notes.append(
                f"optimizer slots are matched by shape to the weights in the file's order, "
                f"{skipped[0]} weights of unknown role left out (statistics, frozen weights)"
            )
        names = list(dict.fromkeys(", ".join(s for g in gs for s in g.slots) for gs, _ in fits))
        if len(names) > 1:
            notes.append(f"its slots could be {' or '.join(names)}: shown as {names[0]}")
        assert class_name is not None
        return Matched(fits[0][1], class_name, notes), iteration, lr_index
    for weights in candidates:
        found, k = _by_shape(list(arrays[lead:]), weights)
        if found is not None:
            what = (
                f"the state of {class_name} does not have the layout Kerascope knows for it"
                if class_name
                else "the file does not say which optimizer this is"
            )
            notes.append(
                f"{what}: its {k} slot(s) per weight are matched by order and shape and named "
                "by position (slot_1 ...)"
            )
            return Matched(found, class_name or "unknown", notes), iteration, lr_index
    return None


def _plans(
    class_name: str, config: Mapping[str, Any], guessed: bool
) -> list[list[tuple[SlotGroup, ...]]]:
    """The slot layouts to try, in tiers (the first tier with a fit wins): the config's own;
    then every choice of the class's optional groups; then those with the base optimizer's
    (moving averages, gradient accumulators) too. Without a config, the first is skipped."""
    f = facts(class_name)
    assert f is not None
    own = [g.when for g in f.groups if g.when is not None]
    base = [g.when for g in BASE_GROUPS if g.when is not None]
    tiers: list[list[tuple[SlotGroup, ...]]] = []
    if not guessed:
        tiers.append([groups for groups in [slot_groups(class_name, config)] if groups])
    for keys in (own, [*own, *base]):
        tier: list[tuple[SlotGroup, ...]] = []
        choices = itertools.product((False, True), repeat=len(keys))
        for chosen in sorted(choices, key=lambda c: sum(c[len(own) :])):  # fewest base first
            groups = slot_groups(class_name, dict(zip(keys, chosen, strict=True)))
            if groups is not None and all(groups not in t for t in (*tiers, tier)):
                tier.append(groups)
        tiers.append(tier)
    return tiers


def _lay_out(
    body: list[SavedArray], weights: Sequence[Weight], groups: tuple[SlotGroup, ...]
) -> dict[int, list[tuple[str, SavedArray]]] | None:
    """The slots of each weight when ``body`` holds ``groups`` for ``weights`` in order, every
    shape checked; None when it does not."""
    if not weights or len(body) != sum(len(g.slots) for g in groups) * len(weights):
        return None
    found: dict[int, list[tuple[str, SavedArray]]] = {w.ref.index: [] for w in weights}
    at = 0
    for group in groups:
        for w in weights:
            for slot in group.slots:
                if body[at].shape != w.shape:
                    return None
                found[w.ref.index].append((slot, body[at]))
                at += 1
    return found


def _pick(
    body: list[SavedArray], pool: Sequence[Weight], groups: tuple[SlotGroup, ...]
) -> list[Weight]:
    """The weights of ``pool``, in order, whose shapes are those the first slot group gives
    each weight in turn (the others skipped); empty when they run out."""
    per_weight = sum(len(g.slots) for g in groups)
    if not groups or not per_weight or len(body) % per_weight:
        return []
    step = len(groups[0].slots)
    shapes = [body[i * step].shape for i in range(len(body) // per_weight)]
    picked: list[Weight] = []
    at = 0
    for shape in shapes:
        while at < len(pool) and pool[at].shape != shape:
            at += 1
        if at == len(pool):
            return []
        picked.append(pool[at])
        at += 1
    return picked


def _by_shape(
    body: list[SavedArray], weights: Sequence[Weight]
) -> tuple[dict[int, list[tuple[str, SavedArray]]] | None, int]:
    """Slots by order and shape alone: ``k`` per weight, interleaved or one block after
    another, whichever fits every shape (interleaved when both do)."""
    if not weights or len(body) % len(weights):
        return None, 0
    k = len(body) // len(weights)
    names = tuple(f"slot_{i + 1}" for i in range(k))
    for groups in ((SlotGroup(names),), tuple(SlotGroup((n,)) for n in names)):
        found = _lay_out(body, weights, groups)
        if found is not None:
            return found, k
    return None, k


# --- legacy HDF5 and Keras 2: by name ----------------------------------------------------------


_ITERATIONS = ("iter", "iteration", "iterations", "_iterations")
_LEARNING_RATE = ("learning_rate", "lr", "_learning_rate")


def match_by_name(
    arrays: Sequence[SavedArray], stored_names: Mapping[int, str], weights: Sequence[Weight],
    about: Described,
) -> tuple[Matched, SavedArray | None, dict[str, SavedArray]]:  # fmt: skip
    """Slots of named optimizer variables for the weights whose stored name they carry.

    Returns the match, the step count's array, and the arrays of scalar settings by name
    (``learning_rate``, ``beta_1`` ...).
    """
    prefix_names = {a.name.split("/", 1)[0] for a in arrays if "/" in a.name}
    class_name = about.class_name or next(
        (c for c in map(class_from_name, sorted(prefix_names)) if c), None
    )
    keys = {_flat(stored_names[w.ref.index]): w for w in weights if w.ref.index in stored_names}
    slots: dict[int, list[tuple[str, SavedArray]]] = {}
    iterations: SavedArray | None = None
    settings: dict[str, SavedArray] = {}
    left = 0
    for array in arrays:
        name = _local(array.name)
        if array.shape == () and "/" not in name:
            if name in _ITERATIONS:
                iterations = array
            else:
                settings["learning_rate" if name in _LEARNING_RATE else name] = array
            continue
        hit = _owner(name, keys)
        if hit is None or hit[0].shape != array.shape:
            left += 1
            continue
        weight, slot = hit
        slots.setdefault(weight.ref.index, []).append((canonical(class_name or "", slot), array))
    notes = []
    if left:
        notes.append(f"{left} optimizer arrays match no weight by name and shape; not shown")
    if about.class_name is None and class_name is not None:
        notes.append(f"the optimizer's class ({class_name}) is taken from its variables' names")
    return Matched(slots, class_name or "unknown", notes), iterations, settings


def _local(name: str) -> str:
    """A variable name without ``:0``, Keras 2's ``training/`` scope and the optimizer's own
    name (``training/Adam/dense/kernel/m:0`` -> ``dense/kernel/m``)."""
    name = name.split(":", 1)[0].removeprefix("training/")
    return name.split("/", 1)[1] if "/" in name else name


def _flat(name: str) -> str:
    return name.split(":", 1)[0].replace("/", "_")


def _owner(name: str, keys: Mapping[str, Weight]) -> tuple[Weight, str] | None:
    """The weight a slot variable named ``name`` belongs to, and the slot's stored name: Keras
    3's ``<model>_<layer>_<weight>_<slot>``, Keras 2's ``<var path>/<slot>`` or, since 2.11,
    ``<slot>/<var path>`` (``keys``: each weight's stored name, flattened)."""
    flat = _flat(name)
    for key in sorted(keys, key=len, reverse=True):  # the longest first: dense_1 before dense
        if flat.startswith(key + "_"):
            return keys[key], flat[len(key) + 1 :]
        if flat.endswith("_" + key):
            return keys[key], flat[: -len(key) - 1]
    return None


# --- HDF5 files: Keras 3's optimizer/vars, legacy optimizer_weights ----------------------------


KERAS3_GROUP = "optimizer"
"""Where Keras 3's saving library keeps the optimizer in a weights file (``vars/0..N``)."""
LEGACY_GROUP = "optimizer_weights"
"""Where a legacy ``.h5`` keeps the optimizer's variables, listed in ``weight_names``."""
MAX_OPTIMIZER_ARRAYS = 1_000_000
"""More optimizer arrays than this is no real optimizer's state: not read."""


def read_hdf5_optimizer(root: Any, layout: Layout, about: Described, *, ordered: bool) -> None:
    """Attach the optimizer state under ``root`` (Keras 3's or a legacy file's) to
    ``layout.layers``, adding notes; nothing when the file keeps none.

    ``ordered``: the layers are in the model's order (a config said it); otherwise the weights'
    order is taken from where their data lies in the file (the order Keras wrote them).
    """
    try:
        if KERAS3_GROUP in root and is_group(root[KERAS3_GROUP]):
            _read_keras3(root[KERAS3_GROUP], layout, about, ordered)
        elif LEGACY_GROUP in root and is_group(root[LEGACY_GROUP]):
            _read_legacy(root[LEGACY_GROUP], layout, about)
    except H5_ERRORS as exc:
        layout.notes.append(f"the optimizer state cannot be read ({one_line(exc)}); not shown")


def _read_keras3(group: Any, layout: Layout, about: Described, ordered: bool) -> None:
    own = group.get("vars")
    if own is None or not is_group(own):
        return
    keys = sorted((k for k in own if k.isdigit()), key=int)[:MAX_OPTIMIZER_ARRAYS]
    if not keys:
        return
    arrays = [_saved(own[k], f"optimizer/vars/{k}", layout) for k in keys if is_dataset(own[k])]
    name = attr_text(own, "name")
    about = replace(about, name=name) if about.name is None and name else about
    weights = [w for la in layout.layers for w in la.weights]
    trainable = [w for w in weights if w.trainable]
    frozen = {
        id(w) for la in layout.layers if la.config.get("trainable") is False for w in la.weights
    }
    candidates = [[w for w in trainable if id(w) not in frozen], trainable]
    if not ordered:
        candidates = [_file_order(ws, layout) for ws in candidates]
    found = match_keras3(arrays, candidates, about, pool=candidates[-1])
    if found is None:
        layout.notes.append(
            f"the file keeps {len(arrays)} optimizer arrays that fit none of its weights by "
            "order and shape; not shown"
        )
        return
    matched, iteration, lr_index = found
    steps = arrays[iteration] if iteration is not None else None
    iterations = _scalar_int(steps, layout.store) if steps is not None else None
    lr = _scalar(arrays[lr_index], layout.store) if lr_index is not None else None
    _finish(layout, matched, iterations, about, lr, steps)
    if not ordered and not matched.notes:
        layout.notes.append(
            "a weights-only file: optimizer slots are matched to weights in the order their "
            "data lies in the file, and by shape"
        )


def _read_legacy(group: Any, layout: Layout, about: Described) -> None:
    names = attr_list(group, "weight_names")[:MAX_OPTIMIZER_ARRAYS]
    arrays = []
    for name in names:
        ds = group.get(name)
        if ds is not None and is_dataset(ds):
            arrays.append(replace(_saved(ds, name, layout), name=name))
    if not arrays:
        return
    weights = [w for la in layout.layers for w in la.weights]
    matched, iterations_array, settings = match_by_name(arrays, layout.stored_names, weights, about)
    store = layout.store
    iterations = _scalar_int(iterations_array, store) if iterations_array is not None else None
    lr_array = settings.get("learning_rate")
    lr = _scalar(lr_array, store) if lr_array is not None else None
    values = {k: _scalar(a, store) for k, a in settings.items() if k in HYPER_KEYS}
    about = replace(
        about, config={**about.config, **{k: v for k, v in values.items() if v is not None}}
    )
    _finish(layout, matched, iterations, about, lr, iterations_array)


def _finish(
    layout: Layout,
    matched: Matched,
    iterations: int | None,
    about: Described,
    lr: float | None,
    steps: SavedArray | None,
) -> None:
    if not matched.slots:
        layout.notes.extend(matched.notes)
        return
    hyper, notes = hyper_settings(about, iterations, lr)
    layout.layers[:] = attach(layout.layers, matched, iterations, hyper, steps)
    layout.notes.extend([*matched.notes, *notes])


def _saved(dataset: Any, name: str, layout: Layout) -> SavedArray:
    w = dataset_weight(name, dataset, layout.budget, layout.label, layout.store)
    return SavedArray(w.shape, w.dtype, w.ref)


def _scalar(array: SavedArray, store: ArrayStore) -> float | None:
    """The value of a saved scalar (a step count, a setting); None when it is not one."""
    if array.shape != ():
        return None
    try:
        value = float(store.array(array.ref))
    except Exception:  # a damaged scalar only loses the step count  # noqa: BLE001
        return None
    return value if math.isfinite(value) else None


def _scalar_int(array: SavedArray, store: ArrayStore) -> int | None:
    value = _scalar(array, store)
    return int(value) if value is not None and value >= 0 else None


def _file_order(weights: list[Weight], layout: Layout) -> list[Weight]:
    """``weights`` layer by layer in the order Keras wrote the layers (their datasets' object
    headers lie in the file in that order), each layer's own in the order its record lists
    them (Keras writes a layer's sub-layers by name, not in the order it trains them); as
    given when a weight's place is not known."""
    wanted = {id(w) for w in weights}
    placed: list[tuple[int, list[Weight]]] = []
    for layer in layout.layers:
        own = [w for w in layer.weights if id(w) in wanted]
        if not own:
            continue
        places = [_header_address(layout.store.source(w.ref)) for w in own]
        if any(p is None for p in places):
            return list(weights)
        placed.append((min(p for p in places if p is not None), own))
    return [w for _, own in sorted(placed, key=lambda p: p[0]) for w in own]


def _header_address(source: Any) -> int | None:
    if not isinstance(source, DatasetSource):
        return None
    try:
        return int(h5py.h5o.get_info(source.dataset.id).addr)
    except (*H5_ERRORS, AttributeError, TypeError):
        return None


# --- TF checkpoints ----------------------------------------------------------------------------


_VARIABLES = "_variables"
"""A Keras 3 (or Keras 2.11+) optimizer's list of its variables in a TF checkpoint, in the
order of ``optimizer/vars``."""
_TRAINABLE = "_trainable_variables"
"""Keras 3's list of the model's trainable variables, in the order its slots follow (Keras 2
keeps none: the weights' own order is taken)."""


def read_checkpoint_optimizer(
    graph: Graph,
    by_node: Mapping[int, int],
    layers: Sequence[LayerWeights],
    make: Callable[[str, str], SavedArray],
    about: Described,
    store: ArrayStore,
) -> tuple[tuple[LayerWeights, ...], list[str]]:
    """``layers`` with the checkpoint's optimizer state attached, and notes.

    Args:
        graph: the checkpoint's object graph.
        by_node: a weight's variable node -> its stored array index.
        layers: the records read.
        make: ``(name, checkpoint key) -> SavedArray`` (size-checked, added to ``store``).
        about: the optimizer a SavedModel's Keras metadata names, if any.
        store: the records' store (the step count and settings are read now).
    """
    weights = {w.ref.index: w for la in layers for w in la.weights}
    if graph.slots:  # Keras 2: slot variables recorded against their variables
        slots: dict[int, list[tuple[str, SavedArray]]] = {}
        names = {s.name for s in graph.slots}
        class_name = about.class_name or class_from_slots(names)
        left = 0
        for slot in graph.slots:
            index = by_node.get(slot.owner)
            array = make(slot.name, slot.key)
            if index is None or index not in weights or weights[index].shape != array.shape:
                left += 1
                continue
            slots.setdefault(index, []).append((canonical(class_name or "", slot.name), array))
        notes = [f"{left} optimizer slots belong to no weight read; not shown"] if left else []
        if about.class_name is None and class_name:
            notes.append(f"the optimizer's class ({class_name}) is inferred from its slots' names")
        matched = Matched(slots, class_name or "unknown", notes)
        optimizer = graph.slots[0].optimizer
        scalars = {name: make(name, graph.keys[node]) for node, name in graph.children(optimizer)
                   if node in graph.keys}  # fmt: skip
    else:
        found = _keras3_checkpoint(graph, by_node, weights, make, about)
        if found is None:
            return tuple(layers), []
        matched, scalars = found
    steps = next((scalars[k] for k in _ITERATIONS if k in scalars), None)
    iterations = _scalar_int(steps, store) if steps is not None else None
    lr = next((_scalar(scalars[k], store) for k in _LEARNING_RATE if k in scalars), None)
    values = {k: _scalar(a, store) for k, a in scalars.items() if k in HYPER_KEYS}
    config = {**{k: v for k, v in values.items() if v is not None}, **about.config}
    hyper, notes = hyper_settings(replace(about, config=config), iterations, lr)
    if not matched.slots:
        return tuple(layers), matched.notes
    attached = attach(layers, matched, iterations, hyper, steps)
    return attached, [*matched.notes, *notes]


def _keras3_checkpoint(
    graph: Graph,
    by_node: Mapping[int, int],
    weights: Mapping[int, Weight],
    make: Callable[[str, str], SavedArray],
    about: Described,
) -> tuple[Matched, dict[str, SavedArray]] | None:
    """A Keras 3 (or Keras 2.11+) optimizer's state in a TF checkpoint: ``_variables`` in
    creation order, for the model's trainable weights in the order ``_trainable_variables``
    lists them, else their own."""
    for node in range(graph.node_count):
        kids = {name: child for child, name in graph.children(node)}
        listed = graph.children(kids[_VARIABLES]) if _VARIABLES in kids else []
        if not any(name.isdigit() for _, name in listed):
            continue
        if _TRAINABLE in kids:
            numbered = [(int(n), c) for c, n in graph.children(kids[_TRAINABLE]) if n.isdigit()]
            order = [c for _, c in sorted(numbered)]
            trainable = [weights[by_node[n]] for n in order if by_node.get(n) in weights]
            if len(trainable) != len(order):
                return None
        else:
            trainable = [w for w in weights.values() if w.trainable]
        kept = sorted((int(n), c) for c, n in listed if n.isdigit() and c in graph.keys)
        arrays = [make(f"optimizer/vars/{i}", graph.keys[child]) for i, child in kept]
        found = match_keras3(arrays, [trainable], about)
        if found is None:
            return None
        matched, iteration, lr_index = found
        scalars = {}
        if iteration is not None:
            scalars["iterations"] = arrays[iteration]
        if lr_index is not None:
            scalars["learning_rate"] = arrays[lr_index]
        elif kids.get("_learning_rate") in graph.keys:  # Keras 2.11+ keeps it apart
            scalars["learning_rate"] = make("learning_rate", graph.keys[kids["_learning_rate"]])
        return matched, scalars
    return None


# --- putting it on the records -----------------------------------------------------------------


def attach(
    layers: Sequence[LayerWeights],
    matched: Matched,
    iterations: int | None,
    hyper: Mapping[str, float],
    steps: SavedArray | None = None,
) -> tuple[LayerWeights, ...]:
    """``layers`` with each weight that has slots carrying its ``OptimizerState`` (``steps``:
    the saved step count's array, if any)."""
    settings = tuple((k, float(v)) for k, v in sorted(hyper.items()) if math.isfinite(v))

    def with_state(w: Weight) -> Weight:
        found = matched.slots.get(w.ref.index)
        if not found or not w.ref.is_stored:
            return w
        slots = tuple(
            OptimizerSlot(_unique(name, [n for n, _ in found[:i]]), a.shape, a.dtype, a.ref)
            for i, (name, a) in enumerate(found)
        )
        state = OptimizerState(
            matched.class_name, iterations, slots, settings, steps.ref if steps else None
        )
        return replace(w, optimizer=state)

    return tuple(replace(la, weights=tuple(with_state(w) for w in la.weights)) for la in layers)


def _unique(name: str, before: list[str]) -> str:
    out, n = name, 1
    while out in before:
        out, n = f"{name}_{n}", n + 1
    return out


def hyper_settings(
    about: Described, iterations: int | None, learning_rate: float | None
) -> tuple[dict[str, float], list[str]]:
    """The optimizer's float settings (``HYPER_KEYS``), the learning rate as saved (a stored
    variable wins over the config) or its schedule evaluated at ``iterations``; and notes."""
    out: dict[str, float] = {}
    notes: list[str] = []
    for key in HYPER_KEYS:
        value = about.config.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            out[key] = float(value)
    if learning_rate is not None:
        out["learning_rate"] = learning_rate
    elif isinstance(about.config.get("learning_rate"), Mapping):
        schedule = about.config["learning_rate"]
        value = evaluate_schedule(schedule, iterations)
        name = str(schedule.get("class_name", "a schedule"))
        if value is None:
            notes.append(f"the learning rate follows {name}, which Kerascope does not evaluate")
        else:
            out["learning_rate"] = value
            notes.append(f"the learning rate is {name} at step {iterations:,}: {value:.3g}")
    return out, notes


def evaluate_schedule(spec: Mapping[str, Any], step: int | None) -> float | None:
    """A Keras learning-rate schedule's value at ``step`` (its formula, as Keras computes it);
    None for a schedule not listed in the module docstring or a step not known."""
    name, config = spec.get("class_name"), spec.get("config")
    if step is None or not isinstance(config, Mapping) or not isinstance(name, str):
        return None
    rule = _SCHEDULES.get(name.rsplit(">", 1)[-1])
    try:
        return float(rule(config, float(step))) if rule is not None else None
    except (TypeError, ValueError, KeyError, ZeroDivisionError, OverflowError):
        return None


def _exponential(c: Mapping[str, Any], t: float) -> float:
    p = t / float(c["decay_steps"])
    p = math.floor(p) if c.get("staircase") else p
    return float(c["initial_learning_rate"]) * float(float(c["decay_rate"]) ** p)


def _inverse_time(c: Mapping[str, Any], t: float) -> float:
    p = t / float(c["decay_steps"])
    p = math.floor(p) if c.get("staircase") else p
    return float(c["initial_learning_rate"]) / (1 + float(c["decay_rate"]) * p)


def _piecewise(c: Mapping[str, Any], t: float) -> float:
    bounds, values = list(c["boundaries"]), list(c["values"])
    for bound, value in zip(bounds, values, strict=False):
        if t <= bound:
            return float(value)
    return float(values[len(bounds)])


def _cosine(c: Mapping[str, Any], t: float) -> float:
    warmup = float(c.get("warmup_steps") or 0)
    initial = float(c["initial_learning_rate"])
    if warmup and t < warmup:
        target = float(c.get("warmup_target") or initial)
        return initial + (target - initial) * t / warmup
    start = float(c.get("warmup_target") or initial) if warmup else initial
    p = min(t - warmup, float(c["decay_steps"])) / float(c["decay_steps"])
    alpha = float(c.get("alpha") or 0.0)
    return start * ((1 - alpha) * 0.5 * (1 + math.cos(math.pi * p)) + alpha)


def _polynomial(c: Mapping[str, Any], t: float) -> float:
    steps = float(c["decay_steps"])
    if c.get("cycle"):
        steps = steps * max(1.0, math.ceil(t / steps))
    else:
        t = min(t, steps)
    initial, end = float(c["initial_learning_rate"]), float(c.get("end_learning_rate", 0.0001))
    return (initial - end) * float((1 - t / steps) ** float(c.get("power", 1.0))) + end


_SCHEDULES: dict[str, Callable[[Mapping[str, Any], float], float]] = {
    "ExponentialDecay": _exponential,
    "InverseTimeDecay": _inverse_time,
    "PiecewiseConstantDecay": _piecewise,
    "CosineDecay": _cosine,
    "PolynomialDecay": _polynomial,
}
