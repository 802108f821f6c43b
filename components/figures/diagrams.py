"""Small schematic pictures for the Explain panel, one per layer kind: a window sliding over an
input (convolutions), a vector times a matrix (Dense), a table lookup (Embedding), and boxes and
arrows for gates, normalization and attention.

Pure builders (tested by their data): every drawn cell and box is a named plotly shape
(``input``, ``window``, ``output cell`` ...), every arrow a named annotation, so a test can
count them. Sizes come from the layer's config where they matter (kernel size, capped at
``MAX_WINDOW`` so the picture stays small); nothing from the file is written in a figure.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

import plotly.graph_objects as go

from kerascope.extraction.layouts import RNN_GATES, LayerClass, conv_layout, layer_class
from kerascope.extraction.records import LayerWeights

CELL = 1.0
MAX_WINDOW = 5
"""Largest window side drawn (a 7x7 kernel is drawn 5x5, and the title says 7x7)."""
PLAIN = "#f4f4f4"
HIGHLIGHT = "#f2a541"
RESULT = "#9cc3e6"
WindowMode = Literal["conv2d", "conv1d", "transpose", "depthwise", "separable"]
Shape = dict[str, Any]


@dataclass(frozen=True)
class Box:
    """One box of a flow diagram."""

    name: str
    label: str
    x: float
    y: float
    colour: str = PLAIN


def _grid(
    name: str, x0: float, y0: float, rows: int, cols: int, lit: set[tuple[int, int]], lit_name: str
) -> list[Shape]:
    """Cells of a grid, top-left at (x0, y0), y growing up; ``lit`` cells highlighted."""
    shapes: list[Shape] = []
    for r in range(rows):
        for c in range(cols):
            on = (r, c) in lit
            shapes.append(
                {
                    "type": "rect",
                    "name": lit_name if on else name,
                    "x0": x0 + c * CELL,
                    "x1": x0 + (c + 1) * CELL,
                    "y0": y0 - (r + 1) * CELL,
                    "y1": y0 - r * CELL,
                    "fillcolor": (RESULT if lit_name == "output cell" else HIGHLIGHT)
                    if on
                    else PLAIN,
                    "line": {"color": "#999", "width": 1},
                }
            )
    return shapes


def _arrow(x0: float, y0: float, x1: float, y1: float, name: str = "arrow") -> dict[str, Any]:
    return {
        "name": name,
        "x": x1,
        "y": y1,
        "ax": x0,
        "ay": y0,
        "xref": "x",
        "yref": "y",
        "axref": "x",
        "ayref": "y",
        "showarrow": True,
        "arrowhead": 3,
        "arrowwidth": 1.5,
        "arrowcolor": "#444",
        "text": "",
    }


def _text(x: float, y: float, text: str, size: int = 12) -> dict[str, Any]:
    return {
        "name": "label",
        "x": x,
        "y": y,
        "text": text,
        "showarrow": False,
        "font": {"size": size, "color": "#111"},
        "xanchor": "center",
        "yanchor": "bottom",
    }


def _figure(shapes: list[Shape], notes: list[dict[str, Any]], title: str) -> go.Figure:
    xs = [v for s in shapes for v in (s["x0"], s["x1"])] + [n["x"] for n in notes]
    ys = [v for s in shapes for v in (s["y0"], s["y1"])] + [n["y"] for n in notes]
    fig = go.Figure()
    fig.update_layout(
        title={"text": title, "font": {"size": 14}},
        shapes=shapes,
        annotations=notes,
        height=300,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        plot_bgcolor="white",
        xaxis={"visible": False, "range": [min(xs) - 1, max(xs) + 1], "fixedrange": True},
        yaxis={
            "visible": False,
            "range": [min(ys) - 1, max(ys) + 1.2],
            "fixedrange": True,
            "scaleanchor": "x",
        },
        showlegend=False,
        dragmode=False,
    )
    return fig


def window_figure(kh: int, kw: int, mode: WindowMode = "conv2d") -> go.Figure:
    """A ``kh x kw`` window over an input grid and the output cell it makes (see module doc).

    ``conv1d`` draws one row (``kh`` is ignored); ``transpose`` one input cell stamping a
    window onto the output; ``depthwise`` and ``separable`` two channels, each with its own
    window (``separable`` adds the 1x1 mix). Sides above ``MAX_WINDOW`` are drawn at it.

    Raises:
        ValueError: a side below 1.
    """
    if kh < 1 or kw < 1:
        raise ValueError(f"window sides must be at least 1; received {kh}x{kw}")
    title = f"{kh}x{kw} window" if mode != "conv1d" else f"window of {kw}"
    h, w = min(kh, MAX_WINDOW), min(kw, MAX_WINDOW)
    if mode == "conv1d":
        h = 1
    rows_in, cols_in = (1 if mode == "conv1d" else h + 3), w + 4
    first_row = 0 if mode == "conv1d" else 1
    window = {(r, c) for r in range(first_row, first_row + h) for c in range(1, 1 + w)}
    rows_out, cols_out = (1 if mode == "conv1d" else rows_in - h + 1), cols_in - w + 1
    out_cell = {(0, 1)} if mode == "conv1d" else {(1, 1)}
    gap = 3.0
    shapes: list[Shape] = []
    notes: list[dict[str, Any]] = []
    if mode == "transpose":
        shapes += _grid("input", 0, 0, 3, 3, {(1, 1)}, "window")
        shapes += _grid("output", 3 + gap, 0, h + 2, w + 2, set(window), "output cell")
        notes += [
            _text(1.5, 0.1, "input"),
            _text(3 + gap + (w + 2) / 2, 0.1, "output (larger)"),
            _arrow(1.5, -1.5, 3 + gap + 1 + w / 2, -1 - h / 2),
        ]
        return _figure(shapes, notes, f"Transposed: one pixel stamps a {title}")
    channels = 2 if mode in ("depthwise", "separable") else 1
    for ch in range(channels):
        y0 = -ch * (rows_in + 2.0)
        shapes += _grid("input", 0, y0, rows_in, cols_in, window, "window")
        x_out = cols_in + gap
        shapes += _grid("output", x_out, y0, rows_out, cols_out, out_cell, "output cell")
        r0, c0 = min(window)
        cx, cy = c0 + w / 2, y0 - r0 - h / 2
        ox = x_out + min(out_cell)[1] + 0.5
        oy = y0 - min(out_cell)[0] - 0.5
        notes.append(_arrow(cx, cy, ox, oy))
        what = f"channel {ch + 1}" if channels > 1 else "input"
        notes += [
            _text(cols_in / 2, y0 + 0.1, what),
            _text(x_out + cols_out / 2, y0 + 0.1, "output"),
        ]
    if mode == "separable":
        x_mix = cols_in + gap + cols_out + gap
        shapes.append(_box_shape(Box("mix", "1x1 mix", x_mix + 1, -rows_in, RESULT)))
        notes.append(_text(x_mix + 1, -rows_in + 0.6, "1x1 mix of channels"))
        for ch in range(channels):
            y_mid = -ch * (rows_in + 2.0) - rows_out / 2
            notes.append(_arrow(cols_in + gap + cols_out, y_mid, x_mix, -rows_in))
    kind = {
        "conv2d": "Convolution",
        "conv1d": "1-D convolution",
        "depthwise": "Depthwise: a window per channel",
        "separable": "Separable: windows, then a 1x1 mix",
    }[mode]
    return _figure(shapes, notes, f"{kind}, {title}")


def matrix_vector_figure(n_in: int, n_out: int) -> go.Figure:
    """Dense: the input row vector times the kernel (``n_in`` x ``n_out``) gives the outputs;
    one kernel column and the output it makes are highlighted (sides capped at 6)."""
    if n_in < 1 or n_out < 1:
        raise ValueError(f"sizes must be at least 1; received {n_in} inputs, {n_out} units")
    rows, cols = min(n_in, 6), min(n_out, 6)
    shapes = _grid("input", 0, rows / 2 + 0.5, 1, rows, set(), "window")
    column = {(r, 1 if cols > 1 else 0) for r in range(rows)}  # the column of output 1
    x_k = rows + 2.0
    shapes += _grid("kernel", x_k, 0, rows, cols, column, "window")
    x_y = x_k + cols + 2.0
    picked = 1 if cols > 1 else 0
    shapes += _grid("output", x_y, rows / 2 + 0.5, 1, cols, {(0, picked)}, "output cell")
    notes = [
        _text(rows / 2, rows / 2 + 0.6, f"inputs ({n_in:,})"),
        _text(x_k + cols / 2, 0.1, f"kernel ({n_in:,} x {n_out:,})"),
        _text(x_y + cols / 2, rows / 2 + 0.6, f"outputs ({n_out:,})"),
        _text(rows + 1.0, 0.0, "x", 16),
        _text(x_k + cols + 1.0, 0.0, "=", 16),
        _arrow(x_k + picked + 0.5, -rows, x_y + picked + 0.5, rows / 2 - 0.5),
    ]
    return _figure(shapes, notes, "Dense: inputs x kernel = outputs")


def lookup_figure(vocab: int, dim: int) -> go.Figure:
    """Embedding: token id 2 picks row 2 of the table (``vocab`` x ``dim``, capped at 6)."""
    rows, cols = min(vocab, 6), min(dim, 6)
    pick = min(2, rows - 1)
    shapes = _grid("table", 2.0, 0, rows, cols, {(pick, c) for c in range(cols)}, "window")
    shapes += _grid(
        "output", 2.0 + cols + 2.0, -pick, 1, cols, {(0, c) for c in range(cols)}, "output cell"
    )
    notes = [
        _text(0.5, -pick - 0.9, f"token {pick}", 12),
        _arrow(1.0, -pick - 0.5, 2.0, -pick - 0.5),
        _arrow(2.0 + cols, -pick - 0.5, 2.0 + cols + 2.0, -pick - 0.5),
        _text(2.0 + cols / 2, 0.1, f"table ({vocab:,} x {dim:,})"),
        _text(2.0 + cols + 2.0 + cols / 2, -pick + 0.1, "its vector"),
    ]
    return _figure(shapes, notes, "Embedding: a token id picks a row")


BOX_W = 3.6
BOX_H = 1.2


def _box_shape(box: Box) -> Shape:
    return {
        "type": "rect",
        "name": f"box:{box.name}",
        "x0": box.x - BOX_W / 2,
        "x1": box.x + BOX_W / 2,
        "y0": box.y - BOX_H / 2,
        "y1": box.y + BOX_H / 2,
        "fillcolor": box.colour,
        "line": {"color": "#777", "width": 1},
    }


def flow_figure(boxes: Sequence[Box], arrows: Sequence[tuple[str, str]], title: str) -> go.Figure:
    """Boxes with their labels and arrows between them (by box name).

    Raises:
        ValueError: an arrow names a box that is not there.
    """
    by_name = {b.name: b for b in boxes}
    missing = [n for pair in arrows for n in pair if n not in by_name]
    if missing:
        raise ValueError(f"arrows name unknown boxes: {missing}; boxes are {list(by_name)}")
    shapes = [_box_shape(b) for b in boxes]
    notes: list[dict[str, Any]] = [
        {**_text(b.x, b.y, b.label, 11), "yanchor": "middle", "name": f"label:{b.name}"}
        for b in boxes
    ]
    for a, b in arrows:
        s, t = by_name[a], by_name[b]
        notes.append(_arrow(s.x + BOX_W / 2, s.y, t.x - BOX_W / 2, t.y, f"arrow:{a}->{b}"))
    return _figure(shapes, notes, title)


GATE = "#fbe3c4"
STATE = "#d6e6f5"


_LSTM_GATES = {
    "i": "i: input gate<br>(sigmoid)",
    "f": "f: forget gate<br>(sigmoid)",
    "c": "c~: candidate<br>(tanh)",
    "o": "o: output gate<br>(sigmoid)",
}


def _lstm() -> go.Figure:
    order = RNN_GATES["lstm"]  # the boxes top to bottom in Keras's column order
    boxes = [Box("in", "x(t) and<br>h(t-1)", 0, 0, STATE)]
    boxes += [Box(g, _LSTM_GATES[g], 5, 2.25 - 1.5 * n, GATE) for n, g in enumerate(order)]
    boxes += [
        Box("cell", "c(t) = f*c(t-1)<br>+ i*c~", 10, 0.75, STATE),
        Box("out", "h(t) =<br>o*tanh(c(t))", 15, 0, RESULT),
    ]
    arrows = [("in", g) for g in order] + [("i", "cell"), ("f", "cell"), ("c", "cell")]
    arrows += [("cell", "out"), ("o", "out")]
    return flow_figure(boxes, arrows, f"LSTM step: gates {', '.join(order)}")


def _gru() -> go.Figure:
    boxes = [
        Box("in", "x(t) and<br>h(t-1)", 0, 0, STATE),
        Box("z", "z: update gate<br>(sigmoid)", 5, 1.5, GATE),
        Box("r", "r: reset gate<br>(sigmoid)", 5, 0, GATE),
        Box("h", "h~: candidate,<br>uses r*h(t-1)", 5, -1.5, GATE),
        Box("out", "h(t) = z*h(t-1)<br>+ (1-z)*h~", 10, 0, RESULT),
    ]
    arrows = [("in", "z"), ("in", "r"), ("in", "h"), ("r", "h"), ("z", "out"), ("h", "out")]
    return flow_figure(boxes, arrows, "GRU step: gates z, r, h")


def _simple_rnn() -> go.Figure:
    boxes = [
        Box("in", "x(t) and<br>h(t-1)", 0, 0, STATE),
        Box("step", "tanh(x W<br>+ h U + b)", 5, 0, GATE),
        Box("out", "h(t), fed back<br>next step", 10, 0, RESULT),
    ]
    return flow_figure(boxes, [("in", "step"), ("step", "out")], "Simple RNN step")


def _bidirectional() -> go.Figure:
    boxes = [
        Box("seq", "the sequence", 0, 0, STATE),
        Box("fw", "forward layer:<br>first to last", 5, 1, GATE),
        Box("bw", "backward layer:<br>last to first", 5, -1, GATE),
        Box("out", "join<br>(concatenate)", 10, 0, RESULT),
    ]
    arrows = [("seq", "fw"), ("seq", "bw"), ("fw", "out"), ("bw", "out")]
    return flow_figure(boxes, arrows, "Bidirectional: two directions")


def _norm(batch: bool) -> go.Figure:
    what = "one channel" if batch else "one example"
    stats = "moving mean, variance" if batch else "its own mean, std"
    boxes = [
        Box("x", f"x<br>({what})", 0, 0, STATE),
        Box("norm", f"subtract, divide:<br>{stats}", 5, 0, GATE),
        Box("affine", "times gamma,<br>plus beta", 10, 0, GATE),
        Box("y", "y: normalized", 15, 0, RESULT),
    ]
    arrows = [("x", "norm"), ("norm", "affine"), ("affine", "y")]
    title = "Batch normalization" if batch else "Layer normalization"
    return flow_figure(boxes, arrows, title)


def _attention() -> go.Figure:
    boxes = [
        Box("x", "input positions", 0, 0, STATE),
        Box("q", "Q = x Wq (query)", 5, 1.5, GATE),
        Box("k", "K = x Wk (key)", 5, 0, GATE),
        Box("v", "V = x Wv (value)", 5, -1.5, GATE),
        Box("scores", "softmax(Q K^T<br>/ sqrt(d))", 10, 0.75, STATE),
        Box("mix", "weights times V", 15, 0, STATE),
        Box("out", "join heads,<br>times Wo", 20, 0, RESULT),
    ]
    arrows = [("x", "q"), ("x", "k"), ("x", "v"), ("q", "scores"), ("k", "scores")]
    arrows += [("scores", "mix"), ("v", "mix"), ("mix", "out")]
    return flow_figure(boxes, arrows, "One attention head: Q, K, V")


def _fallback(has_weights: bool) -> go.Figure:
    middle = "the layer,<br>with its weights" if has_weights else "a fixed rule,<br>no weights"
    boxes = [Box("in", "input", 0, 0, STATE), Box("layer", middle, 5, 0, GATE)]
    boxes.append(Box("out", "output", 10, 0, RESULT))
    return flow_figure(boxes, [("in", "layer"), ("layer", "out")], "Input to output")


def _kernel_size(layer: LayerWeights) -> tuple[int, int]:
    value = layer.config.get("kernel_size", 3)
    if isinstance(value, int) and not isinstance(value, bool):
        return value, value
    sizes = [v for v in value if isinstance(v, int)] if isinstance(value, (list, tuple)) else []
    if not sizes:
        return 3, 3
    return (sizes[-2], sizes[-1]) if len(sizes) >= 2 else (1, sizes[0])


def _window_mode(conv: LayerClass) -> WindowMode:
    """How a convolution's window is drawn (a 3-D one as its 2-D slice)."""
    if conv.transposed:
        return "transpose"
    if conv.separable:
        return "separable"
    if conv.depthwise:
        return "depthwise"
    return "conv1d" if conv.conv_rank == 1 else "conv2d"


