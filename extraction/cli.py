"""``python -m extraction``: inspect a model's weights, scan its health, or export them to ``.npz``.

Exit codes: 0 on success; 2 with one ``error: ...`` line on stderr for bad input (unreadable,
not a model, refused as unsafe) or a bad command line; never a traceback for a user's mistake.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from .disk import atomic_path
from .errors import KerascopeError
from .records import LayerWeights, ModelWeights, Weight, shape_text, storable

EXIT_OK = 0
EXIT_BAD_INPUT = 2
PROG = "python -m extraction"


def main(argv: Sequence[str] | None = None, prog: str = PROG) -> int:
    """Run the CLI; returns the exit code. ``prog`` names it in usage lines (``kerascope``)."""
    parser = _parser(prog)
    args = parser.parse_args(argv)
    try:
        if args.command == "timeline":
            from .analysis.timeline import print_timeline

            print_timeline(args.source, as_json=args.json, out=sys.stdout)
            return EXIT_OK
        from .api import open_model

        model = open_model(args.source)
        if args.command == "inspect":
            if args.json:
                json.dump(inspect_json(model, stats=not args.no_stats), sys.stdout, indent=2)
                sys.stdout.write("\n")
            else:
                print_table(model, sys.stdout, stats=not args.no_stats)
            if not args.no_stats and Path(args.source).exists():
                from .analysis.stats_cache import save_stats

                save_stats(model, Path(args.source))
        elif args.command == "health":
            print_health(model, sys.stdout, as_json=args.json)
        else:
            count = export_npz(model, Path(args.out))
            print(f"wrote {count} arrays to {args.out}", file=sys.stderr)
    except KerascopeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except BrokenPipeError:
        # The reader of our output went away (`| head`): not an error of ours. (A subclass of
        # OSError, so it is caught first.)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except OSError as exc:
        print(f"error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return 130
    return EXIT_OK


def _parser(prog: str = PROG) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="List, health-check or export every weight of a Keras model by name.",
        epilog="SOURCE is a .keras, .h5 or .weights.h5 file, a SavedModel folder (or a zip of "
        "one), a TensorFlow checkpoint, a .tflite file, a TF.js model folder, model.json "
        "or zip, a .safetensors file or folder, sharded Keras weights (.weights.json), a "
        "KerasHub preset folder, or demo:NAME for a built-in demo (demo:digits_cnn, "
        "demo:digits_mlp). Exit status: 0 ok, 2 bad input.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    inspect = sub.add_parser("inspect", help="print the layers, their weights and statistics")
    inspect.add_argument("source", metavar="SOURCE")
    inspect.add_argument("--json", action="store_true", help="print JSON for other tools")
    inspect.add_argument(
        "--no-stats",
        action="store_true",
        help="list layers, shapes and dtypes without reading any array (instant on big files)",
    )
    health = sub.add_parser("health", help="scan every layer for NaN, dead units, bad scale ...")
    health.add_argument("source", metavar="SOURCE")
    health.add_argument("--json", action="store_true", help="print JSON for other tools")
    export = sub.add_parser("export", help="write every weight array once to an .npz file")
    export.add_argument("source", metavar="SOURCE")
    export.add_argument("--out", required=True, metavar="FILE.npz", help="the file to write")
    timeline = sub.add_parser(
        "timeline", help="each weight's L2, mean, std and update ratio over a run's snapshots"
    )
    timeline.add_argument("source", metavar="RUN", help="a run folder (checkpoints or recorder)")
    timeline.add_argument("--json", action="store_true", help="print JSON for other tools")
    return parser


def inspect_json(model: ModelWeights, *, stats: bool = True) -> dict[str, Any]:
    """The ``inspect --json`` object (the CLI contract in DESIGN.md); without ``stats`` no array
    is read and the ``stats`` keys are absent. A weight WeightWatcher analyses (and each
    extension, marked by ``spectral_scope``) adds its spectral metrics to ``stats`` under
    WeightWatcher's names (``extraction.analysis.spectrum``)."""
    return {
        "source": model.source,
        "format": model.format,
        "name": model.name,
        "notes": list(model.notes),
        "layers": [
            {
                "name": layer.name,
                "path": layer.path,
                "class_name": layer.class_name,
                "kind": layer.kind,
                "params": layer.params,
                "weights": [_weight_json(layer, w, stats) for w in layer.weights],
            }
            for layer in model.layers
        ],
    }


def _weight_json(layer: LayerWeights, w: Weight, stats: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": w.name,
        "role": w.role,
        "shape": list(w.shape),
        "dtype": w.dtype,
        "trainable": w.trainable,
    }
    if stats:
        from .analysis.spectrum import spectral_stats

        spectral = spectral_stats(layer, w)
        extra = spectral.as_dict() if spectral is not None else {}
        entry["stats"] = {**w.stats().as_dict(), **extra}
    return {**entry, **_quantization_json(w), **_optimizer_json(w, stats)}


