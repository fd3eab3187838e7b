"""Which time–frequency regions drove a keyword prediction.

:func:`keyword_saliency` ``(model, wave, target=None, smooth=(1.0, 1.5)) -> SaliencyResult``
computes gradient × input over the log-mel spectrogram the model sees, with silence as the
baseline: the input is measured from the clip's quietest cell (padding and pauses give nothing,
the sound itself gets the credit), the positive part (evidence *for* the class) is kept,
smoothed with a small Gaussian (``smooth`` = sigma in mel bands and in frames) and scaled to
[0, 1]. ``SaliencyResult`` has
``log_mel`` and ``saliency`` (both float32 ``(n_mels, frames)``, the same shape), ``target``
(the class explained: the top prediction unless given) and ``probs`` (all class
probabilities).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class SaliencyResult(NamedTuple):
    log_mel: np.ndarray
    saliency: np.ndarray
    target: int
    probs: np.ndarray


def _gaussian_kernel(sigma: float) -> np.ndarray:
    if sigma <= 0:
        return np.ones(1, np.float32)
    radius = max(1, int(round(3 * sigma)))
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    k = np.exp(-0.5 * (x / sigma) ** 2)
    return (k / k.sum()).astype(np.float32)


def smooth2d(a: np.ndarray, sigma: tuple[float, float]) -> np.ndarray:
    """Separable Gaussian blur of a 2-D array (edges reflect)."""
    out = np.asarray(a, dtype=np.float32)
    for axis, s in enumerate(sigma):
        k = _gaussian_kernel(s)
        if len(k) == 1 or out.shape[axis] < 2:
            continue
        pad = len(k) // 2
        widths = [(0, 0), (0, 0)]
        widths[axis] = (pad, pad)
        padded = np.pad(out, widths, mode="reflect" if out.shape[axis] > pad else "edge")
        out = np.apply_along_axis(lambda v, k=k: np.convolve(v, k, mode="valid"), axis, padded)
    return out.astype(np.float32)


def keyword_saliency(model, wave, target: int | None = None,
                     smooth: tuple[float, float] = (1.0, 1.5)) -> SaliencyResult:
    """Gradient × input saliency of ``model`` (a ``nets.KeywordModel``) for one clip.

    ``wave`` is a 1-D float array or tensor at the model's sample rate.
    """
    import torch

    device = next(model.parameters()).device
    x = torch.as_tensor(np.asarray(wave, dtype=np.float32))[None].to(device)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            logmel = model.log_mel(x)                       # (1, n_mels, T)
        logmel = logmel.detach().requires_grad_(True)
        logits = model.from_log_mel(logmel)
        probs = logits.float().softmax(dim=1)[0]
        index = int(probs.argmax()) if target is None else int(target)
        model.zero_grad(set_to_none=True)
        logits[0, index].backward()
        grad = logmel.grad[0].float()
        above_floor = logmel.detach()[0] - logmel.detach()[0].min()
        contribution = (grad * above_floor).cpu().numpy()
    finally:
        model.zero_grad(set_to_none=True)
        model.train(was_training)
    sal = np.maximum(contribution, 0.0)
    if not sal.any():
        sal = np.abs(contribution)
    sal = smooth2d(sal, smooth)
    peak = float(sal.max())
    sal = sal / peak if peak > 0 else np.zeros_like(sal)
    return SaliencyResult(logmel.detach()[0].cpu().numpy().astype(np.float32),
                          np.clip(sal, 0.0, 1.0).astype(np.float32), index,
                          probs.detach().cpu().numpy().astype(np.float32))