class Diagram(NamedTuple):
    """A layer kind's picture, and whether it is a wide flow of boxes (else a compact grid)."""

    figure: go.Figure
    wide: bool


def diagram_for(layer: LayerWeights) -> Diagram:
    """The diagram of ``layer``'s kind, sized from its config where that matters."""
    figure = _diagram(layer)
    wide = any(str(s.name or "").startswith("box:") for s in figure.layout.shapes)
    return Diagram(figure, wide)


def _diagram(layer: LayerWeights) -> go.Figure:
    kind = layer.kind
    conv = conv_layout(kind)
    if conv:
        kh, kw = _kernel_size(layer)
        return window_figure(kh, kw, _window_mode(conv))
    cfg = layer.config
    if kind == "dense":
        kernel = layer.by_role("kernel")
        n_in = kernel[0].shape[0] if kernel and kernel[0].shape else 4
        units = cfg.get("units")
        n_out = units if isinstance(units, int) and not isinstance(units, bool) else 3
        return matrix_vector_figure(max(1, n_in), max(1, n_out))
    if kind == "embedding":
        vocab, dim = cfg.get("input_dim", 6), cfg.get("output_dim", 4)
        ok = isinstance(vocab, int) and isinstance(dim, int) and vocab > 0 and dim > 0
        return lookup_figure(int(vocab), int(dim)) if ok else lookup_figure(6, 4)
    flows: dict[str, Callable[[], go.Figure]] = {
        "lstm": _lstm,
        "gru": _gru,
        "simple_rnn": _simple_rnn,
        "bidirectional": _bidirectional,
        "batch_norm": lambda: _norm(True),
        "layer_norm": lambda: _norm(False),
    }
    if kind in flows:
        return flows[kind]()
    if kind == "attention" and layer_class(layer.class_name).attention:
        return _attention()
    return _fallback(bool(layer.weights))
