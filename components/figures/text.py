"""Text from a file drawn as text in a figure.

Plotly reads titles, labels and annotations as its own small HTML (``<b>``, ``<br>``, ``<a
href>``), so a layer named ``<a href=...>`` would become a link. Every builder passes text that
came from a file (layer, weight and model names) through ``plotly_text``; matplotlib only needs
``$`` escaped, or it would typeset ``$...$`` as a formula.
"""

from __future__ import annotations

import html


def plotly_text(text: object) -> str:
    """``text`` with ``<``, ``>`` and ``&`` escaped, so plotly shows it as written."""
    return html.escape(str(text), quote=False)


def mpl_text(text: object) -> str:
    """``text`` with ``$`` escaped, so matplotlib shows it as written instead of as math."""
    return str(text).replace("$", r"\$")
