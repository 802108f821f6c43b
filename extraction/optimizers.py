"""Every fact about Keras optimizers' saved state, once: which slots each class keeps per
trainable weight, in what order Keras 3 creates them, what Keras 2 and TensorFlow call them, and
which slot is the second moment of the gradients.

Keras 3 saves an optimizer's variables as ``optimizer/vars/0..N`` without names, in the order
it created them: ``iteration``, then ``learning_rate`` (unless it is a schedule), then, when
set, an ``average`` per weight (``use_ema``) and a ``gradient_accumulator`` per weight
(``gradient_accumulation_steps``), then the class's own slots: each group below in turn, the
slots of one group interleaved per weight (Adam: ``m`` and ``v`` of the first weight, then of
the second ...), each weight in the order of the model's trainable weights.

Slot names here are the ones practitioners use (``m``, ``v``, ``momentum``); the names files
use (Keras 3's ``momentum``/``velocity``, Keras 2's ``m``/``v``/``rms``) map to them per class.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

StepRule = Literal["adam", "adamax", "momentum"]
"""How a class's next update follows from its slots (see ``step_of``)."""


@dataclass(frozen=True)
class SlotGroup:
    """Slots Keras 3 creates together, interleaved per weight."""

    slots: tuple[str, ...]
    """Their names here, in creation order."""
    when: str | None = None
    """A config key that must be set (non-zero, true) for Keras to create them."""


@dataclass(frozen=True)
class OptimizerFacts:
    """What one optimizer class keeps per weight and what it means."""

    class_name: str
    groups: tuple[SlotGroup, ...]
    """Its own slot groups, in Keras 3's creation order."""
    names: Mapping[str, str]
    """Names files give its slots (Keras 3, Keras 2, TF checkpoints) -> the name here."""
    second_moment: str | None = None
    """The slot holding a running mean of squared gradients: its square root is the gradient
    RMS (bias-corrected with ``beta_2`` where the class corrects it)."""
    step: StepRule | None = None
    """How the next update follows from the slots; None: it needs the gradient itself."""
    trailing_scalars: int = 0
    """Scalars Keras 3 adds after the slots (Nadam's running product of momentum factors)."""
    defaults: Mapping[str, float] = field(default_factory=dict)
    """Keras's defaults for its settings (used when the file does not say)."""


_ADAM = {"learning_rate": 0.001, "epsilon": 1e-7, "beta_1": 0.9, "beta_2": 0.999}
_ADAM_NAMES = {"momentum": "m", "velocity": "v", "velocity_hat": "vhat", "m": "m", "v": "v",
               "vhat": "vhat"}  # fmt: skip

_ADAM_FACTS = OptimizerFacts(
    "Adam",
    (SlotGroup(("m", "v")), SlotGroup(("vhat",), "amsgrad")),
    _ADAM_NAMES,
    second_moment="v",
    step="adam",
    defaults=_ADAM,
)

