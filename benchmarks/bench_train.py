"""The Train tab's two tasks with their default knobs: how long a run takes, against plain Keras,
and what the photos task learns over several seeds.

    python -m benchmarks.bench_train [--seeds 1,2,3,7] [--skip-seeds]

For each task: (a) ``train()`` end to end as the tab runs it (data, model, the evaluation before
training, every epoch's snapshot) with the tab's live curves figure built after each epoch;
(b) the floor, plain Keras on the same data and model: ``model.fit`` with validation, nothing
else, in the same process after (a) (so TensorFlow is warm for both). The ratio (a)/(b) is the
cost of what the tab adds. Then the photos task once per seed: training and held-out accuracy,
the gap, chance (1 / 8) and the commonest held-out label's share, conv1's median orientation
selectivity. The load average is printed before and after: on a shared machine times move with
it.
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import replace

import numpy as np


def _load() -> str:
    return ", ".join(f"{v:.1f}" for v in os.getloadavg())


def _floor(knobs: object) -> float:
    """Plain Keras: the same data and model, ``fit`` with validation and nothing else."""
    import keras

    from kerascope.extraction.models.training import build_model, task_data

    keras.utils.set_random_seed(knobs.seed)  # type: ignore[attr-defined]
    x_tr, y_tr, x_te, y_te = task_data(knobs)  # type: ignore[arg-type]
    started = time.perf_counter()
    model = build_model(knobs)  # type: ignore[arg-type]
    model.fit(
        x_tr,
        y_tr,
        epochs=knobs.epochs,  # type: ignore[attr-defined]
        batch_size=64 if knobs.task == "photos" else 32,  # type: ignore[attr-defined]
        verbose=0,
        validation_data=(x_te, y_te),
    )
    return time.perf_counter() - started


def _tab_run(knobs: object) -> tuple[float, object]:
    from kerascope.components.figures.training import curves_figure
    from kerascope.extraction.models.training import EpochLog, train

    seen: list[EpochLog] = []

    def on_epoch(log: EpochLog, total: int) -> None:
        seen.append(log)
        curves_figure(seen)  # what the tab draws live after each epoch

    started = time.perf_counter()
    run = train(knobs, on_epoch=on_epoch)  # type: ignore[arg-type]
    return time.perf_counter() - started, run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="1,2,3,7", help="photos task seeds to measure")
    parser.add_argument("--skip-seeds", action="store_true", help="timings only")
    args = parser.parse_args()

    import keras  # noqa: F401  (imported before any timing: seconds, once per process)

    from kerascope.extraction.analysis.orientation import orientation_selectivity
    from kerascope.extraction.models.training import default_knobs, train

    print(f"load average before: {_load()}  ({os.cpu_count()} cores)")  # noqa: T201
    _tab_run(replace(default_knobs("digits"), epochs=1))  # warm-up: TF's first graph build
    print(f"{'task (default knobs)':<32} {'tab run':>8} {'keras fit':>10} {'ratio':>6}")  # noqa: T201
    for task in ("digits", "photos"):
        knobs = default_knobs(task)
        tab, _ = _tab_run(knobs)
        floor = _floor(knobs)
        label = f"{task}, {knobs.epochs} epochs"
        print(f"{label:<32} {tab:7.1f}s {floor:9.1f}s {tab / floor:5.2f}x")  # noqa: T201
    if not args.skip_seeds:
        print(  # noqa: T201
            f"\n{'photos seed':<12} {'train':>6} {'held-out':>9} {'gap':>6} {'chance':>7} "
            f"{'commonest':>10} {'selectivity':>12} {'seconds':>8}"
        )
        held = []
        for seed in (int(s) for s in args.seeds.split(",")):
            knobs = replace(default_knobs("photos"), seed=seed)
            started = time.perf_counter()
            run = train(knobs)
            seconds = time.perf_counter() - started
            last = run.history[-1]
            kernel = run.snapshots[run.epochs[-1]][("conv1", "kernel")]
            selectivity = float(np.median(orientation_selectivity(kernel)))
            held.append(last.val_accuracy)
            print(  # noqa: T201
                f"{seed:<12} {last.accuracy:6.3f} {last.val_accuracy:9.3f} "
                f"{last.accuracy - last.val_accuracy:+6.3f} {1 / run.classes:7.3f} "
                f"{run.majority:10.3f} {selectivity:12.2f} {seconds:8.1f}"
            )
        print(f"held-out accuracy: {min(held):.3f} to {max(held):.3f}")  # noqa: T201
    print(f"load average after: {_load()}")  # noqa: T201


if __name__ == "__main__":
    main()
