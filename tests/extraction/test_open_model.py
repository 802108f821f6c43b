"""open_model's choices: the file readers by default, Keras only for a live model, notes when
Keras cannot load what the readers can read, uploads through a private temporary folder."""

from __future__ import annotations

import gc
import subprocess
import sys
import tempfile
from pathlib import Path

import keras
import numpy as np
import pytest
from keras import layers

from kerascope.extraction import UnsafeModel, open_model

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def small_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    inputs = keras.Input((4,))
    model = keras.Model(inputs, layers.Dense(2, name="d")(inputs), name="small")
    path = tmp_path_factory.mktemp("open") / "small.keras"
    model.save(path)
    return path


def test_files_are_read_without_importing_tensorflow(small_file: Path) -> None:
    code = (
        "import sys\nfrom kerascope.extraction import open_model\n"
        f"m = open_model({str(small_file)!r})\n"
        "print(m.format, m.live_model is None, [w.array().shape for _, w in m.iter_weights()],"
        " 'tensorflow' in sys.modules, 'keras' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert done.stdout.split("\n")[0] == "keras_zip True [(4, 2), (2,)] False False"


def test_live_loads_with_keras(small_file: Path) -> None:
    records = open_model(small_file, live=True)
    assert isinstance(records.live_model, keras.Model)
    assert not records.notes


def test_keras_failure_is_a_note_when_the_file_can_be_read(realworld: Path) -> None:
    records = open_model(realworld / "style_transfer_keras2.keras", live=True)
    assert records.live_model is None
    assert any("Keras could not load it" in n for n in records.notes)
    assert sum(1 for _ in records.iter_weights()) > 10


def test_lambda_code_never_runs_but_other_weights_show(tmp_path: Path) -> None:
    inputs = keras.Input((3,))
    x = layers.Dense(4, name="before")(inputs)
    x = layers.Lambda(lambda t: t * 2.0, name="double")(x)
    model = keras.Model(inputs, layers.Dense(1, name="after")(x))
    path = tmp_path / "lambda.keras"
    model.save(path)
    records = open_model(path)
    assert [w.name for w in records.layer("before").weights] == ["kernel", "bias"]
    np.testing.assert_array_equal(
        records.layer("after").weight("kernel").array(),
        keras.ops.convert_to_numpy(model.get_layer("after").kernel),
    )
    live = open_model(path, live=True)
    assert live.live_model is None
    assert any("Lambda" in n and "double" in n for n in live.notes)
    from kerascope.extraction.api import load_live_model

    with pytest.raises(UnsafeModel, match="Lambda layers \\(double\\)"):
        load_live_model(path)


def test_upload_bytes_use_a_private_folder_removed_afterwards(small_file: Path) -> None:
    before = set(Path(tempfile.gettempdir()).glob("kerascope-upload-*"))
    records = open_model(small_file.read_bytes(), name="../../evil name.keras")
    assert records.source == "evil name.keras"
    created = set(Path(tempfile.gettempdir()).glob("kerascope-upload-*")) - before
    (folder,) = created
    assert folder.stat().st_mode & 0o777 == 0o700
    assert records.layer("d").weight("kernel").array().shape == (4, 2)
    del records
    gc.collect()
    assert not folder.exists()


def test_upload_of_a_zipped_saved_model(tmp_path: Path) -> None:
    import shutil

    inputs = keras.Input((3,))
    model = keras.Model(inputs, layers.Dense(2, name="head")(inputs))
    model.export(tmp_path / "exported", verbose=False)
    archive = shutil.make_archive(str(tmp_path / "exported"), "zip", tmp_path, "exported")
    records = open_model(Path(archive).read_bytes(), name="exported.zip")
    arrays = sorted(w.array().shape for _, w in records.iter_weights())
    assert arrays == [(2,), (3, 2)]


def test_empty_upload_is_refused() -> None:
    from kerascope.extraction import UnsupportedFormat

    with pytest.raises(UnsupportedFormat, match="empty"):
        open_model(b"", name="x.keras")


def test_a_layer_or_weight_kept_alone_keeps_its_file_open(small_file: Path) -> None:
    weight = open_model(small_file).layer("d").weight("kernel")
    gc.collect()
    assert weight.array().shape == (4, 2)
    layer = open_model("demo:digits_mlp").layer("hidden1")
    gc.collect()
    assert layer.weight("bias").array().shape == (64,)
