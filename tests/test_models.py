"""Shapes, ranges and building blocks of the mel-spectrogram networks."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from musicgeo_utils.config import seed_everything
from musicgeo_utils.models import (
    CRNN, CifarNet, MelNormalizer, build_model, decode_latlon, default_frequency_pools,
    PITCH_CLASS_COEFFICIENTS, TONIC_PROFILE_SIZE, encode_latlon, pitch_class_fourier, tonic_profile,
)


@pytest.fixture(scope="module")
def crnn() -> CRNN:
    seed_everything(0)
    return CRNN(n_classes=5).eval()


@pytest.mark.parametrize("frames", [1, 15, 16, 128, 257, 704, 1400])
def test_crnn_accepts_any_clip_length(crnn, frames):
    x = torch.randn(2, 96, frames)
    with torch.no_grad():
        logits, emb = crnn(x), crnn.embed(x.unsqueeze(1))
    assert logits.shape == (2, 5)
    assert emb.shape == (2, 32)
    assert torch.isfinite(logits).all()


def test_crnn_3d_and_4d_inputs_agree(crnn):
    x = torch.randn(3, 96, 200)
    with torch.no_grad():
        assert torch.equal(crnn(x), crnn(x.unsqueeze(1)))


def test_crnn_rejects_wrong_channel_count(crnn):
    with pytest.raises(ValueError, match="n_mels, frames"):
        crnn(torch.randn(2, 3, 96, 100))


@pytest.mark.parametrize("make, depth", [(lambda: CRNN(4), 4), (lambda: CRNN.deep(4), 6)])
def test_frequency_axis_collapses_to_one_after_the_blocks(make, depth):
    model = make().eval()
    assert len(model.conv) == depth
    with torch.no_grad():
        maps = model.conv(torch.randn(1, 1, 96, 704))
    assert maps.shape[2] == 1  # 96 mel bands pooled exactly to 1
    assert maps.shape[3] == 704 // 16  # GRU steps


def test_deep_variant_shapes_and_overrides():
    model = CRNN.deep(7, gru_hidden=16).eval()
    with torch.no_grad():
        assert model(torch.randn(2, 96, 300)).shape == (2, 7)
        assert model.embed(torch.randn(2, 96, 300)).shape == (2, 16)
    assert model.hparams["channels"] == [32, 64, 64, 128, 128, 128]


def test_geographic_head_is_the_same_backbone_with_more_classes():
    regions = CRNN(n_classes=23).eval()
    style = CRNN(n_classes=6)
    with torch.no_grad():
        assert regions(torch.randn(2, 96, 128)).shape == (2, 23)
    # identical backbone: every parameter but the classifier has the same shape
    backbone = {k: v.shape for k, v in style.state_dict().items() if not k.startswith("head")}
    assert backbone == {k: v.shape for k, v in regions.state_dict().items()
                        if not k.startswith("head")}


def test_crnn_returns_logits_not_probabilities(crnn):
    assert isinstance(crnn.head[-1], nn.Linear)
    with torch.no_grad():
        sums = crnn(torch.randn(4, 96, 128) * 10).sum(dim=1)
    assert not torch.allclose(sums, torch.ones(4))


def test_mean_temporal_pooling_differs_from_last():
    seed_everything(1)
    last = CRNN(3, temporal_pooling="last").eval()
    mean = CRNN(3, temporal_pooling="mean").eval()
    mean.load_state_dict(last.state_dict())
    x = torch.randn(2, 96, 256)
    with torch.no_grad():
        assert not torch.allclose(last.embed(x), mean.embed(x))
    with pytest.raises(ValueError, match="temporal_pooling"):
        CRNN(3, temporal_pooling="max")


@pytest.mark.parametrize("n_mels, depth, pools", [
    (96, 4, (2, 3, 4, 4)), (96, 6, (2, 2, 2, 2, 2, 3)), (128, 4, (2, 4, 4, 4)), (16, 2, (4, 4)),
])
def test_default_frequency_pools(n_mels, depth, pools):
    assert default_frequency_pools(n_mels, depth) == pools
    assert int(np.prod(pools)) == n_mels


def test_frequency_pools_that_overshoot_are_rejected():
    with pytest.raises(ValueError, match="below 1"):
        CRNN(3, n_mels=16, channels=(4, 8), freq_pools=(4, 8))


@pytest.mark.parametrize("frames", [1, 16, 128, 704])
def test_cifarnet_outputs_two_units_in_unit_box(frames):
    seed_everything(0)
    model = CifarNet().eval()
    with torch.no_grad():
        out = model(torch.randn(3, 96, frames) * 1000)  # saturate the tanh
        emb = model.embed(torch.randn(3, 1, 96, frames))
    assert out.shape == (3, 2) and emb.shape == (3, 84)
    assert out.abs().max() <= 1.0


def test_cifarnet_keeps_the_tutorial_layer_sizes():
    model = CifarNet()
    assert (model.conv1.out_channels, model.conv1.kernel_size) == (6, (5, 5))
    assert (model.conv2.out_channels, model.conv2.kernel_size) == (16, (5, 5))
    assert (model.fc1.in_features, model.fc1.out_features) == (400, 120)
    assert (model.fc2.out_features, model.head[0].out_features) == (84, 2)
    assert isinstance(model.head[1], nn.Tanh)


def test_latlon_scaling_round_trip():
    degrees = np.array([[90.0, 180.0], [-45.0, 9.0], [53.35, -6.26]])
    scaled = encode_latlon(degrees)
    np.testing.assert_allclose(scaled[0], [1.0, 1.0])
    np.testing.assert_allclose(scaled[1], [-0.5, 0.05])
    np.testing.assert_allclose(decode_latlon(scaled), degrees, atol=1e-4)


def test_mel_normalizer_standardises_each_band():
    rng = np.random.default_rng(0)
    mel = (rng.normal(size=(8, 500)) * np.arange(1, 9)[:, None] - 40).astype(np.float32)
    layer = MelNormalizer(8)
    assert not bool(layer.fitted)
    layer.set_stats(mel.mean(axis=1), mel.std(axis=1))
    out = layer(torch.from_numpy(mel)[None, None])[0, 0].numpy()
    np.testing.assert_allclose(out.mean(axis=1), 0.0, atol=1e-4)
    np.testing.assert_allclose(out.std(axis=1), 1.0, atol=1e-4)
    assert bool(layer.fitted)
    with pytest.raises(ValueError, match="shape"):
        layer.set_stats(np.zeros(7), np.ones(7))


def test_build_model_by_registry_name():
    assert len(build_model("crnn_deep", n_classes=4).conv) == 6
    assert isinstance(build_model("cifarnet"), CifarNet)
    with pytest.raises(ValueError, match="unknown model"):
        build_model("resnet")


def test_notebook_04_trains_the_compact_crnn_the_benchmarks_measure():
    import json
    from pathlib import Path

    from musicgeo_utils.models import COMPACT_CRNN_KWARGS
    from musicgeo_utils.pipeline import parameter_defaults

    path = Path(__file__).parents[1] / "notebooks" / "04_crnn_training.ipynb"
    assignments = parameter_defaults(path)
    notebook = json.loads(path.read_text())
    assert assignments["crnn_kwargs"] is None  # the default: the settings live in models only
    code = "".join("".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "code")
    assert "crnn_kwargs = crnn_kwargs or models.COMPACT_CRNN_KWARGS" in code
    assert COMPACT_CRNN_KWARGS["channels"] == (16, 32, 64, 64)
    # the mel CRNN stops on the patience the benchmarks use (training.MEL_STYLE_PATIENCE), the pitch CRNN on 6
    assert assignments["mel_patience"] is None
    assert "mel_patience = mel_patience or training.MEL_STYLE_PATIENCE" in code and "patience=mel_patience" in code
    from musicgeo_utils import training

    mel = training.style_config(epochs=1, batch_size=4, crop_frames=8, seed=0, model_kwargs=COMPACT_CRNN_KWARGS,
                                patience=training.MEL_STYLE_PATIENCE)
    assert (mel.patience, training.style_config(epochs=1, batch_size=4, crop_frames=8, seed=0,
                                                model_kwargs=COMPACT_CRNN_KWARGS).patience) == (3, 6)
    # the geographic mel CRNN's fine-tune: half the profile's epochs, at least 3 (training.geo_mel_config)
    assert "geo_config = training.geo_mel_config(epochs=epochs" in code
    geo = [training.geo_mel_config(epochs=e, batch_size=4, crop_frames=8, seed=0, model_kwargs=COMPACT_CRNN_KWARGS)
           for e in (30, 60, 4)]
    assert [c.epochs for c in geo] == [15, 30, 3]
    assert (geo[0].patience, geo[0].class_weight, geo[0].lr, geo[0].task) == (2, "balanced", 1e-3, "classify")


def _roll(pitches, rows=60, frames=40):
    """A semitone roll with each pitch row (index) lit over its own stretch of frames."""
    roll = torch.zeros(1, 1, rows, frames)
    for i, row in enumerate(pitches):
        roll[0, 0, row, 4 * i:4 * i + 3] = 1.0
    return roll


def test_pitch_class_fourier_is_the_same_in_every_key_and_tells_scales_apart():
    pentatonic = [12, 14, 16, 19, 21, 24, 26, 28, 31, 33]  # C D E G A, two octaves
    chromatic = list(range(12, 22))
    base = pitch_class_fourier(_roll(pentatonic))
    for k in (-7, -1, 1, 5, 11):  # transposed inside the roll
        moved = pitch_class_fourier(_roll([p + k for p in pentatonic]))
        assert torch.allclose(moved, base, atol=1e-6)
    assert base.shape == (1, PITCH_CLASS_COEFFICIENTS)
    # the same histogram through numpy's FFT, coefficients 1-6
    histogram = np.bincount(np.array(pentatonic) % 12, minlength=12) / len(pentatonic)
    np.testing.assert_allclose(base[0].numpy(), np.abs(np.fft.rfft(histogram))[1:7], atol=1e-6)
    assert not torch.allclose(pitch_class_fourier(_roll(chromatic)), base, atol=0.05)
    assert torch.equal(pitch_class_fourier(torch.zeros(2, 1, 60, 10)), torch.zeros(2, PITCH_CLASS_COEFFICIENTS))


def test_a_crnn_with_the_pitch_class_profile_embeds_it_after_the_gru():
    seed_everything(0)
    plain = CRNN(5, n_mels=60, gru_hidden=8, channels=(8, 8))
    seed_everything(0)
    model = CRNN(5, n_mels=60, gru_hidden=8, channels=(8, 8), pitch_class_fourier=True)
    model.eval(), plain.eval()
    x = _roll([12, 14, 16, 19, 21])
    embedding = model.embed(x)
    assert embedding.shape == (1, 8 + PITCH_CLASS_COEFFICIENTS) and model(x).shape == (1, 5)
    torch.testing.assert_close(embedding[:, 8:], pitch_class_fourier(x))
    torch.testing.assert_close(embedding[:, :8], plain.embed(x))  # the same backbone, same seed
    assert "pitch_class_fourier" not in plain.hparams  # earlier checkpoints keep their hyperparameters
    rebuilt = CRNN(**model.hparams)
    assert rebuilt.head[1].in_features == 8 + PITCH_CLASS_COEFFICIENTS
    with pytest.raises(ValueError, match="semitone"):
        CRNN(5, n_mels=50, pitch_class_fourier=True)


def test_tonic_profile_counts_scale_degrees_above_the_tonic_the_transcribed_score_estimates():
    from musicgeo_utils.transcribed_score import estimate_tonic

    d_major = [26, 28, 30, 31, 33, 35, 37, 38, 38, 33, 30, 26]  # D E F# G A B C# D D A F# D (rows; row 0 a C)
    base = tonic_profile(_roll(d_major, frames=48))
    histogram = np.bincount(np.array(d_major) % 12, minlength=12) / len(d_major)
    np.testing.assert_allclose(base[0, :12].numpy(), np.roll(histogram, -2), atol=1e-6)  # tonic D first
    assert base[0, 12] == 0 and base.shape == (1, TONIC_PROFILE_SIZE)  # major
    for k in (-9, -2, 1, 5, 11):  # transposed inside the roll: the same degrees, the same tonic as estimate_tonic's
        moved = [p + k for p in d_major]
        torch.testing.assert_close(tonic_profile(_roll(moved, frames=48)), base)
        assert estimate_tonic(np.array(moved), np.ones(len(moved))) == (2 + k) % 12
    a_minor = [33, 35, 36, 38, 40, 41, 43, 45, 45, 40, 36, 33]  # A B C D E F G A A E C A
    minor = tonic_profile(_roll(a_minor, frames=48))
    assert minor[0, 12] == 1 and minor[0, 0] == minor[0, :12].max()  # A, the tonic, comes first
    assert torch.equal(tonic_profile(torch.zeros(2, 1, 60, 10)), torch.zeros(2, TONIC_PROFILE_SIZE))


def test_a_crnn_with_the_tonic_profile_embeds_it_after_the_gru():
    seed_everything(0)
    plain = CRNN(5, n_mels=60, gru_hidden=8, channels=(8, 8))
    seed_everything(0)
    model = CRNN(5, n_mels=60, gru_hidden=8, channels=(8, 8), tonic_profile=True).eval()
    x = _roll([26, 28, 30, 31, 33])
    embedding = model.embed(x)
    assert embedding.shape == (1, 8 + TONIC_PROFILE_SIZE) and model(x).shape == (1, 5)
    torch.testing.assert_close(embedding[:, 8:], tonic_profile(x))
    torch.testing.assert_close(embedding[:, :8], plain.eval().embed(x))
    assert "tonic_profile" not in plain.hparams and CRNN(**model.hparams).tonic_profile
    with pytest.raises(ValueError, match="tonic_profile.*semitone"):
        CRNN(5, n_mels=50, tonic_profile=True)
