"""Axis ticks that fit: which categories of an axis to label so that no two labels overlap.

Plotly picks category ticks by count (``nticks``), not by the width of their text, so a
heatmap of 292 block-reduced columns labelled ``1050-1063`` wrote its labels over each other.
Here a builder measures its labels (``text_width``, an upper bound of how wide the browser
draws them) against the room it has (the plot area's length in pixels) and labels every
``step``-th category, the smallest step at which neighbouring labels keep a gap.

Decided (each has a test):
- Horizontal labels (an x axis) need ``step * cell >= (w_a + w_b) / 2 + gap`` between every
  two neighbours; vertical ones (a y axis) need ``step * cell >= line + gap``: they stack.
- The first category is always labelled; an axis too short for even one label gets just that.
- ``text_width`` errs wide: per-character widths of DejaVu Sans (wider than the Source Sans
  and Open Sans a browser draws plotly's ticks in) rounded up, so a fit here fits on screen.
"""

from __future__ import annotations

from collections.abc import Sequence

FONT_SIZE = 12.0
"""Plotly's default tick font size, pixels."""
GAP = 10.0
"""Pixels of space kept between two neighbouring labels."""
LINE = 1.3
"""Height of a label line, in font sizes (a y axis's labels stack)."""
_NARROW = set(" .,:;'|!ijlrtf()[]-")
_WIDE = set("mwMW@%")
_UPPER_OR_DIGIT = 0.66
"""Widths as a fraction of the font size (DejaVu Sans: digits 0.64, capitals up to 0.78)."""


def text_width(text: str, size: float = FONT_SIZE) -> float:
    """An upper bound of ``text``'s width in pixels at ``size`` (see the module doc)."""
    em = 0.0
    for ch in text:
        if ch in _NARROW:
            em += 0.42
        elif ch in _WIDE:
            em += 1.0
        elif ch.isupper():
            em += 0.8
        elif ch.isdigit() or ch.isalpha():
            em += _UPPER_OR_DIGIT
        else:
            em += 0.85
    return em * size


def tick_step(
    labels: Sequence[str],
    length: float,
    *,
    horizontal: bool,
    size: float = FONT_SIZE,
    gap: float = GAP,
) -> int:
    """The smallest step such that labelling categories ``0, step, 2*step ...`` fits.

    Args:
        labels: the text of every category, in axis order.
        length: the plot area's length along the axis, pixels.
        horizontal: labels side by side (x axis) rather than stacked (y axis).
        size: the tick font size, pixels.
        gap: pixels kept free between two labels.

    Returns:
        The step, at least 1; ``len(labels)`` (only the first label) when nothing else fits.
    """
    n = len(labels)
    if n <= 1:
        return 1
    cell = max(length, 0.0) / n
    if cell <= 0:
        return n
    if not horizontal:
        need = LINE * size + gap
        step = max(1, int(-(-need // cell)))
        return min(step, n)
    widths = [text_width(t, size) for t in labels]
    widest = max(widths)
    step = max(1, int((widest + gap) // cell))
    while step < n:
        if all(
            step * cell >= (widths[i] + widths[i + step]) / 2 + gap
            for i in range(0, n - step, step)
        ):
            return step
        step += 1
    return n


def fitted_ticks(
    labels: Sequence[str],
    length: float,
    *,
    horizontal: bool,
    size: float = FONT_SIZE,
    gap: float = GAP,
) -> list[str]:
    """The labels to show (every ``tick_step``-th, from the first), for ``tickvals``."""
    step = tick_step(labels, length, horizontal=horizontal, size=size, gap=gap)
    return list(labels[::step])
