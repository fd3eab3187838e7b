"""Speech networks, small enough to train in minutes on a CPU.

Keyword (command) classifiers take features ``(B, F, T)`` (F feature rows, T frames) and
return logits ``(B, classes)``:

- :class:`KeywordCNN` — a temporal residual CNN over the log-mel spectrogram (mel bands as
  channels, 1-D convolutions over time; TC-ResNet, Choi et al., 2019) with global average+max
  pooling.
- :class:`KeywordRNN` — a bidirectional GRU (or LSTM) over MFCC frames, mean+max pooled over
  time.

Speech-to-text models take features ``(B, F, T)`` plus frame lengths and return CTC
log-probabilities ``(B, T', C)`` and ``T'`` lengths (time subsampled by 2, C = vocabulary incl.
the blank at index 0):

- :class:`CTCRecurrent` — Deep Speech 2 in miniature (Amodei et al., 2016): a 2-D convolutional
  front end, then bidirectional GRU/LSTM layers and a linear output.
- :class:`CTCConformer` — a convolutional subsampling front end then ``torchaudio.models.
  Conformer`` blocks (Gulati et al., "Conformer: Convolution-augmented Transformer for Speech
  Recognition", 2020).

:class:`KeywordModel` and :class:`CTCModel` wrap a network with its feature front end
(:class:`~playground.speech.features.FrontEnd`) and SpecAugment (:mod:`.augment`), so a model
takes raw 16 kHz waveforms ``(B, samples)``; ``log_mel`` / ``from_log_mel`` split it for
saliency maps.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from playground.speech.augment import SpecAugment  # noqa: F401 - re-exported
from playground.speech.features import FrontEnd


def _rnn(cell: str, input_size: int, hidden: int, layers: int, dropout: float) -> nn.RNNBase:
    kind = nn.LSTM if cell == "lstm" else nn.GRU
    return kind(input_size, hidden, num_layers=layers, batch_first=True, bidirectional=True,
                dropout=dropout if layers > 1 else 0.0)


# ------------------------------------------------------------------------------------------
# Keyword classifiers
# ------------------------------------------------------------------------------------------
class _TemporalBlock(nn.Module):
    """Two 1-D convolutions over time with a (strided) residual shortcut."""

    def __init__(self, cin: int, cout: int, stride: int, kernel: int = 9) -> None:
        super().__init__()
        pad = kernel // 2
        self.conv1 = nn.Conv1d(cin, cout, kernel, stride=stride, padding=pad, bias=False)
        self.bn1 = nn.BatchNorm1d(cout)
        self.conv2 = nn.Conv1d(cout, cout, kernel, padding=pad, bias=False)
        self.bn2 = nn.BatchNorm1d(cout)
        self.short = (nn.Identity() if stride == 1 and cin == cout else
                      nn.Sequential(nn.Conv1d(cin, cout, 1, stride=stride, bias=False),
                                    nn.BatchNorm1d(cout)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(h)) + self.short(x))


class KeywordCNN(nn.Module):
    """Temporal CNN over the log-mel spectrogram: the mel bands are the input channels and
    1-D convolutions slide over time (TC-ResNet, Choi et al., "Temporal Convolution for
    Real-time Keyword Spotting on Mobile Devices", 2019). On a CPU this is several times
    faster than 2-D convolutions over the spectrogram at the same accuracy."""

    def __init__(self, num_classes: int, in_dims: int, width: int = 32, layers: int = 3,
                 dropout: float = 0.1) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv1d(in_dims, width, 3, padding=1, bias=False),
                                  nn.BatchNorm1d(width), nn.ReLU(inplace=True))
        blocks, channels = [], width
        for k in range(layers):
            out = int(width * (1.5 + 0.5 * k)) if k < 2 else width * (k + 1)
            blocks.append(_TemporalBlock(channels, out, stride=2))
            channels = out
        self.blocks = nn.Sequential(*blocks)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(2 * channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.blocks(self.stem(x))                       # (B, C, T / 2**layers)
        pooled = torch.cat([h.mean(dim=-1), h.amax(dim=-1)], dim=1)  # (B, 2C)
        return self.head(self.dropout(pooled))


class KeywordRNN(nn.Module):
    """A strided convolution (time / ``stride``) then a bidirectional GRU/LSTM over the
    frames, mean+max pooled over time. Fewer, richer frames keep the recurrence cheap."""

    def __init__(self, num_classes: int, in_dims: int, width: int = 64, layers: int = 2,
                 cell: str = "gru", dropout: float = 0.1, stride: int = 3) -> None:
        super().__init__()
        self.proj = nn.Sequential(nn.Conv1d(in_dims, width, 2 * stride - 1, stride=stride,
                                            padding=stride - 1, bias=False),
                                  nn.BatchNorm1d(width), nn.GELU())
        self.rnn = _rnn(cell, width, width, layers, dropout)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(4 * width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.proj(x).transpose(1, 2)                    # (B, T / stride, W)
        h, _ = self.rnn(h)                                  # (B, T / stride, 2W)
        pooled = torch.cat([h.mean(dim=1), h.amax(dim=1)], dim=1)  # (B, 4W)
        return self.head(self.dropout(pooled))


# ------------------------------------------------------------------------------------------
# CTC models
# ------------------------------------------------------------------------------------------
def conv_out_length(lengths: torch.Tensor, stride: int = 2) -> torch.Tensor:
    """Frames after a kernel-3, padding-1 convolution with ``stride``."""
    return torch.div(lengths - 1, stride, rounding_mode="floor") + 1


class ConvSubsampling(nn.Module):
    """Two 3x3 convolutions over (features, time): time / 2, features / 4."""

    def __init__(self, in_dims: int, channels: int, out_dims: int) -> None:
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(1, channels, 3, stride=(2, 2), padding=1), nn.BatchNorm2d(channels),
            nn.GELU(),
            nn.Conv2d(channels, channels, 3, stride=(2, 1), padding=1), nn.BatchNorm2d(channels),
            nn.GELU())
        freq = (in_dims - 1) // 2 + 1
        freq = (freq - 1) // 2 + 1
        self.out = nn.Linear(channels * freq, out_dims)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor):
        h = self.conv(x.unsqueeze(1))                       # (B, C, F/4, T/2)
        B, C, Fr, T = h.shape
        h = h.permute(0, 3, 1, 2).reshape(B, T, C * Fr)     # (B, T/2, C*F/4)
        return self.out(h), conv_out_length(lengths, 2)


class CTCRecurrent(nn.Module):
    def __init__(self, num_classes: int, in_dims: int, width: int = 128, layers: int = 3,
                 cell: str = "lstm", dropout: float = 0.1, conv_channels: int = 32) -> None:
        super().__init__()
        self.front = ConvSubsampling(in_dims, conv_channels, width)
        self.rnn = _rnn(cell, width, width, layers, dropout)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(2 * width, num_classes)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor):
        h, lengths = self.front(x, lengths)                 # (B, T', W)
        # Padded frames are zeros after masked normalisation. The padded batch runs through
        # the fused RNN kernel: on a CPU that is several times faster than a packed sequence,
        # and batches are bucketed by length so there is little padding to read.
        h, _ = self.rnn(h)                                  # (B, T', 2W)
        return F.log_softmax(self.head(self.dropout(h)), dim=-1), lengths  # (B, T', C)


class CTCConformer(nn.Module):
    def __init__(self, num_classes: int, in_dims: int, width: int = 96, layers: int = 4,
                 heads: int = 4, kernel: int = 15, dropout: float = 0.1,
                 conv_channels: int = 32) -> None:
        super().__init__()
        from torchaudio.models import Conformer

        heads = max(1, min(heads, width // 16)) if width % heads else heads
        self.front = ConvSubsampling(in_dims, conv_channels, width)
        self.dropout = nn.Dropout(dropout)
        self.conformer = Conformer(input_dim=width, num_heads=heads, ffn_dim=2 * width,
                                   num_layers=layers, depthwise_conv_kernel_size=kernel,
                                   dropout=dropout)
        self.head = nn.Linear(width, num_classes)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor):
        h, lengths = self.front(x, lengths)                 # (B, T', W)
        lengths = lengths.clamp(min=1, max=h.shape[1])
        h, lengths = self.conformer(self.dropout(h), lengths)
        return F.log_softmax(self.head(h), dim=-1), lengths


# ------------------------------------------------------------------------------------------
# Wrappers: waveform in
# ------------------------------------------------------------------------------------------
class KeywordModel(nn.Module):
    """Waveforms ``(B, samples)`` -> logits ``(B, classes)``."""

    def __init__(self, front: FrontEnd, net: nn.Module, augment: nn.Module | None = None) -> None:
        super().__init__()
        self.front = front
        self.augment = augment
        self.net = net

    def log_mel(self, wave: torch.Tensor) -> torch.Tensor:
        return self.front.log_mel(wave)

    def from_log_mel(self, logmel: torch.Tensor) -> torch.Tensor:
        x = self.front.finish(logmel)
        if self.augment is not None:
            x = self.augment(x)
        return self.net(x)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        return self.from_log_mel(self.log_mel(wave))


class CTCModel(nn.Module):
    """Waveforms ``(B, samples)`` + sample lengths -> log-probs ``(B, T', C)`` + lengths."""

    def __init__(self, front: FrontEnd, net: nn.Module, augment: nn.Module | None = None,
                 subsampling: int = 2) -> None:
        super().__init__()
        self.front = front
        self.augment = augment
        self.net = net
        self.subsampling = subsampling

    @property
    def frame_seconds(self) -> float:
        """Seconds per output frame."""
        return self.front.cfg.frame_seconds * self.subsampling

    def frame_lengths(self, sample_lengths: torch.Tensor) -> torch.Tensor:
        return torch.div(sample_lengths, self.front.cfg.hop_length, rounding_mode="floor") + 1

    def forward(self, wave: torch.Tensor, sample_lengths: torch.Tensor | None = None):
        if sample_lengths is None:
            sample_lengths = torch.full((wave.shape[0],), wave.shape[1], dtype=torch.long,
                                        device=wave.device)
        frames = self.frame_lengths(sample_lengths)
        logmel = self.front.log_mel(wave)                   # (B, F, T)
        T = logmel.shape[-1]
        mask = (torch.arange(T, device=wave.device)[None, :] < frames[:, None])  # (B, T)
        x = masked_normalize(self.front.project(logmel), mask)
        if self.augment is not None:
            x = self.augment(x)
        return self.net(x, frames)


def masked_normalize(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per-clip normalisation of ``(B, F, T)`` over the valid frames only; padding -> 0."""
    m = mask[:, None, :].to(x.dtype)                        # (B, 1, T)
    n = m.sum(dim=-1, keepdim=True).clamp(min=1)
    mean = (x * m).sum(dim=-1, keepdim=True) / n            # (B, F, 1)
    centred = (x - mean) * m
    var = (centred ** 2).sum(dim=(1, 2), keepdim=True) / (n * x.shape[1])
    return centred / (var.sqrt() + 1e-5)
