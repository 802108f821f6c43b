"""Every weight's statistics computed in a background thread, with progress, kept as it goes.

The page starts one job per opened model and shows what is done while the rest computes; the
statistics of a big source are saved to the cache folder every ``SAVE_EVERY_S`` seconds and at
the end (see ``stats_cache``), so an interrupted pass is not lost either.

Decided edge cases:
- A weight whose bytes turn out damaged (CorruptFile when read) is skipped; the first such
  message is kept in ``error`` and the job goes on with the others.
- Weights that already have statistics (kept from an earlier open) are not counted as work.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from ..errors import KerascopeError
from ..records import ModelWeights
from .stats_cache import save_stats

SAVE_EVERY_S = 10.0
"""How often a running job saves what it has computed."""


class StatsJob:
    """Computes the statistics of every weight of one model, once, in a daemon thread."""

    def __init__(self, model: ModelWeights, source: Path | None = None) -> None:
        self.model = model
        self.source = source
        self.pending = [(la, w) for la, w in model.iter_weights() if not w.has_stats]
        self.total = len(self.pending)
        self.done = 0
        self.current = ""
        self.error: str | None = None
        self._finished = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kerascope-stats", daemon=True)

    def start(self) -> StatsJob:
        """Start the thread (returns self); a job with nothing to do is finished at once."""
        if not self.pending:
            self._finished.set()
        else:
            self._thread.start()
        return self

    @property
    def finished(self) -> bool:
        """Whether every weight has been handled."""
        return self._finished.is_set()

    @property
    def fraction(self) -> float:
        """Share of the work done, 0..1."""
        return self.done / self.total if self.total else 1.0

    def wait(self, seconds: float) -> bool:
        """Wait up to ``seconds`` for the job to finish; returns whether it has."""
        return self._finished.wait(seconds)

    def _run(self) -> None:
        last_save = time.monotonic()
        try:
            for layer, weight in self.pending:
                self.current = f"{layer.path}/{weight.name}"
                try:
                    weight.stats()
                except KerascopeError as exc:
                    self.error = self.error or f"{self.current}: {exc}"
                self.done += 1
                if self.source is not None and time.monotonic() - last_save > SAVE_EVERY_S:
                    save_stats(self.model, self.source)
                    last_save = time.monotonic()
            if self.source is not None:
                save_stats(self.model, self.source)
        finally:
            self.current = ""
            self._finished.set()
