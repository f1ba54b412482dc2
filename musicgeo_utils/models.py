"""Networks on log-mel spectrograms: the CRNN and the first write-up's convnet.

Inputs are log-mel spectrograms of shape ``(batch, 1, n_mels, frames)`` or
``(batch, n_mels, frames)`` (96 mel bands, 12 kHz, hop 256 samples, i.e.
~46.9 frames per second; a 15 s clip is ~704 frames). Every model works for any
number of frames the loader produces.

- :class:`CRNN`: a convolutional recurrent network in the style of Choi et al.
  (2017), "Convolutional recurrent neural networks for music classification".
  It returns **logits**; train it with cross-entropy (softmax over classes).
  The original put a sigmoid under categorical cross-entropy; that is not
  repeated here. The geographic classifier is the same backbone with one class
  per region: ``CRNN(n_classes=n_regions)``.
- :class:`CifarNet`: the PyTorch CIFAR-10 tutorial network used by the first
  write-up, on one-channel mel input, with a ``tanh`` output of 2 units
  (latitude / 90 degrees, longitude / 180 degrees) trained with MSE.

Both start with a :class:`MelNormalizer`: per-mel-band standardisation with a
fixed mean and standard deviation measured on the training set. The statistics
are buffers, so they travel in the ``state_dict`` and hence in the checkpoint.

Models are rebuilt from checkpoints by name through :data:`MODELS` and
:func:`build_model`; each model keeps the plain keyword arguments that rebuild
it in ``model.hparams``.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

__all__ = [
    "MelNormalizer", "ConvBlock", "CRNN", "CifarNet", "MODELS", "build_model",
    "default_frequency_pools", "encode_latlon", "decode_latlon",
]


def _as_4d(x: torch.Tensor) -> torch.Tensor:
    """``(batch, n_mels, frames)`` -> ``(batch, 1, n_mels, frames)``; 4-D passes."""
    if x.dim() == 3:
        return x.unsqueeze(1)
    if x.dim() != 4 or x.shape[1] != 1:
        raise ValueError(
            f"expected a mel batch of shape (batch, 1, n_mels, frames) or "
            f"(batch, n_mels, frames), got {tuple(x.shape)}"
        )
    return x


def _pad_frames(x: torch.Tensor, min_frames: int) -> torch.Tensor:
    """Pad the time axis on the right to ``min_frames`` with each clip's minimum.

    The minimum of a log-mel clip is its silence floor, so padding adds silence.
    """
    missing = min_frames - x.shape[-1]
    if missing <= 0:
        return x
    floor = x.amin(dim=(-2, -1), keepdim=True).expand(*x.shape[:-1], missing)
    return torch.cat([x, floor], dim=-1)


class MelNormalizer(nn.Module):
    """Per-mel-band standardisation ``(x - mean[f]) / std[f]`` with fixed stats.

    ``mean`` and ``std`` (one value per mel band, in the units of the log-mel
    input, e.g. dB) are buffers saved with the model. Until :meth:`set_stats`
    is called the layer is the identity and ``fitted`` is ``False``;
    :func:`musicgeo_utils.training.fit` measures the statistics on the training
    set when they are missing.
    """

    def __init__(self, n_mels: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(n_mels))
        self.register_buffer("std", torch.ones(n_mels))
        self.register_buffer("fitted", torch.tensor(False))

    def set_stats(self, mean: Sequence[float] | np.ndarray, std: Sequence[float] | np.ndarray) -> None:
        """Store per-band mean and standard deviation (std floored at 1e-5)."""
        mean_t = torch.as_tensor(np.asarray(mean, dtype=np.float32))
        std_t = torch.as_tensor(np.asarray(std, dtype=np.float32)).clamp_min(1e-5)
        if mean_t.shape != self.mean.shape or std_t.shape != self.std.shape:
            raise ValueError(
                f"normalisation stats must have shape {tuple(self.mean.shape)}, "
                f"got mean {tuple(mean_t.shape)} and std {tuple(std_t.shape)}"
            )
        self.mean.copy_(mean_t)
        self.std.copy_(std_t)
        self.fitted.fill_(True)

    def stats(self) -> dict[str, list[float]]:
        """The stored statistics as plain lists (for checkpoints and reports)."""
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Standardise a ``(batch, 1, n_mels, frames)`` batch band by band."""
        return (x - self.mean[:, None]) / self.std[:, None]


