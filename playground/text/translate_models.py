"""The translation model registry: ``transformer``, ``gru-attention`` and ``lstm-attention``.

Each entry's factory follows the registry convention (:mod:`playground.core.registry`)
``factory(spec: ModelSpec) -> nn.Module`` with ``spec.num_inputs`` = the source vocabulary
size, ``spec.num_outputs`` = the target vocabulary size, ``spec.input_size`` = the longest
sequence in tokens, and ``spec.config`` = the
:class:`~playground.text.translate_train.TranslateConfig`. Every model has the seq2seq
interface of :mod:`playground.text.seq2seq` (``forward(src, tgt_in, return_attention)``,
``encode``, ``decode``, ``max_len``, ``attention_kinds``). ``extra["uses"]`` lists the config
fields a model reads (the form greys out the others); ``extra["attention"]`` names the
attention maps it can return. torch is imported only when a model is built.
"""

from __future__ import annotations

from typing import Any

from playground.core.registry import ModelEntry, ModelSpec, Registry

_COMMON = ("n_embd", "dropout", "tie_embeddings", "max_len")


def _transformer(spec: ModelSpec):
    from playground.text.seq2seq import Seq2SeqConfig, Seq2SeqTransformer
    from playground.text.tokenizers import PAD_ID

    cfg = spec.config
    return Seq2SeqTransformer(Seq2SeqConfig(
        src_vocab_size=spec.num_inputs, tgt_vocab_size=spec.num_outputs, n_layer=cfg.n_layer,
        n_head=cfg.n_head, n_embd=cfg.n_embd, ff_dim=cfg.ff_dim, dropout=cfg.dropout,
        positions=cfg.positions, max_len=spec.input_size, tie_embeddings=cfg.tie_embeddings,
        shared_vocab=cfg.shared_vocab, pad_id=PAD_ID))


def _rnn(cell: str):
    def factory(spec: ModelSpec):
        from playground.text.rnn_attention import RNNAttentionConfig, RNNAttentionSeq2Seq
        from playground.text.tokenizers import PAD_ID

        cfg = spec.config
        return RNNAttentionSeq2Seq(RNNAttentionConfig(
            src_vocab_size=spec.num_inputs, tgt_vocab_size=spec.num_outputs, cell=cell,
            n_embd=cfg.n_embd, hidden=cfg.rnn_hidden, n_layer=cfg.rnn_layers,
            dropout=cfg.dropout, tie_embeddings=cfg.tie_embeddings,
            shared_vocab=cfg.shared_vocab, max_len=spec.input_size, pad_id=PAD_ID))

    return factory


TRANSLATE_MODELS = Registry("translate")
TRANSLATE_MODELS.register(ModelEntry(
    name="transformer", title="Transformer (encoder–decoder)", factory=_transformer,
    family="Transformer",
    description="Vaswani et al. (2017), pre-LayerNorm: an encoder of self-attention blocks, a "
                "decoder of causal self-attention + cross-attention blocks. Options: n_layer, "
                "n_head, n_embd, ff_dim, dropout, positions, tie_embeddings.",
    extra={"attention": ("encoder", "decoder", "cross"),
           "uses": (*_COMMON, "n_layer", "n_head", "ff_dim", "positions")}))
for _cell, _title in (("gru", "GRU"), ("lstm", "LSTM")):
    TRANSLATE_MODELS.register(ModelEntry(
        name=f"{_cell}-attention", title=f"{_title} encoder–decoder with attention",
        factory=_rnn(_cell), family="RNN",
        description=f"Bahdanau et al. (2015): a bidirectional {_title} encoder and a {_title} "
                    "decoder with additive attention over the source. Options: n_embd, "
                    "rnn_hidden, rnn_layers, dropout, tie_embeddings.",
        extra={"attention": ("cross",), "uses": (*_COMMON, "rnn_hidden", "rnn_layers")}))


def build_model(cfg: Any, src_vocab: int, tgt_vocab: int):
    """The model ``cfg.model`` names, sized by ``cfg`` and the two vocabularies."""
    spec = ModelSpec(task="translate", num_outputs=int(tgt_vocab), num_inputs=int(src_vocab),
                     input_size=int(cfg.max_len), config=cfg)
    return TRANSLATE_MODELS.get(cfg.model).factory(spec)