OPTIMIZERS: dict[str, OptimizerFacts] = {
    f.class_name: f
    for f in (
        _ADAM_FACTS,
        replace(_ADAM_FACTS, class_name="AdamW"),  # Adam's slots; weight decay apart
        OptimizerFacts(
            "Nadam",
            (SlotGroup(("m", "v")),),
            _ADAM_NAMES,
            second_moment="v",
            step="adam",
            trailing_scalars=1,
            defaults=_ADAM,
        ),
        OptimizerFacts(
            "Lamb", (SlotGroup(("m", "v")),), _ADAM_NAMES, second_moment="v", defaults=_ADAM
        ),
        OptimizerFacts(
            "Adamax",
            (SlotGroup(("m", "u")),),
            {"momentum": "m", "norm": "u", "m": "m", "v": "u"},
            step="adamax",
            defaults=_ADAM,
        ),
        OptimizerFacts(
            "RMSprop",
            (
                SlotGroup(("v",)),
                SlotGroup(("momentum",), "momentum"),
                SlotGroup(("mg",), "centered"),
            ),
            {
                "velocity": "v",
                "rms": "v",
                "momentum": "momentum",
                "average_gradient": "mg",
                "mg": "mg",
            },
            second_moment="v",
            step="momentum",
            defaults={"learning_rate": 0.001, "epsilon": 1e-7, "rho": 0.9, "momentum": 0.0},
        ),  # fmt: skip
        OptimizerFacts(
            "SGD",
            (SlotGroup(("momentum",), "momentum"),),
            {"momentum": "momentum", "m": "momentum"},  # Keras 2.11+ names it m
            step="momentum",
            defaults={"learning_rate": 0.01, "momentum": 0.0},
        ),
        OptimizerFacts(
            "Adagrad",
            (SlotGroup(("accumulator",)),),
            {"accumulator": "accumulator"},
            defaults={"learning_rate": 0.001, "epsilon": 1e-7, "initial_accumulator_value": 0.1},
        ),
        OptimizerFacts(
            "Adadelta",
            (SlotGroup(("accum_grad", "accum_update")),),
            {
                "accumulated_grad": "accum_grad",
                "accumulated_delta_var": "accum_update",
                "accum_grad": "accum_grad",
                "accum_var": "accum_update",
            },
            second_moment="accum_grad",
            defaults={"learning_rate": 0.001, "epsilon": 1e-7, "rho": 0.95},
        ),  # fmt: skip
        OptimizerFacts(
            "Ftrl",
            (SlotGroup(("accumulator", "linear")),),
            {"accumulator": "accumulator", "linear": "linear"},
            defaults={"learning_rate": 0.001},
        ),  # fmt: skip
        OptimizerFacts(
            "Lion",
            (SlotGroup(("m",)),),
            {"momentum": "m", "m": "m"},
            defaults={"learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.99},
        ),
    )
}
"""Every optimizer class whose slots Kerascope names, by Keras class name."""

BASE_GROUPS: tuple[SlotGroup, ...] = (
    SlotGroup(("ema",), "use_ema"),
    SlotGroup(("gradient_accumulator",), "gradient_accumulation_steps"),
)
"""Slots Keras 3's base optimizer creates for every class, before the class's own."""
BASE_NAMES = {"average": "ema", "gradient_accumulator": "gradient_accumulator"}
"""Names files give the base optimizer's slots."""
GRADIENT_RMS_SLOTS = ("v", "accum_grad", "accumulator")
"""Slots from which a gradient RMS follows (see ``gradient_rms``)."""


def facts(class_name: str) -> OptimizerFacts | None:
    """The facts of a Keras optimizer class, None for a class Kerascope does not know."""
    return OPTIMIZERS.get(class_name)


def class_from_name(name: str) -> str | None:
    """The Keras class an optimizer is named after by default (``adam_w_1`` -> ``AdamW``,
    ``rm_sprop`` -> ``RMSprop``, ``Adam`` -> ``Adam``); None when no class fits."""
    base = name.split("/")[-1].rstrip("0123456789").rstrip("_").lower().replace("_", "")
    for class_name in OPTIMIZERS:
        if class_name.lower() == base:
            return class_name
    return None


_CLASS_BY_SLOTS: tuple[tuple[frozenset[str], str], ...] = (
    (frozenset({"m", "v"}), "Adam"),
    (frozenset({"m", "v", "vhat"}), "Adam"),
    (frozenset({"momentum"}), "SGD"),
    (frozenset({"rms"}), "RMSprop"),
    (frozenset({"rms", "momentum"}), "RMSprop"),
    (frozenset({"rms", "mg"}), "RMSprop"),
    (frozenset({"rms", "momentum", "mg"}), "RMSprop"),
    (frozenset({"accumulator"}), "Adagrad"),
    (frozenset({"accum_grad", "accum_var"}), "Adadelta"),
    (frozenset({"accumulator", "linear"}), "Ftrl"),
)
"""Keras 2's slot names (as TF checkpoints record them) -> the class that keeps exactly those
(Adam also stands for AdamW and Nadam, whose slots are the same)."""


def class_from_slots(slots: set[str]) -> str | None:
    """The class a set of Keras 2 slot names points to, None when none does."""
    return next((name for names, name in _CLASS_BY_SLOTS if names == slots), None)


def slot_groups(class_name: str, config: Mapping[str, object]) -> tuple[SlotGroup, ...] | None:
    """The slot groups Keras 3 created for an optimizer of ``class_name`` with ``config``
    (its saved settings): the base optimizer's, then the class's own, each only when set."""
    f = facts(class_name)
    if f is None:
        return None
    return tuple(g for g in (*BASE_GROUPS, *f.groups) if g.when is None or _is_set(config, g.when))


def _is_set(config: Mapping[str, object], key: str) -> bool:
    value = config.get(key)
    return bool(value) and value not in ("0", "false", "False")


def canonical(class_name: str, stored: str) -> str:
    """The name here of a slot a file names ``stored`` for an optimizer of ``class_name``."""
    f = facts(class_name)
    if stored in BASE_NAMES:
        return BASE_NAMES[stored]
    return f.names.get(stored, stored) if f is not None else stored


def setting(class_name: str, hyper: Mapping[str, float], key: str) -> float | None:
    """An optimizer setting: as saved, else Keras's default for the class, else None."""
    if key in hyper:
        return hyper[key]
    f = facts(class_name)
    return f.defaults.get(key) if f is not None else None


def bias_correction(beta: float | None, iterations: int | None) -> float:
    """``1 - beta ** t``, Adam's correction of a running mean started at zero after ``t``
    steps; 1.0 when either is unknown (the uncorrected value is then shown)."""
    if beta is None or iterations is None or iterations <= 0:
        return 1.0
    return 1.0 - beta**iterations


__all__ = [
    "BASE_GROUPS",
    "BASE_NAMES",
    "GRADIENT_RMS_SLOTS",
    "OPTIMIZERS",
    "OptimizerFacts",
    "SlotGroup",
    "StepRule",
    "bias_correction",
    "canonical",
    "class_from_name",
    "class_from_slots",
    "facts",
    "setting",
    "slot_groups",
]
