"""Shrink a ``transformers`` config generically, in place, nested sub-configs included:
the main widths to :data:`WIDTH` (other widths kept in ratio, and a width another config
refers to with it), :data:`HEADS` heads (:data:`KV_HEADS` key/value heads),
:data:`LAYERS` layers, 4 experts, vocabularies to :data:`VOCAB`, images to :data:`IMAGE`
pixels, latent attention and rotary widths with the heads. Used by
``scripts/sweep_transformers.py``."""

from __future__ import annotations

from typing import Any

WIDTH = 64  # the main width every config is shrunk to
HEADS = 4
KV_HEADS = 2
LAYERS = 4  # the depth criterion compares the second half of the blocks with the first
VOCAB = 512
IMAGE = 64
# int fields scaled with the main width (their ratio to it kept)
WIDTH_KEYS = {
    "hidden_size",
    "d_model",
    "n_embd",
    "embed_dim",
    "dim",
    "word_embed_proj_dim",
    "intermediate_size",
    "ffn_dim",
    "encoder_ffn_dim",
    "decoder_ffn_dim",
    "d_ff",
    "n_inner",
    "projection_dim",
    "hidden_dim",
    "text_embed_dim",
    "vision_embed_dim",
    "moe_intermediate_size",
    "shared_expert_intermediate_size",
    "encoder_hidden_size",
    "decoder_hidden_size",
    "embedding_size",
    "d_inner",
    "mlp_dim",
    "ffn_hidden_size",
    "cross_attention_hidden_size",
    "hidden_size_per_head",
    "projection_size",
    "proj_size",
    "expert_intermediate_size",
}
WIDTH_LISTS = {"hidden_sizes", "embed_dims", "dims", "num_channels_list", "widths"}
HEAD_KEYS = {
    "num_attention_heads",
    "n_head",
    "n_heads",
    "encoder_attention_heads",
    "decoder_attention_heads",
    "num_heads",
    "attention_heads",
}
KV_KEYS = {"num_key_value_heads", "n_kv_heads", "num_kv_heads", "multi_query_group_num"}
HEAD_DIM_KEYS = {"head_dim", "d_kv", "kv_channels", "attention_head_dim", "qk_head_dim"}
LAYER_KEYS = {
    "num_hidden_layers",
    "n_layer",
    "n_layers",
    "num_layers",
    "encoder_layers",
    "decoder_layers",
    "num_decoder_layers",
    "num_encoder_layers",
}
DEPTH_LISTS = {"depths", "num_layers_per_stage", "block_repeats", "layers_per_stage"}
#: attention widths below one head: multi-head latent attention's ranks and split head,
#: a partial rotary width (each a function of the new head width)
LATENT_KEYS = {
    "qk_rope_head_dim": lambda h: h // 2, "qk_nope_head_dim": lambda h: h // 2,
    "v_head_dim": lambda h: h, "kv_lora_rank": lambda h: 2 * h, "q_lora_rank": lambda h: 2 * h,
    "rotary_dim": lambda h: h, "rotary_emb_base_dim": lambda h: h,
}  # fmt: skip
EXPERT_KEYS = {"num_experts", "num_local_experts", "n_routed_experts", "moe_num_experts"}


def _scaled(value: int, factor: float, multiple: int = 1) -> int:
    return max(multiple, round(value * factor / multiple) * multiple)


def _main_widths(config: Any, seen: set[int]) -> set[int]:
    """Every config's main width in the tree (a width another config refers to, such as
    a Q-Former's ``encoder_hidden_size``, becomes :data:`WIDTH` with it)."""
    from transformers import PretrainedConfig

    if id(config) in seen:
        return set()
    seen.add(id(config))
    d = config.__dict__
    out = {
        d[k] for k in ("hidden_size", "d_model", "n_embd", "embed_dim") if isinstance(d.get(k), int)
    }
    for v in d.values():
        if isinstance(v, PretrainedConfig):
            out |= _main_widths(v, seen)
    return out