class ConvBlock(nn.Sequential):
    """Conv2d 3x3 -> BatchNorm2d -> ELU -> MaxPool (freq, time) -> Dropout."""

    def __init__(self, in_channels: int, out_channels: int, pool: tuple[int, int],
                 dropout: float) -> None:
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ELU(inplace=True),
            nn.MaxPool2d(kernel_size=pool, stride=pool),
            nn.Dropout(dropout),
        )


def default_frequency_pools(n_mels: int, depth: int) -> tuple[int, ...]:
    """Per-block frequency pooling factors whose product is ``n_mels`` when possible.

    The prime factors of ``n_mels`` are dealt, largest first, to the block with
    the smallest product so far, then sorted ascending. For 96 mel bands and 4
    blocks this gives Choi et al.'s (2, 3, 4, 4); for 6 blocks (2, 2, 2, 2, 2, 3).
    Whatever frequency extent remains is collapsed by an adaptive max-pool.
    """
    factors, rest, prime = [], n_mels, 2
    while rest > 1:
        while rest % prime == 0:
            factors.append(prime)
            rest //= prime
        prime += 1
    bins = [1] * depth
    for factor in sorted(factors, reverse=True):
        smallest = bins.index(min(bins))
        bins[smallest] *= factor
    return tuple(sorted(bins))


