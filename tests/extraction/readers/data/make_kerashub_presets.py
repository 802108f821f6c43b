"""How ``llama_tiny/`` and ``llama_tiny_sharded/`` were made (keras-hub 0.32.0, Keras 3.15.1).

keras-hub is not a dependency (installing it pulls a second TensorFlow build), so the two
presets KerasHub itself wrote are kept here (~250 KB); this script remakes them where keras-hub
is installed: ``python tests/extraction/readers/data/make_kerashub_presets.py``.
"""

from pathlib import Path

import keras
import keras_hub

HERE = Path(__file__).resolve().parent

keras.utils.set_random_seed(0)
backbone = keras_hub.models.LlamaBackbone(
    vocabulary_size=64,
    num_layers=2,
    num_query_heads=4,
    hidden_dim=16,
    intermediate_dim=32,
    num_key_value_heads=2,
)
backbone.save_to_preset(str(HERE / "llama_tiny"))
backbone.save_to_preset(str(HERE / "llama_tiny_sharded"), max_shard_size=0.00002)