def shrink(config: Any, seen: set[int] | None = None, mains: set[int] | None = None) -> Any:
    """Shrink a ``PretrainedConfig`` in place, nested sub-configs included; return it."""
    from transformers import PretrainedConfig

    mains = _main_widths(config, set()) if mains is None else mains
    seen = set() if seen is None else seen
    if id(config) in seen:
        return config
    seen.add(id(config))
    d = config.__dict__
    main = next(
        (
            d[k]
            for k in ("hidden_size", "d_model", "n_embd", "embed_dim", "dim")
            if isinstance(d.get(k), int) and d[k] > WIDTH
        ),
        None,
    )
    factor = WIDTH / main if main else 1.0
    heads = next((d[k] for k in HEAD_KEYS if isinstance(d.get(k), int)), None)
    new_heads = min(heads, HEADS) if heads else None
    for key, value in list(d.items()):
        if isinstance(value, PretrainedConfig):
            shrink(value, seen, mains)
        elif isinstance(value, bool) or value is None:
            continue
        elif key in WIDTH_KEYS and isinstance(value, int) and value in mains and value > WIDTH:
            d[key] = WIDTH  # another config's width, or this one's
        elif key in WIDTH_KEYS and isinstance(value, int) and factor < 1:
            d[key] = _scaled(value, factor, new_heads or 1)
        elif key.endswith(("intermediate_size", "codebook_dim")) and isinstance(value, int):
            d[key] = min(value, 4 * WIDTH)  # a sub-model's widths named by prefix
        elif key == "codebook_size" and isinstance(value, int):
            d[key] = min(value, VOCAB)
        elif key in ("base_channels", "latent_channels", "ch") and isinstance(value, int):
            d[key] = min(value, 32)  # a VQ-GAN tokenizer's widths
        elif key in ("num_res_blocks", "layers_per_block") and isinstance(value, int):
            d[key] = min(value, 1)
        elif key == "resolution" and isinstance(value, int):
            d[key] = min(value, IMAGE)
        elif key in WIDTH_LISTS and isinstance(value, list | tuple) and value:
            if all(isinstance(v, int) for v in value) and max(value) > WIDTH:
                f = 2 * WIDTH / max(value)
                d[key] = type(value)(_scaled(v, f, 32) for v in value)
        elif key in HEAD_KEYS and isinstance(value, int):
            d[key] = min(value, HEADS)
        elif key in HEAD_KEYS and isinstance(value, list | tuple):
            d[key] = type(value)(min(v, HEADS) for v in value)
        elif key in KV_KEYS and isinstance(value, int):
            d[key] = min(value, KV_HEADS)
        elif key in LAYER_KEYS and isinstance(value, int):
            d[key] = min(value, LAYERS)
        elif key in DEPTH_LISTS and isinstance(value, list | tuple):
            d[key] = type(value)(min(v, 1) if isinstance(v, int) else v for v in value)
        elif key in EXPERT_KEYS and isinstance(value, int):
            d[key] = min(value, 4)
        elif key == "num_experts_per_tok" and isinstance(value, int):
            d[key] = min(value, 2)
        elif key == "image_size" and isinstance(value, int) and value > IMAGE:
            patch = d.get("patch_size")
            if not isinstance(patch, int) or patch <= IMAGE // 4:
                d[key] = IMAGE
    width = next(
        (
            d[k]
            for k in ("hidden_size", "d_model", "n_embd", "embed_dim")
            if isinstance(d.get(k), int)
        ),
        None,
    )
    for key in HEAD_DIM_KEYS:  # keep an explicit head width consistent with the new heads
        if isinstance(d.get(key), int) and width and new_heads:
            d[key] = max(8, width // new_heads)
    head = max(8, width // new_heads) if width and new_heads else 16
    for key, value in LATENT_KEYS.items():  # multi-head latent attention, partial rotary
        if isinstance(d.get(key), int) and d[key] > value(head):
            d[key] = value(head)
    for key in ("layer_types", "mlp_only_layers", "block_types"):
        if isinstance(d.get(key), list) and len(d[key]) > LAYERS:
            layers = next((d[k] for k in LAYER_KEYS if isinstance(d.get(k), int)), LAYERS)
            d[key] = d[key][:layers]
    vocab = d.get("vocab_size")
    if isinstance(vocab, int) and vocab > VOCAB:
        d["vocab_size"] = VOCAB
        for key, value in list(d.items()):  # special tokens inside the new vocabulary
            if key.endswith("token_id") and isinstance(value, int) and value >= VOCAB:
                d[key] = VOCAB - 1 - (value % 16)
            elif key.endswith("token_id") and isinstance(value, list):
                d[key] = [v if v < VOCAB else VOCAB - 1 - (v % 16) for v in value]
    return config