class CRNN(nn.Module):
    """Convolutional recurrent network for clip-level music classification.

    After Choi et al. (2017): ``depth`` convolutional blocks (Conv2d 3x3,
    BatchNorm2d, ELU, MaxPool, Dropout), a max-pool that collapses whatever is
    left of the frequency axis to 1, a GRU with ``gru_layers`` layers over the
    remaining time steps, then the last (``temporal_pooling="last"``, as in the
    paper) or mean GRU output -> Dropout -> Linear -> logits.

    Differences from the paper, on purpose: the time axis is pooled by 2 per
    block (at most 4 times, so the GRU sees ``frames / 16`` steps: 44 for a 15 s
    clip, 8 for a 128-frame crop) where the paper pooled by 2, 3, 4, 4 (7 steps
    for 15 s, 1 step for 128 frames); clips shorter than the total time pooling
    are padded with their silence floor; the output is logits for softmax
    cross-entropy. Default widths (32, 64, 64, 64) with a 32-unit GRU are close
    to the paper's 0.1 M-parameter configuration (~0.11 M here).

    Args:
        n_classes: number of output classes (styles, or regions for the
            geographic head).
        n_mels: mel bands of the input.
        channels: output channels of each conv block; its length is the depth.
        gru_hidden: GRU hidden units (the embedding size).
        gru_layers: stacked GRU layers.
        dropout: dropout after each conv block, between GRU layers and before
            the classifier.
        freq_pools / time_pools: per-block max-pool factors; defaults from
            :func:`default_frequency_pools` and ``2`` for the first four blocks.
        temporal_pooling: ``"last"`` or ``"mean"`` GRU output as the embedding.
        input_time_pool: average this many frames before the first block
            (1 = off); 2 halves the compute of every layer.
        pitch_class_fourier: for a semitone roll (``n_mels`` a multiple of 12,
            one row per semitone): the embedding also holds the magnitudes of
            the discrete Fourier transform of the input's pitch-class
            histogram (rows folded by octave, summed over frames, made a
            distribution; coefficients 1-6), which are the same in every key
            (a transposition only turns their phases). They say what kind of
            scale the crop uses (pentatonic, diatonic, chromatic), which the
            maximum over pitch before the GRU cannot see.
        tonic_profile: for a semitone roll, as ``pitch_class_fourier``: the
            embedding also holds the input's pitch-class histogram turned so
            that its estimated tonic comes first (:func:`tonic_profile`): which
            scale degrees the crop uses, as the score descriptors count them,
            the same in every key.
    """

    registry_name = "crnn"

    def __init__(self, n_classes: int, n_mels: int = 96,
                 channels: Sequence[int] = (32, 64, 64, 64), gru_hidden: int = 32,
                 gru_layers: int = 2, dropout: float = 0.1,
                 freq_pools: Sequence[int] | None = None,
                 time_pools: Sequence[int] | None = None,
                 temporal_pooling: str = "last", input_time_pool: int = 1,
                 pitch_class_fourier: bool = False, tonic_profile: bool = False) -> None:
        super().__init__()
        depth = len(channels)
        freq_pools = tuple(freq_pools or default_frequency_pools(n_mels, depth))
        time_pools = tuple(time_pools or [2 if i < 4 else 1 for i in range(depth)])
        self._check_pools(n_mels, depth, freq_pools, time_pools, temporal_pooling)
        for option, used in (("pitch_class_fourier", pitch_class_fourier), ("tonic_profile", tonic_profile)):
            if used and n_mels % 12:
                raise ValueError(f"{option} needs one row per semitone in whole octaves, got {n_mels} rows")
        self.hparams = {
            "n_classes": int(n_classes), "n_mels": int(n_mels),
            "channels": [int(c) for c in channels], "gru_hidden": int(gru_hidden),
            "gru_layers": int(gru_layers), "dropout": float(dropout),
            "freq_pools": list(freq_pools), "time_pools": list(time_pools),
            "temporal_pooling": temporal_pooling, "input_time_pool": int(input_time_pool),
        }
        if pitch_class_fourier:  # only when used: earlier checkpoints keep their hyperparameters
            self.hparams["pitch_class_fourier"] = True
        self.pitch_class_fourier = bool(pitch_class_fourier)
        if tonic_profile:
            self.hparams["tonic_profile"] = True
        self.tonic_profile = bool(tonic_profile)
        self.min_frames = int(np.prod(time_pools)) * int(input_time_pool)
        # Averaging pairs of frames first (hop 256 -> 21 ms -> 43 ms, still finer
        # than any note) halves the cost of every layer: the CPU budget's best buy.
        self.input_pool = nn.AvgPool2d((1, input_time_pool)) if input_time_pool > 1 else nn.Identity()
        self.temporal_pooling = temporal_pooling
        self.normalizer = MelNormalizer(n_mels)
        widths = [1, *channels]
        self.conv = nn.Sequential(*[
            ConvBlock(widths[i], widths[i + 1], (freq_pools[i], time_pools[i]), dropout)
            for i in range(depth)
        ])
        self.gru = nn.GRU(channels[-1], gru_hidden, num_layers=gru_layers,
                          batch_first=True, dropout=dropout if gru_layers > 1 else 0.0)
        extra = (PITCH_CLASS_COEFFICIENTS if pitch_class_fourier else 0) + (TONIC_PROFILE_SIZE if tonic_profile else 0)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(gru_hidden + extra, n_classes))

    @staticmethod
    def _check_pools(n_mels, depth, freq_pools, time_pools, temporal_pooling) -> None:
        if len(freq_pools) != depth or len(time_pools) != depth:
            raise ValueError(f"need {depth} frequency and time pools, got "
                             f"{freq_pools} and {time_pools}")
        if np.prod(freq_pools) > n_mels:
            raise ValueError(f"frequency pools {freq_pools} shrink {n_mels} mel bands below 1")
        if temporal_pooling not in ("last", "mean"):
            raise ValueError(f"temporal_pooling must be 'last' or 'mean', got {temporal_pooling!r}")

    @classmethod
    def deep(cls, n_classes: int, n_mels: int = 96, **kwargs) -> "CRNN":
        """The 6-block variant: widths (32, 64, 64, 128, 128, 128), 64-unit GRU.

        Frequency pools (2, 2, 2, 2, 2, 3) for 96 mel bands, time pooled by 16 as
        in the 4-block model; any keyword overrides these defaults.
        """
        kwargs.setdefault("channels", (32, 64, 64, 128, 128, 128))
        kwargs.setdefault("gru_hidden", 64)
        return cls(n_classes, n_mels=n_mels, **kwargs)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate features: the GRU output (last step or mean over time).

        ``x``: ``(batch, 1, n_mels, frames)`` or ``(batch, n_mels, frames)``
        log-mel; returns ``(batch, gru_hidden)``, followed by the
        :func:`pitch_class_fourier` magnitudes with ``pitch_class_fourier``.
        """
        raw = _pad_frames(_as_4d(x), self.min_frames)
        x = self.conv(self.input_pool(self.normalizer(raw)))
        x = F.adaptive_max_pool2d(x, (1, x.shape[-1]))  # collapse frequency to 1
        steps, _ = self.gru(x.squeeze(2).transpose(1, 2))  # (batch, time, hidden)
        embedding = steps[:, -1] if self.temporal_pooling == "last" else steps.mean(dim=1)
        if self.pitch_class_fourier:
            embedding = torch.cat([embedding, pitch_class_fourier(raw)], dim=1)
        if self.tonic_profile:
            embedding = torch.cat([embedding, tonic_profile(raw)], dim=1)
        return embedding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits ``(batch, n_classes)``; no softmax inside the model."""
        return self.head(self.embed(x))


