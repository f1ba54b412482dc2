"""Audio effects for timbre augmentation: equalisation, compression, reverb and noise.

The extra renders that the transcribed-score classifiers learn from
(:func:`manifest.profile_extra_renders`) play each training tune with another
training instrument; with effects they are also heard through another room and
another chain: Spotify's ``pedalboard`` (JUCE's filters, compressor and
Freeverb reverb), then Gaussian noise from numpy. Every setting of one clip is
drawn by :func:`draw_effects` from a generator seeded with ``("effects", seed,
tune_id, k)``, kept as a plain dict (it enters the clip's cache key, so a
change of ranges renders anew) and applied by :func:`apply_effects`, which
gives the same samples on every x86-64 processor (checked under QEMU as an AMD
EPYC, an Intel Haswell and a Skylake server, docs/experiments.md, "Effects on the extra
renders").

The ranges (:data:`RANGES`): a peaking filter anywhere from 200 Hz to 4 kHz
(log-uniform) of -9 to +9 dB and Q 0.7 to 2, low and high shelves (250 Hz, 3 kHz)
of -6 to +6 dB each; half the clips compressed (threshold -30 to -10 dBFS,
ratio 2 to 8); 70 % with reverb (room size 0.1 to 0.9, wet level 0.05 to 0.4,
the dry level the rest); half with white noise at 20 to 40 dB SNR. The output
is scaled down only if it would clip.
"""
from __future__ import annotations

from typing import Iterable

import numpy as np

from .cache import content_key

#: What :func:`draw_effects` draws from: (low, high) ranges and the share of clips each optional effect gets.
RANGES = {
    "peak_hz": (200.0, 4000.0), "peak_db": (-9.0, 9.0), "peak_q": (0.7, 2.0),
    "low_shelf_db": (-6.0, 6.0), "high_shelf_db": (-6.0, 6.0),
    "compressor_share": 0.5, "threshold_db": (-30.0, -10.0), "ratio": (2.0, 8.0),
    "reverb_share": 0.7, "room_size": (0.1, 0.9), "wet_level": (0.05, 0.4),
    "noise_share": 0.5, "snr_db": (20.0, 40.0),
}
#: Shelf corner frequencies, Hz.
LOW_SHELF_HZ, HIGH_SHELF_HZ = 250.0, 3000.0
#: Peak level the output is scaled down to when it would exceed it (16-bit FLAC clips at 1).
MAX_PEAK = 0.99


def draw_effects(tune_ids: Iterable[str], seed: int, k: int = 0) -> list[dict]:
    """One effect chain per tune (a JSON-able dict of floats, ``None`` for an effect left out), drawn by a
    generator seeded with ``("effects", seed, tune_id, k)``: the ``k``-th extra render of a tune gets its own."""
    chains = []
    for tune_id in tune_ids:
        rng = np.random.default_rng(int(content_key("effects", int(seed), str(tune_id), int(k)), 16))

        def uniform(name):
            low, high = RANGES[name]
            return float(rng.uniform(low, high))

        chain = {"peak_hz": float(np.exp(rng.uniform(*np.log(RANGES["peak_hz"])))), "peak_db": uniform("peak_db"),
                 "peak_q": uniform("peak_q"), "low_shelf_db": uniform("low_shelf_db"),
                 "high_shelf_db": uniform("high_shelf_db")}
        compressor = {"threshold_db": uniform("threshold_db"), "ratio": uniform("ratio")}
        reverb = {"room_size": uniform("room_size"), "wet_level": uniform("wet_level")}
        noise = {"snr_db": uniform("snr_db"), "noise_seed": int(rng.integers(2**31))}
        shares = rng.random(3)  # every draw is made whatever is kept, so one effect's share leaves the others alone
        chain["compressor"] = compressor if shares[0] < RANGES["compressor_share"] else None
        chain["reverb"] = reverb if shares[1] < RANGES["reverb_share"] else None
        chain["noise"] = noise if shares[2] < RANGES["noise_share"] else None
        chains.append(chain)
    return chains


def apply_effects(audio: np.ndarray, sample_rate: int, chain: dict) -> np.ndarray:
    """``audio`` (mono float32) through ``chain`` (:func:`draw_effects`): EQ, compressor, reverb, noise.

    Returns float32 audio of the same length, scaled down to :data:`MAX_PEAK`
    only if it would exceed it. Raises ``ValueError`` for audio that is not
    one-dimensional or not finite.
    """
    from pedalboard import Compressor, HighShelfFilter, LowShelfFilter, PeakFilter, Pedalboard, Reverb

    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim != 1 or not np.all(np.isfinite(audio)):
        raise ValueError(f"effects need finite mono audio, got shape {audio.shape}")
    board = [PeakFilter(cutoff_frequency_hz=chain["peak_hz"], gain_db=chain["peak_db"], q=chain["peak_q"]),
             LowShelfFilter(cutoff_frequency_hz=LOW_SHELF_HZ, gain_db=chain["low_shelf_db"]),
             HighShelfFilter(cutoff_frequency_hz=HIGH_SHELF_HZ, gain_db=chain["high_shelf_db"])]
    if chain.get("compressor"):
        board.append(Compressor(threshold_db=chain["compressor"]["threshold_db"], ratio=chain["compressor"]["ratio"]))
    if chain.get("reverb"):
        wet = chain["reverb"]["wet_level"]
        board.append(Reverb(room_size=chain["reverb"]["room_size"], wet_level=wet, dry_level=1.0 - wet))
    out = Pedalboard(board)(audio, sample_rate)
    if chain.get("noise"):
        power = float(np.mean(np.square(out, dtype=np.float64)))
        scale = np.sqrt(power / 10 ** (chain["noise"]["snr_db"] / 10))
        noise = np.random.default_rng(chain["noise"]["noise_seed"]).standard_normal(len(out))
        out = (out + scale * noise).astype(np.float32)
    peak = float(np.max(np.abs(out))) if len(out) else 0.0
    return out * np.float32(MAX_PEAK / peak) if peak > MAX_PEAK else out
