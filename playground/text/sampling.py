"""Choosing the next token: temperature, top-k and top-p (nucleus) filtering, and streaming.

The filters are pure functions on a ``(..., V)`` tensor of logits; each returns new logits
with the excluded tokens set to ``-inf`` (so a softmax gives them probability 0):

* ``apply_temperature(logits, t)``: divide by ``t`` (t < 1 sharpens, t > 1 flattens);
* ``top_k_filter(logits, k)``: keep the ``k`` most likely tokens (``k <= 0``: keep all);
* ``top_p_filter(logits, p)``: keep the smallest set of most likely tokens whose probabilities
  add up to at least ``p`` (Holtzman et al., 2019, "The Curious Case of Neural Text
  Degeneration"); ``p >= 1``: keep all. The most likely token is always kept.

``sample_next`` draws from the filtered distribution (``temperature <= 0`` means greedy:
always the most likely token). ``iter_tokens`` / ``generate_stream`` run a model
autoregressively from a prompt, cropping the context to the model's ``block_size`` (a GPT's
position table has no more rows; an LSTM instead carries its state and reads one token a step),
and decode incrementally so a character split across several pieces appears whole.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from playground.core.errors import ConfigError
from playground.text.tokenizers import Tokenizer


def apply_temperature(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    if temperature <= 0:
        raise ConfigError("Temperature must be above 0 for sampling (0 means greedy).")
    return logits / temperature


def top_k_filter(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Keep the ``k`` largest logits along the last axis; the rest become ``-inf``."""
    if k <= 0 or k >= logits.size(-1):
        return logits
    kth = torch.topk(logits, k, dim=-1).values[..., -1:]  # (..., 1)
    return logits.masked_fill(logits < kth, float("-inf"))


def top_p_filter(logits: torch.Tensor, p: float) -> torch.Tensor:
    """Keep the smallest most-likely set with total probability >= ``p`` (the nucleus)."""
    if p >= 1.0:
        return logits
    if p <= 0.0:
        p = 1e-9  # degenerate nucleus: just the most likely token
    sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
    probs = torch.softmax(sorted_logits, dim=-1)
    before = torch.cumsum(probs, dim=-1) - probs  # mass of the more likely tokens
    remove_sorted = before >= p                   # the first token always has before == 0
    remove = torch.zeros_like(remove_sorted).scatter(-1, order, remove_sorted)
    return logits.masked_fill(remove, float("-inf"))


def filter_logits(logits: torch.Tensor, temperature: float = 1.0, top_k: int = 0,
                  top_p: float = 1.0) -> torch.Tensor:
    """Temperature, then top-k, then top-p."""
    return top_p_filter(top_k_filter(apply_temperature(logits, temperature), top_k), top_p)


def sample_next(logits: torch.Tensor, temperature: float = 1.0, top_k: int = 0,
                top_p: float = 1.0, generator: torch.Generator | None = None) -> torch.Tensor:
    """Next token ids ``(B,)`` from logits ``(B, V)``; ``temperature <= 0`` is greedy."""
    logits = logits.float()
    if temperature <= 0:
        return logits.argmax(dim=-1)
    probs = torch.softmax(filter_logits(logits, temperature, top_k, top_p), dim=-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


def check_sampling(temperature: float, top_k: int, top_p: float, max_new_tokens: int) -> None:
    if max_new_tokens < 0:
        raise ConfigError(f"Max new tokens must be 0 or more; got {max_new_tokens}.")
    if temperature < 0:
        raise ConfigError(f"Temperature must be 0 (greedy) or more; got {temperature}.")
    if top_k < 0:
        raise ConfigError(f"Top-k must be 0 (off) or more; got {top_k}.")
    if not 0.0 < top_p <= 1.0:
        raise ConfigError(f"Top-p must be above 0 and at most 1 (1 = off); got {top_p}.")


def prompt_ids(tokenizer: Tokenizer, prompt: str) -> list[int]:
    """The prompt's ids (unknown characters raise TokenizerError); an empty prompt starts
    from a newline, or from token 0 when the vocabulary has no newline."""
    if prompt:
        return tokenizer.encode(prompt, strict=True)
    if not tokenizer.unknown_chars("\n"):
        ids = tokenizer.encode("\n")
        if ids:
            return ids
    return [0]


def _device_of(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


@torch.no_grad()
def iter_tokens(model: torch.nn.Module, tokenizer: Tokenizer, prompt: str,
                max_new_tokens: int = 200, temperature: float = 1.0, top_k: int = 0,
                top_p: float = 1.0, seed: int | None = None) -> Iterator[tuple[int, str]]:
    """Yield ``(token_id, text)`` for every new token; ``text`` is what that token completes
    (empty while a multi-byte character is incomplete). A last ``(-1, text)`` may follow with
    text held back at the end. The model is put in eval mode and restored afterwards."""
    check_sampling(temperature, top_k, top_p, max_new_tokens)
    device = _device_of(model)
    ids = prompt_ids(tokenizer, prompt)
    decoder = tokenizer.stream_decoder(ids)
    generator = None
    if seed is not None:
        generator = torch.Generator(device=device)
        generator.manual_seed(int(seed))
    block = int(model.block_size)
    recurrent = not getattr(model, "has_attention", True)
    was_training = model.training
    model.eval()
    try:
        context = torch.tensor([ids[-block:]], dtype=torch.long, device=device)  # (1, T)
        state = None
        for _ in range(max_new_tokens):
            if recurrent:
                logits, _, state = model(context, state=state, return_state=True)
            else:
                logits, _ = model(context)
            token = sample_next(logits[:, -1, :], temperature, top_k, top_p, generator)  # (1,)
            token_id = int(token)
            if recurrent:
                context = token.view(1, 1)
            else:
                context = torch.cat([context, token.view(1, 1)], dim=1)[:, -block:]
            yield token_id, decoder.push(token_id)
        rest = decoder.flush()
        if rest:
            yield -1, rest
    finally:
        model.train(was_training)


def generate_stream(model: torch.nn.Module, tokenizer: Tokenizer, prompt: str,
                    max_new_tokens: int = 200, temperature: float = 1.0, top_k: int = 0,
                    top_p: float = 1.0, seed: int | None = None) -> Iterator[str]:
    """Yield the generated text piece by piece (the prompt itself is not repeated)."""
    for _, text in iter_tokens(model, tokenizer, prompt, max_new_tokens, temperature, top_k,
                               top_p, seed):
        if text:
            yield text


def generate_text(model: torch.nn.Module, tokenizer: Tokenizer, prompt: str,
                  max_new_tokens: int = 200, temperature: float = 1.0, top_k: int = 0,
                  top_p: float = 1.0, seed: int | None = None) -> str:
    """The whole continuation of ``prompt`` as one string."""
    return "".join(generate_stream(model, tokenizer, prompt, max_new_tokens, temperature,
                                   top_k, top_p, seed))
