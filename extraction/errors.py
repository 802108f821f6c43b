"""The errors extraction raises for bad input; the CLI and the app turn each into one line."""

from __future__ import annotations


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
