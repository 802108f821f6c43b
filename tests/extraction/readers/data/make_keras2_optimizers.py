"""How ``keras2_optimizers/`` was made (tf_keras 2.21.0, TensorFlow 2.21.0): Keras 2's own
files with optimizer state, after fitting with Adam, RMSprop (momentum, centered) and SGD with
momentum: a legacy ``.h5`` (``optimizer_weights`` by name), a ``.keras`` (Keras 2's
``optimizer/vars``) and a ``tf.train.Checkpoint`` (the optimizer's ``_variables``).

tf_keras is not a dependency (Keras 3 is), so the files it wrote are kept here (~200 KB); this
script remakes them where tf_keras is installed:
``python tests/extraction/readers/data/make_keras2_optimizers.py``.
"""

import os
from pathlib import Path

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import numpy as np
import tensorflow as tf
import tf_keras as keras

HERE = Path(__file__).resolve().parent / "keras2_optimizers"

rng = np.random.default_rng(0)
x = rng.normal(size=(64, 6)).astype("float32")
y = rng.normal(size=(64, 2)).astype("float32")
for name, optimizer in [
    ("adam", keras.optimizers.Adam(1e-3)),
    ("rmsprop", keras.optimizers.RMSprop(momentum=0.9, centered=True)),
    ("sgd", keras.optimizers.SGD(0.01, momentum=0.9)),
]:
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.layers.Dense(4, activation="relu", name="hidden", input_shape=(6,)),
            keras.layers.Dense(2, name="out"),
        ]
    )
    model.compile(optimizer, "mse")
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    model.save(HERE / f"{name}.h5")
    model.save(HERE / f"{name}.keras")
    tf.train.Checkpoint(model=model, optimizer=optimizer).write(str(HERE / f"ckpt_{name}/ckpt"))
