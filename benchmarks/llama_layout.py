"""Write a synthetic checkpoint in the real Llama-3.2-1B layout with the ``safetensors`` package.

Tensor names, shapes and dtype are those of Hugging Face's ``meta-llama/Llama-3.2-1B``
(``model.embed_tokens.weight`` (vocab, hidden); per block ``self_attn.{q,k,v,o}_proj.weight``,
``mlp.{gate,up,down}_proj.weight``, ``input_layernorm.weight``,
``post_attention_layernorm.weight``; ``model.norm.weight``; the output projection tied to the
embedding, so no ``lm_head``), split into shards with a ``model.safetensors.index.json`` and a
``config.json`` as ``transformers`` writes them. Values are seeded random bfloat16 (norm scales
near 1, projections ~ N(0, 0.02)). The benchmark writes the full size; tests a tiny one.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np


@dataclass(frozen=True)
class LlamaShape:
    """The sizes of a Llama model; the defaults are Llama-3.2-1B's."""

    layers: int = 16
    hidden: int = 2048
    intermediate: int = 8192
    heads: int = 32
    kv_heads: int = 8
    vocab: int = 128256

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads

    def tensors(self) -> list[tuple[str, tuple[int, ...]]]:
        """Every tensor name and shape, in the order the checkpoint holds them."""
        kv = self.kv_heads * self.head_dim
        out: list[tuple[str, tuple[int, ...]]] = [
            ("model.embed_tokens.weight", (self.vocab, self.hidden))
        ]
        for i in range(self.layers):
            p = f"model.layers.{i}"
            out += [
                (f"{p}.input_layernorm.weight", (self.hidden,)),
                (f"{p}.self_attn.q_proj.weight", (self.hidden, self.hidden)),
                (f"{p}.self_attn.k_proj.weight", (kv, self.hidden)),
                (f"{p}.self_attn.v_proj.weight", (kv, self.hidden)),
                (f"{p}.self_attn.o_proj.weight", (self.hidden, self.hidden)),
                (f"{p}.post_attention_layernorm.weight", (self.hidden,)),
                (f"{p}.mlp.gate_proj.weight", (self.intermediate, self.hidden)),
                (f"{p}.mlp.up_proj.weight", (self.intermediate, self.hidden)),
                (f"{p}.mlp.down_proj.weight", (self.hidden, self.intermediate)),
            ]
        out.append(("model.norm.weight", (self.hidden,)))
        return out

    @property
    def params(self) -> int:
        return sum(int(np.prod(s)) for _, s in self.tensors())


TINY = LlamaShape(layers=2, hidden=64, intermediate=128, heads=4, kv_heads=2, vocab=256)
"""A Llama-layout model of ~ 100 k parameters for tests."""


def write_llama_checkpoint(
    folder: Path, shape: LlamaShape = LlamaShape(), *, shards: int = 2, seed: int = 0
) -> Path:
    """Write ``folder`` (``model-0000i-of-0000n.safetensors``, the index, ``config.json``).

    Shards are written one at a time, so memory holds one shard's arrays at most.
    """
    import ml_dtypes
    from safetensors.numpy import save_file

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    tensors = shape.tensors()
    total = sum(int(np.prod(s)) for _, s in tensors)
    groups: list[list[tuple[str, tuple[int, ...]]]] = [[] for _ in range(shards)]
    done = 0
    for name, dims in tensors:
        groups[min(shards - 1, done * shards // total)].append((name, dims))
        done += int(np.prod(dims))
    weight_map: dict[str, str] = {}
    for i, group in enumerate(groups, start=1):
        file = f"model-{i:05d}-of-{shards:05d}.safetensors"
        arrays: dict[str, Any] = {}
        for name, dims in group:
            if len(dims) == 1:
                values = 1.0 + 0.05 * rng.standard_normal(dims, dtype=np.float32)
            else:
                values = 0.02 * rng.standard_normal(dims, dtype=np.float32)
            arrays[name] = values.astype(ml_dtypes.bfloat16)
            del values
            weight_map[name] = file
        save_file(arrays, str(folder / file), metadata={"format": "pt"})
        del arrays
    index = {"metadata": {"total_size": total * 2}, "weight_map": weight_map}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index, indent=2))
    config = {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_size": shape.hidden,
        "intermediate_size": shape.intermediate,
        "num_hidden_layers": shape.layers,
        "num_attention_heads": shape.heads,
        "num_key_value_heads": shape.kv_heads,
        "vocab_size": shape.vocab,
        "tie_word_embeddings": True,
        "torch_dtype": "bfloat16",
        "kerascope_synthetic": asdict(shape) | {"seed": seed},
    }
    (folder / "config.json").write_text(json.dumps(config, indent=2))
    return folder
