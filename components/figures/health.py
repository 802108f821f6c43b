"""Figures of the Health panel: findings, one sentence each, their colours, and on demand a
weight's spectrum with WeightWatcher's power-law fit and metrics, and its correlation-trap check.

Pure (tested); ``components.page.health_view`` puts findings and figure on the page.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from kerascope.extraction.analysis.diagnostics import Finding
from kerascope.extraction.analysis.spectrum import SUMMARY_METRICS, Esd, SpectralStats
from kerascope.extraction.analysis.traps import TrapCheck

from .text import plotly_text

_SHOWN_INDICES = 20
SEVERITY_COLOURS: dict[str, str] = {
    "error": "#d62728",
    "warning": "#ff7f0e",
    "info": "#1f77b4",
    "ok": "#2ca02c",
    "none": "#8c8c8c",
}
"""One colour per verdict (a severity, ``ok``, ``none`` without weights), shared by the table,
the overview and the list."""
SEVERITY_ICONS: dict[str, str] = {
    "error": ":material/error:",
    "warning": ":material/warning:",
    "info": ":material/info:",
    "ok": ":material/check_circle:",
}
"""Material icon per severity (Streamlit's ``:material/NAME:`` syntax)."""


def finding_where(finding: Finding) -> str:
    """``dense_1 / kernel``; ``whole model`` for a model-level finding."""
    if not finding.layer:
        return "whole model"
    return f"{finding.layer} / {finding.weight}" if finding.weight else finding.layer


def finding_text(finding: Finding) -> str:
    """``kernel: <message> Affected filters: 2, 7, 11.`` as plain text (no Markdown)."""
    detail = finding_detail(finding)
    return f"{finding.weight}: {detail}" if finding.weight else detail


def finding_detail(finding: Finding) -> str:
    """``<message> Affected filters: 2, 7, 11.`` as plain text (no Markdown)."""
    text = finding.message
    if finding.indices:
        shown = ", ".join(str(i) for i in finding.indices[:_SHOWN_INDICES])
        more = (
            f" and {len(finding.indices) - _SHOWN_INDICES} more"
            if len(finding.indices) > _SHOWN_INDICES
            else ""
        )
        text += f" Affected {finding.unit}s: {shown}{more}."
    return text


def spectrum_figure(esd: Esd, title: str = "") -> go.Figure:
    """The singular values of the matrices forming the ESD (left) and the ESD on log-log axes
    with WeightWatcher's power-law fit and its ``xmin`` (right); the subtitle gives the metrics.
    """
    fig = make_subplots(
        rows=1, cols=2, subplot_titles=("singular values", "eigenvalue density (log-log)")
    )
    evals = esd.eigenvalues
    sv = np.sqrt(np.clip(evals[::-1], 0.0, None))
    fig.add_trace(
        go.Scatter(x=np.arange(1, sv.size + 1), y=sv, mode="lines+markers", name="singular value"),
        row=1,
        col=1,
    )
    positive = evals[evals > 0]
    if positive.size:
        centres, density = log_density(positive)
        fig.add_trace(go.Scatter(x=centres, y=density, mode="markers", name="ESD"), row=1, col=2)
        fit = esd.fit
        if not fit.failed and fit.xmin > 0 and fit.alpha > 1:
            xs = np.logspace(np.log10(fit.xmin), np.log10(positive.max()), 20)
            tail = fit.n_tail / positive.size
            ys = tail * (fit.alpha - 1) / fit.xmin * (xs / fit.xmin) ** (-fit.alpha)
            fig.add_trace(
                go.Scatter(x=xs, y=ys, mode="lines", name=f"power law, alpha = {fit.alpha:.2f}"),
                row=1,
                col=2,
            )
            fig.add_vline(x=fit.xmin, line={"dash": "dot", "color": "grey"}, row=1, col=2)
    fig.update_xaxes(title_text="index", row=1, col=1)
    fig.update_yaxes(title_text="singular value", row=1, col=1)
    fig.update_xaxes(type="log", title_text="eigenvalue of W^T W", row=1, col=2)
    fig.update_yaxes(type="log", title_text="density", row=1, col=2)
    fig.update_layout(
        title={
            "text": plotly_text(title or "spectrum"),
            "subtitle": {"text": plotly_text(spectral_line(esd.stats))},
        },
        height=420,
        margin={"t": 120},
        legend={"orientation": "h", "y": -0.25},
    )
    return fig


def log_density(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # type: ignore[type-arg]
    """Density of positive ``values`` over 40 log-spaced bins: bin centres and densities, empty
    bins left out."""
    lo, hi = np.log10(values.min()), np.log10(values.max())
    edges = np.logspace(lo, hi + 1e-9 + (1e-6 if hi == lo else 0.0), 41)
    counts, _ = np.histogram(values, bins=edges)
    density = counts / (np.diff(edges) * values.size)
    centres = np.sqrt(edges[:-1] * edges[1:])
    keep = density > 0
    return centres[keep], density[keep]


def spectral_line(stats: SpectralStats) -> str:
    """``alpha 3.62 (D 0.08, 12 of 24 eigenvalues in the tail) · alpha_weighted ...`` as text."""
    if stats.num_pl_spikes < 0:
        alpha = "alpha -1 (the power-law fit failed)"
    else:
        alpha = (
            f"alpha {stats.alpha:.2f} (D {stats.D:.3f}, {stats.num_pl_spikes} of "
            f"{stats.num_evals} eigenvalues in the tail)"
        )
    warning = f" · WeightWatcher warns {stats.warning}" if stats.warning else ""
    scope = " · an extension" if stats.scope == "extension" else ""
    return (
        f"{alpha} · alpha_weighted {stats.alpha_weighted:.2f} · log_norm {stats.log_norm:.2f}"
        f" · log_spectral_norm {stats.log_spectral_norm:.2f} · stable_rank "
        f"{stats.stable_rank:.1f} · matrix_rank {stats.matrix_rank}{warning}{scope}"
    )


def summary_line(summary: dict[str, Any]) -> str:
    """WeightWatcher's ``get_summary`` as one line of text."""
    if not summary.get("layers"):
        return "WeightWatcher analyses no layer of this model."
    parts = [
        f"{name} {summary[name]:.2f}" for name in SUMMARY_METRICS if summary.get(name) is not None
    ]
    extensions = summary.get("extensions", 0)
    more = (
        f"; {extensions} more weight(s) analysed as extensions, left out of the means"
        if extensions
        else ""
    )
    return (
        f"Means over the {summary['layers']} layer(s) WeightWatcher analyses: "
        + ", ".join(parts)
        + more
        + "."
    )


def traps_figure(check: TrapCheck, title: str = "") -> go.Figure:
    """The ESD of the weight and of its permuted values, log-spaced densities on log-log axes,
    with the random-matrix bulk edge and the threshold past which an eigenvalue is a spike."""
    fig = go.Figure()
    heights: list[float] = []
    for values, name in (
        (check.eigenvalues, "the weight"),
        (check.random_eigenvalues, "its values permuted"),
    ):
        positive = values[values > 0]
        if positive.size:
            x, y = log_density(positive)
            heights += [float(y.min()), float(y.max())]
            fig.add_trace(go.Scatter(x=x, y=y, mode="lines+markers", name=name))
    span = [min(heights), max(heights)] if heights else [1e-3, 1.0]
    for at, name, dash, colour in (
        (check.bulk_edge, "Marchenko-Pastur edge", "dot", "grey"),
        (check.threshold, "edge + Tracy-Widom 99%", "dash", SEVERITY_COLOURS["error"]),
    ):
        if at > 0:  # a vertical line with a legend entry (no annotation: log axes)
            fig.add_trace(
                go.Scatter(
                    x=[at, at], y=span, mode="lines", name=name,
                    line={"dash": dash, "color": colour},
                )
            )  # fmt: skip
    fig.update_xaxes(type="log", title_text="eigenvalue of W^T W")
    fig.update_yaxes(type="log", title_text="density")
    fig.update_layout(
        title={
            "text": plotly_text(title or "correlation traps"),
            "subtitle": {
                "text": f"{check.traps} trap(s) in the permuted spectrum · {check.spikes} spike(s)"
                " in the layer's own"
            },
        },
        height=380,
        margin={"t": 110},
        legend={"orientation": "h", "y": -0.25},
    )
    return fig
