"""Every weight's statistics, then the spectral metrics of every weight that has them
(``analysis.spectrum``, the costly part), computed in a background thread, with progress, kept
as it goes.

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
from collections.abc import Callable
from functools import partial
from pathlib import Path

from ..errors import KerascopeError
from ..records import ModelWeights
from .spectrum import MEMO_KEY, analysed_weights, spectral_stats
from .stats_cache import save_stats

SAVE_EVERY_S = 10.0
"""How often a running job saves what it has computed."""


class StatsJob:
    """Computes the statistics of every weight of one model, once, in a daemon thread."""

    def __init__(self, model: ModelWeights, source: Path | None = None) -> None:
        self.model = model
        self.source = source
        self.pending = [(la, w) for la, w in model.iter_weights() if not w.has_stats]
        self.spectra = [
            (la, w) for la, w, _ in analysed_weights(model) if not w.has_computed(MEMO_KEY)
        ]
        self.total = len(self.pending) + len(self.spectra)
        self.done = 0
        self.current = ""
        self.error: str | None = None
        self._stats_finished = threading.Event()
        self._finished = threading.Event()
        self._last_save = 0.0
        self._thread = threading.Thread(target=self._run, name="kerascope-stats", daemon=True)

    def start(self) -> StatsJob:
        """Start the thread (returns self); a job with nothing to do is finished at once."""
        if not self.pending:
            self._stats_finished.set()
        if not self.pending and not self.spectra:
            self._finished.set()
        else:
            self._thread.start()
        return self

    @property
    def finished(self) -> bool:
        """Whether every weight has been handled."""
        return self._finished.is_set()

    @property
    def stats_finished(self) -> bool:
        """Whether every weight's plain statistics are done (spectra may still be computing)."""
        return self._stats_finished.is_set()

    def wait_stats(self, seconds: float) -> bool:
        """Wait up to ``seconds`` for the plain statistics; returns whether they are done."""
        return self._stats_finished.wait(seconds)

    @property
    def fraction(self) -> float:
        """Share of the work done, 0..1."""
        return self.done / self.total if self.total else 1.0

    def wait(self, seconds: float) -> bool:
        """Wait up to ``seconds`` for the job to finish; returns whether it has."""
        return self._finished.wait(seconds)

    def _run(self) -> None:
        self._last_save = time.monotonic()
        try:
            for layer, weight in self.pending:
                self._step(f"{layer.path}/{weight.name}", weight.stats)
            self._stats_finished.set()
            for layer, weight in self.spectra:
                self._step(
                    f"spectrum of {layer.path}/{weight.name}",
                    partial(spectral_stats, layer, weight),
                )
            if self.source is not None:
                save_stats(self.model, self.source)
        finally:
            self.current = ""
            self._stats_finished.set()
            self._finished.set()

    def _step(self, label: str, work: Callable[[], object]) -> None:
        """One weight's work; a damaged weight is noted, and what is done is saved now and
        then."""
        self.current = label
        try:
            work()
        except KerascopeError as exc:
            self.error = self.error or f"{label}: {exc}"
        self.done += 1
        if self.source is not None and time.monotonic() - self._last_save > SAVE_EVERY_S:
            save_stats(self.model, self.source)
            self._last_save = time.monotonic()
