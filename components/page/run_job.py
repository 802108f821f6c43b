"""A run's timeline computed in a background thread, so the page draws the snapshot shown first
and fills the timelines, histograms over time and health as the snapshots are read.

One job per version of a run (its folder and ``run_token``), shared by every session that has it
open. Pure Python (no Streamlit): the page keeps the jobs and polls them.

Decided edge cases (each has a test):
- A newer version of the same run folder (a snapshot was added) cancels the older version's job:
  a run written live would otherwise start a full pass per new snapshot. A cancelled job ends
  without a result and says so (``cancelled``); the page reopens the run as it is now.
- A snapshot that cannot be read is in the result with a note (``Timeline.notes``); a run whose
  snapshots turn out to be of different models ends the job with ``error`` (one line) and no
  result; any other failure too, named by its type, so a bug shows as an error box and not a
  dead page.
"""

from __future__ import annotations

import threading

from kerascope.extraction.analysis.timeline import Fill, Timeline, fill_timeline
from kerascope.extraction.errors import KerascopeError
from kerascope.extraction.runs import Run


class TimelineJob:
    """Computes ``timeline(run)`` once, in a daemon thread, with progress."""

    def __init__(self, run: Run) -> None:
        self.run = run
        self.total = len(run.snapshots)
        self.done = 0
        """Snapshots read so far."""
        self.result: Timeline | None = None
        self.error: str | None = None
        self._cancel = threading.Event()
        self._finished = threading.Event()
        self._thread = threading.Thread(target=self._work, name="kerascope-run", daemon=True)

    def start(self) -> TimelineJob:
        """Start the thread (returns self)."""
        self._thread.start()
        return self

    @property
    def finished(self) -> bool:
        """Whether the job has ended (with a result, an error, or cancelled)."""
        return self._finished.is_set()

    @property
    def cancelled(self) -> bool:
        """Whether a newer version of the run stopped this job before its end."""
        return self._cancel.is_set() and self.result is None

    @property
    def fraction(self) -> float:
        """Share of the snapshots read, 0..1."""
        return self.done / self.total if self.total else 1.0

    def wait(self, seconds: float) -> bool:
        """Wait up to ``seconds`` for the job to end; returns whether it has."""
        return self._finished.wait(seconds)

    def cancel(self) -> None:
        """Stop after the snapshot being read (its numbers are kept in the cache)."""
        self._cancel.set()

    def _work(self) -> None:
        last: Fill | None = None
        try:
            for last in fill_timeline(self.run):
                self.done, self.total = last.done, last.total
                if self._cancel.is_set():
                    return  # leaving the loop closes the pass (and its worker request)
            if last is not None:
                self.result = last.timeline()
        except KerascopeError as exc:
            self.error = str(exc)
        except Exception as exc:  # a bug must not leave the page waiting  # noqa: BLE001
            self.error = f"internal error {type(exc).__name__}: {exc}"
        finally:
            self._finished.set()


class TimelineJobs:
    """The jobs of the runs open on the server: one per (folder, version), the newest version
    of a folder cancelling the older ones. Thread-safe."""

    def __init__(self, keep: int = 8) -> None:
        self._keep = keep
        self._jobs: dict[tuple[str, str], TimelineJob] = {}
        self._lock = threading.Lock()

    def get(self, run: Run, token: str) -> TimelineJob:
        """The job of ``run`` at version ``token``, started on first request."""
        key = (run.path, token)
        with self._lock:
            job = self._jobs.get(key)
            if job is not None and not job.cancelled:
                return job
            for (path, other), old in list(self._jobs.items()):
                if path == run.path and other != token:
                    old.cancel()
                    del self._jobs[(path, other)]
            job = TimelineJob(run).start()
            self._jobs[key] = job
            while len(self._jobs) > self._keep:  # the oldest first (dicts keep insertion order)
                oldest = next(iter(self._jobs))
                self._jobs.pop(oldest).cancel()
            return job


__all__ = ["TimelineJob", "TimelineJobs"]
