"""Model files that open but hold a weight that cannot be read, made with h5py.

Each copies a real Keras file and replaces one dataset (a weight) with one whose bytes fail
only when they are read: the file's structure is intact, so it opens, lists its layers and its
other weights read as usual.

- ``deflate``: one gzip chunk whose deflate stream is damaged (HDF5: "filter returned failure
  during read").
- ``cut``: one gzip chunk holding only the first half of its deflate stream (a truncated
  dataset).
- ``filter``: stored with HDF5 filter 32015, which this h5py does not have (HDF5 then searches
  its plugin folder and fails).
- ``chunks``: the chunk bomb: every value in a gzip chunk of its own. Reading 3 million of
  them makes HDF5 allocate bookkeeping for each chunk beyond the worker's memory ("memory
  allocation failed for chunk", after about 30 s); building such a file takes about a minute.
"""

from __future__ import annotations

import shutil
import zipfile
import zlib
from pathlib import Path
from typing import Literal

import h5py
import numpy as np

Damage = Literal["deflate", "cut", "filter", "chunks"]
UNKNOWN_FILTER = 32015
"""A registered HDF5 filter id (Zstandard) that h5py does not ship."""


def damaged_copy(src: Path, out: Path, dataset: str, damage: Damage) -> Path:
    """``src`` (an HDF5 file) copied to ``out`` with ``dataset`` replaced as ``damage`` says,
    its shape, dtype and attributes kept."""
    shutil.copy(src, out)
    with h5py.File(out, "r+") as f:
        old = f[dataset]
        shape, dtype = old.shape, old.dtype
        attrs = dict(old.attrs)
        del f[dataset]
        values = np.random.default_rng(0).random(shape).astype(dtype)
        if damage == "chunks":
            ones = (1,) * len(shape)
            new = f.create_dataset(dataset, data=values, chunks=ones, compression="gzip")
        elif damage == "cut":
            new = f.create_dataset(dataset, shape, dtype, chunks=shape, compression="gzip")
            stream = zlib.compress(values.tobytes())
            new.id.write_direct_chunk((0,) * len(shape), stream[: len(stream) // 2])
        else:
            new = f.create_dataset(dataset, data=values, chunks=shape, compression="gzip")
        for key, value in attrs.items():
            new.attrs[key] = value
        chunk = new.id.get_chunk_info(0)
    data = bytearray(out.read_bytes())
    if damage == "deflate":  # keep the 2-byte zlib header, garble the stream after it
        for i in range(chunk.byte_offset + 2, chunk.byte_offset + chunk.size):
            data[i] ^= 0x5A
    elif damage == "filter":  # the pipeline message names the filter: deflate's id (1) -> ours
        at = data.find(b"deflate\x00")
        assert at > 0 and data.find(b"deflate\x00", at + 1) < 0, "one deflate pipeline expected"
        # version 1 message: id (2 bytes), name length (2), flags (2), values (2), name
        data[at - 8 : at - 6] = UNKNOWN_FILTER.to_bytes(2, "little")
        data[at - 4 : at - 2] = b"\x00\x00"  # mandatory: HDF5 must not skip it
    out.write_bytes(bytes(data))
    return out


def with_weights(keras_file: Path, weights: Path, out: Path) -> Path:
    """``keras_file`` (a ``.keras`` zip) with its ``model.weights.h5`` replaced by ``weights``."""
    with zipfile.ZipFile(keras_file) as src, zipfile.ZipFile(out, "w") as dst:
        for name in src.namelist():
            if name == "model.weights.h5":
                dst.write(weights, name)
            else:
                dst.writestr(name, src.read(name))
    return out
