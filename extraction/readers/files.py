"""``read_file``: the records of a model file, read without Keras.

One reader per format (``sniff`` tells which); each lists layers and shapes at once and reads
an array only when something asks for it. Only the SavedModel/checkpoint reader imports
TensorFlow, and then only its checkpoint reader (never ``tf.saved_model.load``).
"""

from __future__ import annotations

from pathlib import Path

from ..errors import UnsupportedFormat
from ..records import ModelWeights, SourceFormat


def read_file(path: Path, fmt: SourceFormat) -> ModelWeights:
    """The records of the model at ``path``, read in format ``fmt`` (from ``sniff``).

    Raises:
        UnsupportedFormat: ``fmt`` is not a file format (``live``, ``demo``).
        CorruptFile, UnsafeModel: see each reader.
    """
    path = Path(path)
    if fmt == "keras_zip":
        from .keras_zip import read_keras_zip

        return read_keras_zip(path)
    if fmt in ("h5_model", "h5_weights"):
        from .hdf5 import read_hdf5

        return read_hdf5(path, fmt)
    if fmt in ("saved_model", "checkpoint"):
        from .saved_model import read_saved_model

        records: ModelWeights = read_saved_model(path, fmt)
        return records
    raise UnsupportedFormat(
        f"cannot read format {fmt!r} from a file; expected one of keras_zip, h5_model, "
        "h5_weights, saved_model, checkpoint"
    )