def _optimizer_json(weight: Weight, stats: bool) -> dict[str, Any]:
    """``{"optimizer": {"class", "iterations", "settings", "slots": {name: {"shape", "dtype",
    "stats"}}}}`` for a weight with optimizer state, else {} (``stats`` as for weights)."""
    state = weight.optimizer
    if state is None:
        return {}
    slots: dict[str, Any] = {}
    for slot in state.slots:
        entry: dict[str, Any] = {"shape": list(slot.shape), "dtype": slot.dtype}
        if stats:
            entry["stats"] = weight.optimizer_slot(slot.name).stats().as_dict()
        slots[slot.name] = entry
    return {
        "optimizer": {
            "class": state.class_name,
            "iterations": state.iterations,
            "settings": dict(state.hyper),
            "slots": slots,
        }
    }


def print_table(model: ModelWeights, out: TextIO, *, stats: bool = True) -> None:
    """A table for people: layer, class, weight shapes, params, mean, std and WeightWatcher's
    alpha (``-`` without ``stats``, when no array is read, and for layers with no spectrum)."""
    from .analysis.spectrum import primary_weight, spectral_stats

    rows = [("layer", "class", "weights", "params", "mean", "std", "alpha")]
    for layer in model.layers:
        shapes = ", ".join(f"{w.name} {shape_text(w.shape)}" for w in layer.weights) or "-"
        means = [w.stats().mean if stats else None for w in layer.weights]
        stds = [w.stats().std if stats else None for w in layer.weights]
        primary = primary_weight(layer) if stats else None
        spectral = spectral_stats(layer, primary) if primary is not None else None
        rows.append(
            (
                layer.path,
                layer.class_name,
                shapes,
                f"{layer.params:,}",
                _numbers(means),
                _numbers(stds),
                "-" if spectral is None else f"{spectral.alpha:.2f}",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out.write(f"{model.name} ({model.format}, {model.params:,} parameters) from {model.source}\n")
    for i, row in enumerate(rows):
        cells = [c.ljust(widths[j]) if j < 3 else c.rjust(widths[j]) for j, c in enumerate(row)]
        out.write("  ".join(cells).rstrip() + "\n")
        if i == 0:
            out.write("  ".join("-" * w for w in widths) + "\n")
    for note in model.notes:
        out.write(f"note: {note}\n")


def print_health(model: ModelWeights, out: TextIO, *, as_json: bool) -> None:
    """``health``: every finding, most severe first; JSON (DESIGN.md) or a table for people."""
    from .analysis.health import findings_json, model_findings

    findings = model_findings(model)
    if as_json:
        json.dump(findings_json(findings), out, indent=2)
        out.write("\n")
        return
    out.write(f"{model.name} ({model.format}, {len(model.layers)} layers) from {model.source}\n")
    for f in findings:
        where = f"{f.layer}/{f.weight}" if f.layer else "(whole model)"
        out.write(f"{f.severity.upper():8} {where}  [{f.check}]\n    {f.message}\n")
    from .analysis.spectrum import SUMMARY_METRICS, spectral_summary

    summary = spectral_summary(model)
    if summary["layers"]:
        named = [k for k in SUMMARY_METRICS if summary[k] is not None]
        means = ", ".join(f"{k} {summary[k]:.3f}" for k in named)
        out.write(f"WeightWatcher summary over {summary['layers']} layers: {means}\n")
    counts = {s: sum(f.severity == s for f in findings) for s in ("error", "warning", "info")}
    out.write(", ".join(f"{n} {s}{'s' if n != 1 else ''}" for s, n in counts.items()) + "\n")


def export_npz(model: ModelWeights, out: Path) -> int:
    """Write every weight once, keyed ``<layer path>/<weight name>``, and its optimizer slots
    beside it (``<key>/optimizer/<slot>``); returns the count.

    bfloat16 arrays, which ``.npy`` cannot describe, are written as float32. A quantized
    weight keeps its stored integers and adds ``<key>/scale`` and ``<key>/zero_point``. The file is
    written under a temporary name and renamed, so a failed export leaves no half file.
    """
    arrays: dict[str, np.ndarray[Any, Any]] = {}
    for layer, weight in model.iter_weights():
        key = model.export_key(layer, weight)
        arrays[key] = storable(weight.array())
        for slot in weight.optimizer.slots if weight.optimizer is not None else ():
            part = weight.optimizer_slot(slot.name)
            arrays[model.export_key(layer, part)] = storable(part.array())
        if weight.quantization is not None:  # beside the stored integers, never instead of them
            arrays[f"{key}/scale"] = np.asarray(weight.quantization.scale, dtype=np.float32)
            arrays[f"{key}/zero_point"] = np.asarray(weight.quantization.zero_point, np.int64)
    if out.suffix != ".npz":
        out = out.with_name(out.name + ".npz") if not out.suffix else out
    with atomic_path(out) as tmp, tmp.open("wb") as f:
        np.savez(f, **arrays)  # type: ignore[arg-type]  # numpy's stub overload
    return len(arrays)


def _quantization_json(weight: Weight) -> dict[str, Any]:
    """``{"quantization": {"scale", "zero_point", "axis"}}`` for a quantized weight, else {}."""
    q = weight.quantization
    if q is None:
        return {}
    return {"quantization": {"scale": list(q.scale), "zero_point": list(q.zero_point),
                             "axis": q.axis}}  # fmt: skip


def _numbers(values: list[float | None]) -> str:
    return " ".join("-" if v is None else f"{v:+.3g}" for v in values) or "-"