#: Fourier coefficients 1-6 of a 12-bin pitch-class histogram (coefficient 0 is its total).
PITCH_CLASS_COEFFICIENTS = 6


def pitch_class_fourier(roll: torch.Tensor) -> torch.Tensor:
    """``(batch, 1, 12 * octaves, frames)`` semitone roll -> ``(batch, 6)``, the same in every key.

    The rows fold by octave into a pitch-class histogram (summed over frames,
    divided by its total; an empty roll gives zeros), whose discrete Fourier
    transform's magnitudes 1-6 are kept: a transposition by ``k`` semitones
    multiplies coefficient ``j`` by ``exp(-2 pi i j k / 12)`` and leaves its
    magnitude (a key-invariant pitch-class description, as the 2D Fourier
    transform magnitude of Bertin-Mahieux & Ellis 2012 is for chroma).
    """
    histogram = _pitch_class_histogram(roll)
    angles = 2 * np.pi * np.outer(np.arange(12), np.arange(1, 1 + PITCH_CLASS_COEFFICIENTS)) / 12
    cos, sin = (torch.as_tensor(f(angles), dtype=histogram.dtype, device=histogram.device) for f in (np.cos, np.sin))
    return torch.sqrt((histogram @ cos) ** 2 + (histogram @ sin) ** 2)  # a product, not an FFT: the same on every CPU


#: :func:`tonic_profile`'s size: 12 pitch classes above the tonic and whether minor fits better.
TONIC_PROFILE_SIZE = 13


