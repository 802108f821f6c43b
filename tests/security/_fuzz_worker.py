"""Fuzz worker: open each file listed in ``argv[1]`` through the library, one JSON line each.

Run as a subprocess so that a crash (h5py in C on corrupt bytes) or a hang is caught by the
parent and pinned on one file. For file ``i`` it prints ``{"start": i}`` before touching it and
``{"done": i, "outcome": ...}`` after: ``ok``, ``error`` (a KerascopeError, with its class
and message), ``timeout`` (``signal.alarm`` fired) or ``bad`` (anything else, with the
traceback's last lines). Every array is read and its statistics computed.
"""

from __future__ import annotations

import gc
import json
import signal
import sys
import traceback
from pathlib import Path
from typing import Any


class FileTimeout(BaseException):
    """One file took longer than its time bound."""


def _alarm(_signum: int, _frame: Any) -> None:
    raise FileTimeout


def _emit(record: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(record) + "\n")
    sys.stdout.flush()


def main() -> None:
    from kerascope.extraction import open_model
    from kerascope.extraction.errors import KerascopeError

    paths = Path(sys.argv[1]).read_text().splitlines()
    first, seconds = int(sys.argv[2]), int(sys.argv[3])
    signal.signal(signal.SIGALRM, _alarm)
    for i in range(first, len(paths)):
        _emit({"start": i})
        record: dict[str, Any] = {"done": i}
        signal.alarm(seconds)
        try:
            model = open_model(Path(paths[i]))
            for _, weight in model.iter_weights():
                weight.stats()
            record["outcome"] = "ok"
            del model
        except KerascopeError as exc:
            record.update(outcome="error", type=type(exc).__name__, message=str(exc))
        except FileTimeout:
            record.update(outcome="timeout")
        except BaseException as exc:  # the finding: report it, go on  # noqa: BLE001
            lines = traceback.format_exception(exc)
            record.update(outcome="bad", type=type(exc).__name__, message="".join(lines[-6:]))
        finally:
            signal.alarm(0)
        gc.collect()
        _emit(record)


if __name__ == "__main__":
    main()
