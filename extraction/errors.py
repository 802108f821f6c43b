"""The errors extraction raises for bad input; the CLI and the app turn each into one line."""

from __future__ import annotations

import errno
import re


class KerascopeError(Exception):
    """Base of every error caused by the input rather than by a bug."""


class SourceNotFound(KerascopeError):
    """The path, demo name or model-folder entry does not exist."""


class UnsupportedFormat(KerascopeError):
    """The bytes are not a model format Kerascope can read."""


class CorruptFile(KerascopeError):
    """The file claims a known format but its contents are broken."""


class UnsafeModel(KerascopeError):
    """Reading the file would run code or allocate without bound, so it is refused."""


class LayerNotFound(KerascopeError, KeyError):
    """A layer path that the model does not have."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class ModelNeedsLiveKeras(KerascopeError):
    """A feature needs a runnable model but this source can only be read."""


class WeightsUnavailable(KerascopeError):
    """Pretrained weights were asked for but cannot be fetched (offline) and are not cached."""


class ReaderCrashed(KerascopeError):
    """The sandboxed reader crashed, hung or ran out of memory on the file (see readers/worker)."""


class SandboxUnavailable(KerascopeError):
    """The reader worker could not confine itself fully and ``KERASCOPE_WORKER_SANDBOX=require``."""


_OBJECT_REPR = re.compile(r"<[^<>]*\bat 0x[0-9a-fA-F]+>")
_ADDRESS = re.compile(r"\b0x[0-9a-fA-F]{6,}\b")
_CLASS_NAME = re.compile(r"\b[A-Za-z_.]*(?:Error|Exception|Warning)\b:?\s*")
_MAX_FAULT_CHARS = 300


def fault_text(exc: BaseException) -> str:
    """What a parser's own failure on a damaged file says about the file, as one line of plain
    words: never a Python exception's name, an object's address or a traceback.

    A reader turns the failures it expects into messages of its own; this is for the rest (a
    parser that raised where the file broke a rule it assumed), so a user still reads what is
    wrong with the file, not what went wrong in Python. Our own errors keep their message.
    """
    if isinstance(exc, KerascopeError):
        return " ".join(str(exc).split())[:_MAX_FAULT_CHARS]
    if isinstance(exc, SystemError):
        # h5py leaves an error set inside a callback (a link name that is not UTF-8) and its
        # lock then reports "<cyfunction FastRLock.__exit__ at 0x...> returned a result with an
        # exception set": the cause is what the file did.
        cause = exc.__cause__ or exc.__context__
        if cause is not None and not isinstance(cause, SystemError):
            return fault_text(cause)
        return "its parser failed on damaged structure"
    if isinstance(exc, RecursionError):
        return "its structure nests too deeply to be read"
    if isinstance(exc, MemoryError) or (isinstance(exc, OSError) and exc.errno == errno.ENOMEM):
        return "reading it needs more memory than it may take"
    if isinstance(exc, UnicodeDecodeError):
        raw = bytes(exc.object[:60])
        return f"a name in it is not valid UTF-8 text ({raw!r})"
    if isinstance(exc, UnicodeError):
        return "a name in it is not valid text"
    if isinstance(exc, KeyError):
        detail = _plain(exc)
        return "it refers to parts it does not have" + (f" ({detail})" if detail else "")
    if isinstance(exc, IndexError):
        return "it refers to parts it does not have"
    if isinstance(exc, EOFError):
        return "it ends before its structure does"
    text = _plain(exc)
    return text or "its parser failed on damaged data"


def _plain(exc: BaseException) -> str:
    """``exc``'s message on one line, without object addresses or exception class names."""
    text = " ".join(str(exc).split())
    text = _OBJECT_REPR.sub("an internal object", text)
    text = _ADDRESS.sub("an address", text)
    text = _CLASS_NAME.sub("", text).strip(" :")
    if text.startswith("'") and text.endswith("'") and isinstance(exc, KeyError):
        text = f"no {text}"
    return text[:_MAX_FAULT_CHARS]
