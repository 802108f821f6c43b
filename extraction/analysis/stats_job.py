"""A model's background check: every weight's statistics, then (if asked) the health scan, then
the spectral metrics of every weight that has them (``analysis.spectrum``, the costly part), in
a daemon thread, with progress, kept as it goes.

The page starts one job per opened model and shows what is done while the rest computes; the
statistics of a big source are saved to the cache folder every ``SAVE_EVERY_S`` seconds and at
the end (see ``stats_cache``), so an interrupted pass is not lost either. The health scan
(``health.model_findings`` without spectra) comes right after the statistics, which its checks
reuse, then the spectra, smallest first: the verdict and the notes of weights up to
``CHECK_SPECTRA_UP_TO`` values are known in seconds (``checked``), while the spectra of big
weights may take minutes more.

Decided edge cases:
- A weight whose bytes turn out damaged (CorruptFile when read) is skipped; the first such
  message is kept in ``error`` and the job goes on with the others. A scan that cannot read
  the model leaves ``findings`` None, with its message in ``error``.
- Weights that already have statistics (kept from an earlier open) are not counted as work;
  nor are spectra already computed.
- A finished job lets go of the model, so a cache of jobs never holds models the cache of
  opened models has dropped.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from ..errors import KerascopeError
from ..records import ModelWeights
from .diagnostics import Finding
from .health import model_findings
from .spectrum import MEMO_KEY, analysed_weights, spectral_stats
from .stats_cache import save_stats

SAVE_EVERY_S = 10.0
"""How often a running job saves what it has computed."""
NICE = 10
"""How much lower the check's thread runs than the page's."""
CHECK_SPECTRA_UP_TO = 1_000_000
"""Spectra of weights up to this many values are part of the check (their notes come with the
verdict, in well under a second each); bigger ones follow it (VGG16's fc1 takes minutes)."""


def _yield_to_the_page() -> None:
    """Lower this thread's CPU priority (on Linux a thread's nice value is its own), so that
    the page's threads come first while the check runs; elsewhere, nothing."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICE)
    except (AttributeError, OSError):
        pass


def _on_one_blas_thread(work: Callable[[], object]) -> object:
    """``work()`` with BLAS limited to one thread (the calling, lowered one), so a big
    spectrum's eigenvalues leave the other cores to the page."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        return work()


class StatsJob:
    """Checks one model once, in a daemon thread: statistics, with ``health`` the health scan
    (``findings``), then spectra."""

    def __init__(
        self, model: ModelWeights, source: Path | None = None, *, health: bool = False
    ) -> None:
        self._model: ModelWeights | None = model
        self.source = source
        self.health = health
        self.pending = [(la, w) for la, w in model.iter_weights() if not w.has_stats]
        self.spectra = sorted(
            ((la, w) for la, w, _ in analysed_weights(model) if not w.has_computed(MEMO_KEY)),
            key=lambda item: item[1].size,
        )
        self._scan_steps = len(model.weighted_layers()) if health else 0
        self.total = len(self.pending) + self._scan_steps + len(self.spectra)
        self.done = 0
        self.current = ""
        self.error: str | None = None
        self.findings: list[Finding] | None = None
        """The health scan's findings without spectral notes, once it has run (``health``);
        None before, or if the model could not be read."""
        self._stats_finished = threading.Event()
        self._checked = threading.Event()
        self._finished = threading.Event()
        self._last_save = 0.0
        self._thread = threading.Thread(target=self._run, name="kerascope-stats", daemon=True)

    def start(self) -> StatsJob:
        """Start the thread (returns self); a job with nothing to do is finished at once."""
        if not self.pending:
            self._stats_finished.set()
        if not self.total:
            self._release()
        else:
            self._thread.start()
        return self

    @property
    def finished(self) -> bool:
        """Whether every weight has been handled, the scan and every spectrum included."""
        return self._finished.is_set()

    @property
    def stats_finished(self) -> bool:
        """Whether every weight's plain statistics are done (the rest may still run)."""
        return self._stats_finished.is_set()

    @property
    def checked(self) -> bool:
        """Whether the statistics, the health scan and the small weights' spectra are done (big
        ones may still run)."""
        return self._checked.is_set()

    def wait_stats(self, seconds: float) -> bool:
        """Wait up to ``seconds`` for the plain statistics; returns whether they are done."""
        return self._stats_finished.wait(seconds)

    def wait_checked(self, seconds: float) -> bool:
        """Wait up to ``seconds`` for the statistics and the scan; returns whether done."""
        return self._checked.wait(seconds)

    @property
    def spectra_left(self) -> int:
        """Spectra not computed yet."""
        return 0 if self.finished else self.total - max(self.done, self.total - len(self.spectra))

    @property
    def fraction(self) -> float:
        """Share of the work done, 0..1."""
        return min(self.done / self.total, 1.0) if self.total else 1.0

    def wait(self, seconds: float) -> bool:
        """Wait up to ``seconds`` for the job to finish; returns whether it has."""
        return self._finished.wait(seconds)

    def _run(self) -> None:
        model = self._model
        assert model is not None
        self._last_save = time.monotonic()
        _yield_to_the_page()
        try:
            for layer, weight in self.pending:
                self._step(model, f"{layer.path}/{weight.name}", weight.stats)
            self._stats_finished.set()
            if self.health:
                self._scan(model)
            for layer, weight in self.spectra:
                if weight.size > CHECK_SPECTRA_UP_TO:
                    self._checked.set()
                work: Callable[[], object] = partial(spectral_stats, layer, weight)
                if weight.size > CHECK_SPECTRA_UP_TO:  # minutes of eigenvalues: one core
                    work = partial(_on_one_blas_thread, work)
                self._step(model, f"spectrum of {layer.path}/{weight.name}", work)
            if self.source is not None:
                save_stats(model, self.source)
        except Exception as exc:  # a bug must not leave the page waiting forever  # noqa: BLE001
            self.error = self.error or f"internal error {type(exc).__name__}: {exc}"
        finally:
            self._release()

    def _step(self, model: ModelWeights, label: str, work: Callable[[], object]) -> None:
        """One weight's work; a damaged weight is noted, and what is done is saved now and
        then."""
        self.current = label
        try:
            work()
        except KerascopeError as exc:
            self.error = self.error or f"{label}: {exc}"
        self.done += 1
        if self.source is not None and time.monotonic() - self._last_save > SAVE_EVERY_S:
            save_stats(model, self.source)
            self._last_save = time.monotonic()

    def _scan(self, model: ModelWeights) -> None:
        first = self.done

        def progress(fraction: float, message: str) -> None:
            self.done = first + round(fraction * self._scan_steps)
            self.current = message

        try:
            self.findings = model_findings(model, progress=progress, spectra=False)
        except KerascopeError as exc:
            self.error = self.error or f"the health scan could not read the model: {exc}"
        self.done = first + self._scan_steps

    def _release(self) -> None:
        self.current = ""
        self.done = self.total
        self.pending = []
        self.spectra = []
        self._model = None
        self._stats_finished.set()
        self._checked.set()
        self._finished.set()
