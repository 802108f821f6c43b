"""The keys of the page's model-scoped state, as AppTest tests name them
(``kerascope.components.page.scope``: every key that belongs to the open model carries it)."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from kerascope.components.page.scope import SCOPE, scoped


def state_key(at: AppTest, name: str, *within: str) -> str:
    """The key ``name`` (narrowed by ``within``: a layer path, a weight) of the model open in
    ``at`` after its last run."""
    return scoped(name, str(at.session_state[SCOPE]), *within)


def settled(at: AppTest, seconds: float = 120.0) -> AppTest:
    """Run ``at`` again until the open model's background check is done (the page shows a
    progress bar while it runs; AppTest does not rerun timed fragments)."""
    import time

    deadline = time.monotonic() + seconds
    while at.get("progress") and time.monotonic() < deadline:
        time.sleep(0.5)
        at.run()
    return at
