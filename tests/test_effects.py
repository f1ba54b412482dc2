"""Audio effects of the extra renders (pedalboard, seeded chains) and their place in rendering."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from musicgeo_utils import config, effects, render
from musicgeo_utils.render import RenderParams

SR = 12000
NEUTRAL = {"peak_hz": 1000.0, "peak_db": 0.0, "peak_q": 1.0, "low_shelf_db": 0.0, "high_shelf_db": 0.0,
           "compressor": None, "reverb": None, "noise": None}


def burst(seconds: float = 2.0, tone_s: float = 0.5) -> np.ndarray:
    """A 440 Hz tone for ``tone_s`` seconds, then silence."""
    t = np.arange(int(seconds * SR)) / SR
    return (0.5 * np.sin(2 * np.pi * 440 * t) * (t < tone_s)).astype(np.float32)


def test_chains_are_seeded_per_tune_seed_and_render_and_stay_in_their_ranges():
    ids = [f"tune{i}" for i in range(400)]
    chains = effects.draw_effects(ids, seed=0, k=0)
    assert chains == effects.draw_effects(ids, seed=0, k=0)
    assert chains != effects.draw_effects(ids, seed=1, k=0) and chains != effects.draw_effects(ids, seed=0, k=1)
    assert effects.draw_effects(ids[5:6], seed=0, k=0) == chains[5:6]  # a tune's chain ignores the others
    assert json.loads(json.dumps(chains)) == chains  # plain values: they enter the clip's cache key
    frame = pd.DataFrame(chains)
    for name in ("peak_hz", "peak_db", "peak_q", "low_shelf_db", "high_shelf_db"):
        low, high = effects.RANGES[name]
        assert frame[name].between(low, high).all()
    for name in ("compressor", "reverb", "noise"):  # each optional effect on about its share of the clips
        assert frame[name].notna().mean() == pytest.approx(effects.RANGES[f"{name}_share"], abs=0.08)
    assert pd.DataFrame(list(frame["reverb"].dropna()))["wet_level"].between(*effects.RANGES["wet_level"]).all()


def test_a_neutral_chain_leaves_the_audio_and_each_effect_does_what_it_says():
    audio = burst()
    np.testing.assert_allclose(effects.apply_effects(audio, SR, NEUTRAL), audio, atol=1e-4)
    reverb = effects.apply_effects(audio, SR, {**NEUTRAL, "reverb": {"room_size": 0.8, "wet_level": 0.4}})
    tail = slice(int(0.6 * SR), int(0.9 * SR))  # after the tone has stopped
    assert np.sqrt(np.mean(reverb[tail] ** 2)) > 1e-3 > np.sqrt(np.mean(audio[tail] ** 2))
    noisy = effects.apply_effects(audio, SR, {**NEUTRAL, "noise": {"snr_db": 20.0, "noise_seed": 7}})
    snr = 10 * np.log10(np.mean(audio.astype(float) ** 2) / np.mean((noisy - audio).astype(float) ** 2))
    assert snr == pytest.approx(20.0, abs=0.3)
    boosted = effects.apply_effects(audio, SR, {**NEUTRAL, "peak_hz": 440.0, "peak_db": 9.0})
    assert np.abs(boosted).max() == pytest.approx(effects.MAX_PEAK, abs=1e-6)  # scaled down, never clipped


def test_a_chain_gives_the_same_samples_every_time_and_refuses_bad_audio():
    chain = effects.draw_effects(["air"], seed=3, k=1)[0]
    chain = {**chain, "reverb": {"room_size": 0.5, "wet_level": 0.2}, "noise": {"snr_db": 30.0, "noise_seed": 1}}
    first, second = (effects.apply_effects(burst(), SR, chain) for _ in range(2))
    assert first.dtype == np.float32 and first.shape == burst().shape
    np.testing.assert_array_equal(first, second)
    with pytest.raises(ValueError, match="finite mono"):
        effects.apply_effects(np.array([0.0, np.nan], dtype=np.float32), SR, chain)
    with pytest.raises(ValueError, match="finite mono"):
        effects.apply_effects(np.zeros((2, 10), dtype=np.float32), SR, chain)


def test_a_render_with_effects_is_another_cached_clip_and_one_without_keeps_its_key(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "DATA_DIR", tmp_path)
    params = RenderParams(sample_rate=SR, clip_seconds=2.0)
    notes = pd.DataFrame({"tune_id": "air", "pitch": [67, 69, 71, 72], "onset": [0.0, 1, 2, 3],
                          "duration": [1.0, 1, 1, 1]})
    manifest = pd.DataFrame({"tune_id": ["air"]})
    draws = render.draw_augmentation(["air"], 0, params)
    plain = render.render_many(manifest, notes, params, seed=0, n_jobs=1, draws=draws)
    chain = {**NEUTRAL, "reverb": {"room_size": 0.7, "wet_level": 0.3}}
    with_effects = render.render_many(manifest, notes, params, seed=0, n_jobs=1, draws=draws.assign(effects=[chain]))
    assert plain["status"].tolist() == with_effects["status"].tolist() == ["rendered"]
    assert plain.at[0, "audio_path"] != with_effects.at[0, "audio_path"]
    dry, wet = render.load_clip(plain.at[0, "audio_path"])[0], render.load_clip(with_effects.at[0, "audio_path"])[0]
    assert not np.allclose(dry, wet, atol=1e-3)
    np.testing.assert_allclose(wet, effects.apply_effects(dry, SR, chain), atol=2e-4)  # 16-bit FLAC on both sides
    again = render.render_many(manifest, notes, params, seed=0, n_jobs=1, draws=draws.assign(effects=[chain]))
    assert again["status"].tolist() == ["cached"]