def _pitch_class_histogram(roll: torch.Tensor) -> torch.Tensor:
    """``(batch, 1, 12 * octaves, frames)`` semitone roll -> ``(batch, 12)`` pitch-class distribution."""
    batch, _, rows, _ = roll.shape
    histogram = roll.reshape(batch, rows // 12, 12, -1).sum(dim=(1, 3))
    return histogram / histogram.sum(dim=1, keepdim=True).clamp_min(1e-8)


def tonic_profile(roll: torch.Tensor) -> torch.Tensor:
    """``(batch, 1, 12 * octaves, frames)`` semitone roll (row 0 a C) -> ``(batch, 13)``, the same in every key.

    The pitch-class histogram (rows folded by octave, summed over frames, made
    a distribution) turned so that its tonic comes first, then 1 where a minor
    key profile fits it better than a major one. The key is the transcribed
    score's estimate (:func:`transcribed_score.key_correlations`, as
    :func:`transcribed_score.estimate_tonic`: the best correlation with the 24
    Krumhansl-Kessler key profiles, ties to the lower row). A transposition turns the histogram and its tonic alike. An empty
    roll gives zeros and a C major reading.
    """
    from .transcribed_score import key_correlations

    histogram = _pitch_class_histogram(roll)
    key = torch.as_tensor([int(np.argmax(key_correlations(row))) for row in histogram.detach().cpu().double().numpy()],
                          dtype=torch.long, device=histogram.device)  # the first maximum: major first, lower tonic
    tonic = key % 12
    turned = torch.gather(histogram, 1, (tonic[:, None] + torch.arange(12, device=histogram.device)) % 12)
    return torch.cat([turned, (key >= 12).to(histogram.dtype)[:, None]], dim=1)


class CifarNet(nn.Module):
    """The PyTorch CIFAR-10 tutorial network on mel input, regressing lat/lon.

    Faithful to the first write-up: conv 6@5x5 -> ReLU -> maxpool 2 -> conv
    16@5x5 -> ReLU -> maxpool 2 -> fc 120 -> ReLU -> fc 84 -> ReLU -> fc 2 ->
    tanh, trained with MSE on latitude / 90 degrees and longitude / 180 degrees
    (:func:`encode_latlon`; :func:`decode_latlon` maps outputs back to degrees).
    The flattened size is 16 x 5 x 5 as in the tutorial: an adaptive average
    pool brings any mel input to 5 x 5 before ``fc1``, so any clip length works.
    Inputs go through a :class:`MelNormalizer` first (the tutorial normalised
    its images too).
    """

    registry_name = "cifarnet"

    def __init__(self, n_mels: int = 96, n_outputs: int = 2) -> None:
        super().__init__()
        self.hparams = {"n_mels": int(n_mels), "n_outputs": int(n_outputs)}
        self.min_frames = 16  # two 5x5 convs and two 2x pools need >= 16 frames
        if n_mels < self.min_frames:
            raise ValueError(f"CifarNet needs at least {self.min_frames} mel bands, got {n_mels}")
        self.normalizer = MelNormalizer(n_mels)
        self.conv1 = nn.Conv2d(1, 6, 5)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.head = nn.Sequential(nn.Linear(84, n_outputs), nn.Tanh())

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The 84 features before the output layer, ``(batch, 84)``."""
        x = self.normalizer(_pad_frames(_as_4d(x), self.min_frames))
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(F.adaptive_avg_pool2d(x, (5, 5)), 1)
        return F.relu(self.fc2(F.relu(self.fc1(x))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Scaled (latitude, longitude) in [-1, 1], shape ``(batch, 2)``."""
        return self.head(self.embed(x))


def encode_latlon(lat_lon_deg: np.ndarray) -> np.ndarray:
    """Degrees ``(n, 2)`` [latitude, longitude] -> [-1, 1] targets for CifarNet."""
    lat_lon = np.asarray(lat_lon_deg, dtype=np.float32)
    return lat_lon / np.array([90.0, 180.0], dtype=np.float32)


def decode_latlon(outputs: np.ndarray) -> np.ndarray:
    """CifarNet outputs in [-1, 1] ``(n, 2)`` -> [latitude, longitude] in degrees."""
    return np.asarray(outputs, dtype=np.float64) * np.array([90.0, 180.0])


#: Notebook 04's compact CRNN: narrower early blocks, frequency pooled early,
#: frames averaged in pairs at the input (about 6x faster per epoch on 2 CPU
#: cores than the default widths; ``benchmarks/ablation_crnn.py``). The
#: notebook uses these unless its ``crnn_kwargs`` parameter names others.
COMPACT_CRNN_KWARGS = {"channels": (16, 32, 64, 64), "freq_pools": (4, 4, 3, 2), "time_pools": (2, 2, 2, 1),
                       "input_time_pool": 2}

#: Registry name -> class or factory, used by :class:`~musicgeo_utils.training.TrainConfig`
#: and to rebuild a model from a checkpoint (which stores ``registry_name`` and
#: the full ``hparams``, so a ``crnn_deep`` model is rebuilt as ``crnn``).
MODELS: dict[str, Callable[..., nn.Module]] = {
    "crnn": CRNN, "crnn_deep": CRNN.deep, "cifarnet": CifarNet,
}


def build_model(name: str, **kwargs) -> nn.Module:
    """Instantiate the model registered as ``name`` (``crnn``, ``crnn_deep``, ``cifarnet``)."""
    try:
        cls = MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; choose one of {sorted(MODELS)}") from None
    return cls(**kwargs)
