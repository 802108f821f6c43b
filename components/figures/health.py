"""Figures of the Health panel: findings, one sentence each, their colours, and on demand the
spectrum of a 2-D (or conv) weight with WeightWatcher's alpha.

Pure (tested); ``components.page.health_view`` puts findings and figure on the page.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from kerascope.extraction.analysis.diagnostics import Finding
from kerascope.extraction.analysis.spectrum import Spectrum

from .text import plotly_text

_SHOWN_INDICES = 20
SEVERITY_COLOURS: dict[str, str] = {
    "error": "#d62728",
    "warning": "#ff7f0e",
    "info": "#1f77b4",
    "ok": "#2ca02c",
}
"""One colour per severity (and ``ok``), shared by the table, the overview and the list."""
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


def spectrum_figure(spec: Spectrum, title: str = "") -> go.Figure:
    """Singular values (left) and the ESD on log-log axes with the fitted power law (right)."""
    fig = make_subplots(
        rows=1, cols=2, subplot_titles=("singular values", "eigenvalue density (log-log)")
    )
    sv = spec.singular_values
    fig.add_trace(
        go.Scatter(x=np.arange(1, sv.size + 1), y=sv, mode="lines+markers", name="singular value"),
        row=1,
        col=1,
    )
    evals = spec.eigenvalues[spec.eigenvalues > 0]
    if evals.size:
        edges = np.logspace(np.log10(evals.min()), np.log10(evals.max()) + 1e-9, 40)
        counts, _ = np.histogram(evals, bins=edges)
        density = counts / (np.diff(edges) * evals.size)
        centres = np.sqrt(edges[:-1] * edges[1:])
        keep = density > 0
        fig.add_trace(
            go.Scatter(x=centres[keep], y=density[keep], mode="markers", name="ESD"), row=1, col=2
        )
        fit = spec.fit
        if fit is not None:
            xs = np.logspace(np.log10(fit.xmin), np.log10(evals.max()), 20)
            tail = fit.n_tail / evals.size
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
    alpha = f"alpha = {spec.fit.alpha:.2f}" if spec.fit else "no power-law fit"
    fig.update_layout(
        title={
            "text": plotly_text(title or "spectrum"),
            "subtitle": {"text": f"stable rank {spec.stable_rank:.2f}; {alpha}"},
        },
        height=400,
        margin={"t": 120},
        legend={"orientation": "h", "y": -0.25},
    )
    return fig
