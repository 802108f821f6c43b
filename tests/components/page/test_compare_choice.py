"""Compare's choices and defaults (pure): never a model with itself."""

from __future__ import annotations

from kerascope.components.page.compare_view import neighbour, other_choices
from kerascope.components.page.sources import ModelRef


def test_defaults_never_compare_a_model_with_itself() -> None:
    demo, folder = ModelRef("demo", "digits_cnn"), ModelRef("folder", "a.keras")
    assert other_choices(demo, True, False)[0] == "start"
    assert other_choices(folder, True, True) == ["folder", "demo", "upload", "epochs"]
    assert other_choices(folder, False, False) == ["demo", "upload"]
    app = ModelRef("application", "VGG16")
    assert other_choices(app, True, False)[0] == "upload"  # nothing to guess: wait for a file
    assert other_choices(ModelRef("upload", "x.keras", "id"), False, False)[0] == "upload"


def test_neighbour_is_the_closest_checkpoint_by_name() -> None:
    names = ["ckpt-01.keras", "ckpt-02.keras", "other.keras"]
    assert neighbour(names, "ckpt-02.keras") == "ckpt-01.keras"
    assert neighbour(names, "ckpt-01.keras") == "ckpt-02.keras"
    assert neighbour(names, "other.keras") == "ckpt-02.keras"
    assert neighbour(names, None) == "ckpt-01.keras"
    assert neighbour(["only.keras"], "only.keras") is None
