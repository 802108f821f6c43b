"""Import TensorFlow and Keras without their native start-up chatter on stderr.

TensorFlow 2.21's C++ logging ignores ``TF_CPP_MIN_LOG_LEVEL`` for its first lines (absl
notices, oneDNN) and logs graph warnings while training, which would bury the CLI's one-line
``error: ...`` contract. Those lines are written by C++ straight to file descriptor 2, so the
only way to keep them out is to point that descriptor elsewhere while the native code runs.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator
from typing import Any

_lock = threading.Lock()


@contextlib.contextmanager
def quiet_native_stderr() -> Iterator[None]:
    """Send file descriptor 2 to /dev/null for the block (Python's ``sys.stderr`` too).

    Only the main thread silences: in a server, other threads may be writing real errors.
    """
    from .settings import Settings

    if threading.current_thread() is not threading.main_thread() or Settings.from_env().verbose:
        yield
        return
    with _lock:
        sys.stderr.flush()
        saved = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 2)
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            os.close(devnull)


def import_keras() -> Any:
    """``import keras`` (and TensorFlow under it), quietly."""
    if "keras" in sys.modules:
        return sys.modules["keras"]
    with quiet_native_stderr():
        import keras
    return keras


def import_tensorflow() -> Any:
    """``import tensorflow``, quietly."""
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    with quiet_native_stderr():
        import tensorflow
    return tensorflow
