"""predict: a tiny real bundle (random-weight CRNNs), clips rendered by the test, the CLI's exits."""
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch

from musicgeo_utils import map_html, predict, render, training
from musicgeo_utils.features import FeatureParams
from musicgeo_utils.models import CRNN

CROP = 64  # frames: 64 * 256 / 12,000 Hz = 1.37 s per window
HOP = 256
RATE = 12000
STYLES = ["Irish dance", "German song", "Chinese folk song"]
REGIONS = [{"region": "Munster", "country": "Ireland", "lat": 52.0, "lon": -8.5},
           {"region": "Westfalen", "country": "Germany", "lat": 51.9, "lon": 7.6},
           {"region": "Shaanxi <b>&</b>", "country": "China", "lat": 35.2, "lon": 108.9}]
#: The geo head's bias: with zero weights its softmax is softmax(GEO_BIAS) for any input.
GEO_BIAS = torch.tensor([0.5, 3.0, -1.0])


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models: torch thread start-up on a shared 2-core machine costs more than it saves."""
    before = torch.get_num_threads()
    training.configure_torch_threads(1)
    yield
    torch.set_num_threads(before)


def tiny_crnn(n_classes: int, seed: int) -> CRNN:
    torch.manual_seed(seed)
    model = CRNN(n_classes, n_mels=96, channels=(4, 4), gru_hidden=8, gru_layers=1)
    model.normalizer.set_stats(np.full(96, -40.0), np.full(96, 20.0))
    return model.eval()


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    """A bundle folder: two checkpoints, a reference npz and the JSON, written as notebook 04 will."""
    folder = tmp_path_factory.mktemp("bundle")
    training.save_checkpoint(folder / "style.pt", tiny_crnn(len(STYLES), 1))
    geo = tiny_crnn(len(REGIONS), 2)
    with torch.no_grad():
        geo.head[1].weight.zero_()
        geo.head[1].bias.copy_(GEO_BIAS)
    training.save_checkpoint(folder / "geo.pt", geo)
    rng = np.random.default_rng(0)
    np.savez(folder / "reference.npz", tune_id=np.array([f"tune-{i}" for i in range(6)]),
             style=np.array(STYLES * 2), embedding=rng.normal(size=(6, 8)).astype(np.float32))
    path = predict.write_bundle(folder / predict.BUNDLE_NAME, profile="small", seed=0,
                                sample_rate=RATE, crop_frames=CROP, feature_params=FeatureParams(),
                                style={"checkpoint": "style.pt", "classes": STYLES},
                                geo={"checkpoint": "geo.pt", "decoding": "top", "regions": REGIONS},
                                reference="reference.npz")
    return path


@pytest.fixture(scope="module")
def melody():
    """A rendered melody (General MIDI piano through the real soundfont), 4 s at 44.1 kHz."""
    notes = pd.DataFrame({"tune_id": "t", "pitch": [62, 66, 69, 74, 69, 66, 64, 62],
                          "onset": np.arange(8.0), "duration": np.ones(8)})
    return render.render_tune(notes, program=40, qpm=150, transpose=0,
                              params=render.RenderParams(sample_rate=44100, clip_seconds=4.0))


@pytest.fixture(scope="module")
def clips(tmp_path_factory, melody):
    folder = tmp_path_factory.mktemp("clips")
    stereo = np.stack([melody, 0.5 * melody], axis=1)
    sf.write(folder / "stereo44k.wav", stereo, 44100)
    sf.write(folder / "long.flac", np.tile(melody, 3), 44100)  # 12 s: many windows
    sf.write(folder / "silent.wav", np.zeros(3 * RATE, dtype=np.float32), RATE)
    sf.write(folder / "short.wav", melody[: 44100 // 2], 44100)  # 0.5 s < one 1.37 s window
    sf.write(folder / "empty.wav", np.zeros(0, dtype=np.float32), RATE)
    (folder / "notes.wav").write_text("these are not audio samples\n" * 50)
    return folder


def softmax(x):
    e = np.exp(x - x.max())
    return e / e.sum()


def test_prediction_on_a_stereo_44k_clip(bundle, clips):
    pred = predict.predict_file(clips / "stereo44k.wav", bundle)
    # Resampled to 12 kHz: 48,000 samples -> 1 + 48,000 // 256 = 188 frames -> windows at 0, 32, ..., 96.
    assert pred.n_windows == (1 + 4 * RATE // HOP - CROP) // (CROP // 2) + 1 == 4
    assert pred.duration_s == pytest.approx(4.0, abs=1e-3)
    assert pred.regions["probability"].sum() == pytest.approx(1.0)
    assert pred.styles["probability"].sum() == pytest.approx(1.0)
    assert pred.styles["probability"].is_monotonic_decreasing
    # Zero head weights: the geo probabilities are exactly softmax(bias), whatever the audio.
    by_region = pred.regions.set_index("region")["probability"]
    np.testing.assert_allclose(by_region[[r["region"] for r in REGIONS]], softmax(GEO_BIAS.numpy()), rtol=1e-5)
    # Top decoding: the most probable region's centroid, in Germany.
    assert (pred.lat, pred.lon) == pytest.approx((51.9, 7.6), abs=1e-6)
    assert (pred.country, pred.nearest_region, pred.nearest_km) == ("Germany", "Westfalen", pytest.approx(0, abs=1e-6))


def test_long_file_is_scored_over_many_windows(bundle, clips):
    pred = predict.predict_file(clips / "long.flac", bundle)
    frames = 1 + 12 * RATE // HOP
    assert pred.n_windows == (frames - CROP) // (CROP // 2) + 1 == 16


def _bundle_with_decoding(bundle, tmp_path, decoding):
    raw = json.loads(bundle.read_text())
    raw["geo"]["decoding"] = decoding
    for name in ("style.pt", "geo.pt", "reference.npz"):
        (tmp_path / name).write_bytes((bundle.parent / name).read_bytes())
    path = predict.write_bundle(tmp_path / f"{decoding}.json", **{k: v for k, v in raw.items() if k != "format"})
    y = np.sin(2 * np.pi * 440 * np.arange(3 * RATE) / RATE).astype(np.float32)
    sf.write(tmp_path / "a.wav", y, RATE)
    return path, tmp_path / "a.wav"


def test_weighted_decoding_lies_between_the_regions(bundle, tmp_path):
    path, wav = _bundle_with_decoding(bundle, tmp_path, "weighted")
    pred = predict.predict_file(wav, path)
    assert -90 <= pred.lat <= 90 and -180 <= pred.lon <= 180
    assert pred.country == "Germany" and 0 < pred.nearest_km < 3000  # pulled east of Westfalen
    text = predict.format_prediction(pred)
    best = pred.regions.iloc[0]
    assert f"the most probable region's centroid is {best['region']}" in text
    assert "most probable region's centroid" not in predict.format_prediction(
        predict.predict_file(wav, bundle))  # top decoding: the point is that centroid


def test_median_decoding_keeps_a_majority_region(bundle, tmp_path):
    path, wav = _bundle_with_decoding(bundle, tmp_path, "median")
    pred = predict.predict_file(wav, path)
    assert pred.regions.iloc[0]["probability"] > 0.5  # softmax(GEO_BIAS): Westfalen 91 %
    assert (pred.country, pred.nearest_region) == ("Germany", "Westfalen")
    assert pred.nearest_km == pytest.approx(0, abs=1e-3)
    assert "least expected distance" in predict.format_prediction(pred)


def test_neighbours_are_ranked_by_cosine_similarity(bundle, clips, tmp_path):
    pred = predict.predict_file(clips / "stereo44k.wav", bundle, n_neighbours=4)
    assert len(pred.neighbours) == 4 and pred.neighbours["similarity"].is_monotonic_decreasing
    assert pred.neighbours["similarity"].between(-1, 1).all()
    # Add the clip's own embedding (scaled: cosine ignores length) to the reference: it comes first.
    for name in ("style.pt", "geo.pt"):
        (tmp_path / name).write_bytes((bundle.parent / name).read_bytes())
    with np.load(bundle.parent / "reference.npz") as ref:
        np.savez(tmp_path / "reference.npz", tune_id=np.append(ref["tune_id"], "itself"),
                 style=np.append(ref["style"], "German song"),
                 embedding=np.vstack([ref["embedding"], 3 * pred.embedding]).astype(np.float32))
    raw = json.loads(bundle.read_text())
    path = predict.write_bundle(tmp_path / "b.json", **{k: v for k, v in raw.items() if k != "format"})
    again = predict.predict_file(clips / "stereo44k.wav", path)
    assert again.neighbours.iloc[0]["tune_id"] == "itself"
    assert again.neighbours.iloc[0]["similarity"] == pytest.approx(1.0, abs=1e-5)


def test_map_is_offline_and_escapes_labels(bundle, clips, tmp_path):
    pred = predict.predict_file(clips / "stereo44k.wav", bundle)
    out = predict.prediction_map(pred, tmp_path / "answer.html")
    page = out.read_text()
    assert map_html.external_urls(page) == []
    assert "Shaanxi &lt;b&gt;&amp;&lt;/b&gt;" in page and "Shaanxi <b>" not in page
    assert "Where is stereo44k.wav from?" in page


def test_main_prints_the_answer_and_writes_the_map(bundle, clips, tmp_path, capsys):
    status = predict.main([str(clips / "stereo44k.wav"), "--bundle", str(bundle), "--top", "2",
                           "--map", str(tmp_path / "m.html")])
    out = capsys.readouterr().out
    assert status == 0 and (tmp_path / "m.html").is_file()
    assert "Top 2 regions:" in out and "1. Westfalen (Germany):" in out
    assert "nearest country: Germany" in out and "Top styles:" in out and "cosine similarity" in out


@pytest.mark.parametrize("name, message", [
    ("silent.wav", "silent"),
    ("short.wav", "shorter than one window"),
    ("empty.wav", "no audio samples (empty file)"),
    ("notes.wav", "unreadable audio"),
    ("missing.wav", "no such file"),
])
def test_bad_audio_gives_one_line_and_exit_1(bundle, clips, capsys, name, message):
    status = predict.main([str(clips / name), "--bundle", str(bundle)])
    err = capsys.readouterr().err
    assert status == 1 and message in err and name in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_missing_bundle_and_checkpoint_are_clear_errors(bundle, clips, tmp_path, capsys):
    assert predict.main([str(clips / "stereo44k.wav"), "--bundle", str(tmp_path / "none.json")]) == 1
    assert "prediction bundle not found" in capsys.readouterr().err
    raw = json.loads(bundle.read_text())
    (tmp_path / "b.json").write_text(json.dumps(raw))  # the checkpoints are not beside this copy
    assert predict.main([str(clips / "stereo44k.wav"), "--bundle", str(tmp_path / "b.json")]) == 1
    err = capsys.readouterr().err
    assert "style checkpoint not found" in err and str(tmp_path / "style.pt") in err


def test_bundle_validation_names_the_field(bundle, tmp_path):
    raw = json.loads(bundle.read_text())
    fields = {k: v for k, v in raw.items() if k != "format"}
    for name in ("style.pt", "geo.pt", "reference.npz"):
        (tmp_path / name).write_bytes((bundle.parent / name).read_bytes())
    cases = [({"crop_frames": "256"}, "'crop_frames' must be int"),
             ({"geo": {**raw["geo"], "decoding": "mean"}}, "geo.decoding must be one of"),
             ({"style": {**raw["style"], "checkpoint": "../style.pt"}}, "must be a file name"),
             ({"sample_rate": 22050}, "differs from feature_params.sample_rate"),
             ({"geo": {**raw["geo"], "regions": [{**REGIONS[0], "lat": 95.0}]}}, "out of range")]
    for change, message in cases:
        with pytest.raises(predict.PredictError, match=message):
            predict.write_bundle(tmp_path / "b.json", **{**fields, **change})
    (tmp_path / "old.json").write_text(json.dumps({**raw, "format": "musicgeo-predict-0"}))
    with pytest.raises(predict.PredictError, match="not a musicgeo-predict-1 file"):
        predict.read_bundle(tmp_path / "old.json")


def test_class_count_mismatch_with_checkpoint(bundle, clips, tmp_path):
    raw = json.loads(bundle.read_text())
    for name in ("style.pt", "geo.pt", "reference.npz"):
        (tmp_path / name).write_bytes((bundle.parent / name).read_bytes())
    fields = {k: v for k, v in raw.items() if k != "format"}
    fields["style"] = {**raw["style"], "classes": STYLES[:2]}
    path = predict.write_bundle(tmp_path / "b.json", **fields)
    with pytest.raises(predict.PredictError, match="model has 3 outputs, the bundle lists 2"):
        predict.predict_file(clips / "stereo44k.wav", path)


@pytest.mark.slow
def test_command_line_module_exit_codes(bundle, clips):
    ok = subprocess.run([sys.executable, "-m", "musicgeo_utils.predict", str(clips / "long.flac"),
                         "--bundle", str(bundle)], capture_output=True, text=True, timeout=300)
    assert ok.returncode == 0, ok.stderr
    assert "16 window(s)" in ok.stdout
    bad = subprocess.run([sys.executable, "-m", "musicgeo_utils.predict", str(clips / "silent.wav"),
                          "--bundle", str(bundle)], capture_output=True, text=True, timeout=300)
    assert bad.returncode == 1 and "silent" in bad.stderr and "Traceback" not in bad.stderr
