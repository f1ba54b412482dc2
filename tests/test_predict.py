"""predict: tiny real bundles (random-weight CRNNs, scikit-learn models saved with skops), clips
rendered by the test, the Predictor, batch mode and the CLI's exits."""
import dataclasses
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch

from musicgeo_utils import calibration, features, map_html, predict, regions, render, saved_models, training
from musicgeo_utils.features import FeatureParams
from musicgeo_utils.geo import decode_region_probabilities
from musicgeo_utils.models import CRNN
from musicgeo_utils.transcription import TranscriptionParams

CROP = 64  # frames: 64 * 256 / 12,000 Hz = 1.37 s per window
HOP = 256
RATE = 12000
STYLES = ["Irish dance", "German song", "Chinese folk song"]
REGIONS = pd.DataFrame([{"region": "Munster", "country": "Ireland", "lat": 52.0, "lon": -8.5},
                        {"region": "Westfalen", "country": "Germany", "lat": 51.9, "lon": 7.6},
                        {"region": "Shaanxi <b>&</b>", "country": "China", "lat": 35.2, "lon": 108.9}])
SHARES = pd.DataFrame(np.eye(3), index=REGIONS["region"], columns=REGIONS["country"])
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


def crnn_cards(folder, decoding="top", temperature=1.0):
    """Region and style cards of two tiny CRNNs (the geo head answers softmax(GEO_BIAS / T))."""
    training.save_checkpoint(folder / "style.pt", tiny_crnn(len(STYLES), 1))
    geo = tiny_crnn(len(REGIONS), 2)
    with torch.no_grad():
        geo.head[1].weight.zero_()
        geo.head[1].bias.copy_(GEO_BIAS)
    training.save_checkpoint(folder / "geo.pt", geo)
    region = saved_models.ModelCard("crnn", "geographic CRNN (mel)", "mel spectrogram", folder / "geo.pt",
                                    tuple(REGIONS["region"]), validation={"balanced_median_km": 900.0},
                                    extra=predict.region_extra(REGIONS, SHARES, decoding, temperature, True))
    style = saved_models.ModelCard("crnn", "style CRNN (mel)", "mel spectrogram", folder / "style.pt", tuple(STYLES))
    return region, style


def write_bundle(folder, region, style, reference=True, embedding=None):
    if reference and not (folder / "reference.npz").exists():
        rng = np.random.default_rng(0)
        np.savez(folder / "reference.npz", tune_id=np.array([f"tune-{i}" for i in range(6)]),
                 style=np.array(STYLES * 2), embedding=rng.normal(size=(6, 8)).astype(np.float32))
    return predict.write_bundle(folder / predict.BUNDLE_NAME, profile="small", seed=0, crop_frames=CROP,
                                feature_params=FeatureParams(), transcription_params=TranscriptionParams(),
                                region=region, style=style,
                                embedding={"checkpoint": "style.pt", "reference": "reference.npz" if reference else None,
                                           **(embedding or {})})


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bundle")
    return write_bundle(folder, *crnn_cards(folder))


@pytest.fixture(scope="module")
def melody():
    """A rendered melody (General MIDI violin through the real soundfont), 4 s at 44.1 kHz."""
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


@pytest.fixture(scope="module")
def predictor(bundle):
    return predict.Predictor(bundle)


def softmax(x):
    e = np.exp(x - x.max())
    return e / e.sum()


def test_prediction_on_a_stereo_44k_clip(predictor, clips):
    pred = predictor(clips / "stereo44k.wav")
    # Resampled to 12 kHz: 48,000 samples -> 1 + 48,000 // 256 = 188 frames -> windows at 0, 32, ..., 96.
    assert pred.n_windows == (1 + 4 * RATE // HOP - CROP) // (CROP // 2) + 1 == 4
    assert pred.duration_s == pytest.approx(4.0, abs=1e-3)
    assert pred.regions["probability"].sum() == pytest.approx(1.0)
    assert pred.styles["probability"].sum() == pytest.approx(1.0)
    assert pred.styles["probability"].is_monotonic_decreasing
    # Zero head weights: the geo probabilities are exactly softmax(bias), whatever the audio.
    by_region = pred.regions.set_index("region")["probability"]
    np.testing.assert_allclose(by_region[REGIONS["region"]], softmax(GEO_BIAS.numpy()), rtol=1e-5)
    # Top decoding: the most probable region's centroid, in Germany; 91 % of the mass there: not uncertain.
    assert (pred.lat, pred.lon) == pytest.approx((51.9, 7.6), abs=1e-6)
    assert pred.country == "Germany" and pred.top_region["region"] == "Westfalen"
    # Munster lies about 1,100 km from Westfalen, beyond the 1,000 km of the support
    assert pred.support == pytest.approx(by_region["Westfalen"]) and not pred.uncertain
    assert pred.region_model == "geographic CRNN (mel) (mel spectrogram)"


def test_a_waveform_gets_the_answer_of_its_file(predictor, clips):
    samples, rate = sf.read(clips / "stereo44k.wav", dtype="float32", always_2d=True)
    from_file, from_samples = predictor(clips / "stereo44k.wav"), predictor(samples, sample_rate=rate)
    assert (from_file.lat, from_file.lon) == (from_samples.lat, from_samples.lon)
    pd.testing.assert_frame_equal(from_file.styles, from_samples.styles)
    np.testing.assert_array_equal(from_file.embedding, from_samples.embedding)
    with pytest.raises(predict.PredictError, match="needs its sample_rate"):
        predictor(samples)


def test_long_file_is_scored_over_many_windows(predictor, clips):
    pred = predictor(clips / "long.flac")
    frames = 1 + 12 * RATE // HOP
    assert pred.n_windows == (frames - CROP) // (CROP // 2) + 1 == 16


def test_crnn_answer_is_the_notebooks_clip_window_evaluation(predictor, clips):
    """The style probabilities are the softmax of the logits training.predict averages over every window."""
    from musicgeo_utils.meldata import CLIP_WINDOWS, MelDataset

    heard = predict.hear(*predict.read_samples(clips / "long.flac"), predictor.bundle, "long.flac")
    ds = MelDataset([heard.mel], [0], crop_frames=CROP, train=False, eval_crops=CLIP_WINDOWS)
    logits, _ = training.predict(predictor.style_model, ds)
    pred = predictor.predict_heard(heard)
    by_style = pred.styles.set_index("style")["probability"]
    np.testing.assert_allclose(by_style[STYLES], training.softmax(logits)[0], rtol=1e-6)


def test_window_hop_of_the_cards_and_the_embedding_is_how_predict_scores(tmp_path, clips):
    """A CRNN card's (and the embedding's) ``window_hop`` sets the windows, as the notebook scored its clips."""
    from musicgeo_utils.meldata import CLIP_WINDOWS, MelDataset

    region, style = crnn_cards(tmp_path)
    style = dataclasses.replace(style, extra={"window_hop": 7})
    hopped = predict.Predictor(write_bundle(tmp_path, region, style, embedding={"window_hop": 7}))
    assert hopped.bundle.embedding_window_hop == 7
    heard = predict.hear(*predict.read_samples(clips / "long.flac"), hopped.bundle, "long.flac")
    pred = hopped.predict_heard(heard)
    for hop, expected in ((7, True), (None, False)):
        ds = MelDataset([heard.mel], [0], crop_frames=CROP, train=False, eval_crops=CLIP_WINDOWS, window_hop=hop)
        logits, embedding = training.predict(hopped.style_model, ds)
        by_style = pred.styles.set_index("style")["probability"]
        assert np.allclose(by_style[STYLES], training.softmax(logits)[0], rtol=1e-6) == expected
        assert np.allclose(pred.embedding, embedding[0], rtol=1e-6) == expected
    raw = json.loads(hopped.bundle.path.read_text())
    for change, message in (({"embedding": {**raw["embedding"], "window_hop": 0}}, "embedding.window_hop must be positive"),
                            ({"style": {**raw["style"], "extra": {"window_hop": "7"}}},
                             "style.extra.window_hop must be a positive int")):
        (tmp_path / "b.json").write_text(json.dumps({**raw, **change}))
        with pytest.raises(predict.PredictError, match=message):
            predict.read_bundle(tmp_path / "b.json")


def test_style_probabilities_take_the_style_cards_temperature(tmp_path, clips):
    """A style card's ``temperature`` (fitted on validation in notebook 04) divides the logits; bad ones are refused."""
    from musicgeo_utils.meldata import CLIP_WINDOWS, MelDataset

    region, style = crnn_cards(tmp_path)
    warm = predict.Predictor(write_bundle(tmp_path, region, dataclasses.replace(style, extra={"temperature": 3.0})))
    assert warm.bundle.style_temperature == 3.0
    heard = predict.hear(*predict.read_samples(clips / "long.flac"), warm.bundle, "long.flac")
    logits, _ = training.predict(warm.style_model, MelDataset([heard.mel], [0], crop_frames=CROP, train=False,
                                                              eval_crops=CLIP_WINDOWS))
    by_style = warm.predict_heard(heard).styles.set_index("style")["probability"]
    np.testing.assert_allclose(by_style[STYLES], training.softmax(logits / 3.0)[0], rtol=1e-6)
    assert "(calibrated probabilities: temperature 3.00, fitted on validation)" in predict.format_prediction(
        warm.predict_heard(heard))
    raw = json.loads(warm.bundle.path.read_text())
    for value, message in ((0.0, "must be a positive number"), (float("inf"), "must be a positive number"),
                           ("3", "must be")):
        (tmp_path / "b.json").write_text(json.dumps({**raw, "style": {**raw["style"], "extra": {"temperature": value}}}))
        with pytest.raises(predict.PredictError, match=f"style.extra.*temperature.*{message}"):
            predict.read_bundle(tmp_path / "b.json")


def test_uncertain_when_the_mass_is_spread(tmp_path, clips):
    # T = 20 flattens softmax(GEO_BIAS / T) to about a third each: the weighted point has little support.
    path = write_bundle(tmp_path, *crnn_cards(tmp_path, decoding="weighted", temperature=20.0))
    pred = predict.Predictor(path)(clips / "stereo44k.wav")
    assert pred.uncertain and pred.support < predict.UNCERTAIN_BELOW
    assert pred.regions["probability"].max() < 0.4
    assert "uncertain" in predict.format_prediction(pred)


def sklearn_bundle(folder, seed=0):
    """Region: logistic regression on 4 standardised summary + heard columns; style: gradient-boosted trees."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(seed)
    names = features.summary_names(FeatureParams())[:2] + ["heard:pc_from_final_00", "heard:pc_from_final_07"]
    table = pd.DataFrame(rng.normal(size=(60, 4)) * 3 + 1, columns=names)
    spec = saved_models.InputSpec.standardised(table, np.ones(60, dtype=bool))
    region_model = make_pipeline(StandardScaler(), LogisticRegression()).fit(
        features.standardise_summary(table, np.ones(60, dtype=bool))[0].to_numpy(), np.array(REGIONS["region"])[np.arange(60) % 3])
    region = saved_models.read_card(saved_models.save_sklearn_card(
        folder, "region", region_model, name="region classifier (logistic regression)", features="summary",
        classes=region_model.classes_, inputs=spec, validation={"balanced_median_km": 1000.0},
        extra=predict.region_extra(REGIONS.set_index("region").loc[region_model.classes_].reset_index(),
                                   SHARES.loc[region_model.classes_], "median", 1.5, False)))
    style_model = HistGradientBoostingClassifier(max_iter=20, random_state=seed).fit(table.to_numpy(), np.arange(60) % 3)
    style = saved_models.read_card(saved_models.save_sklearn_card(
        folder, "style", style_model, name="gradient-boosted trees", features="summary + heard", classes=STYLES,
        inputs=saved_models.InputSpec(tuple(names)), validation={"macro_f1": 0.5}, extra={"temperature": 2.0}))
    training.save_checkpoint(folder / "style.pt", tiny_crnn(len(STYLES), 1))
    return write_bundle(folder, region, style), region_model, style_model, spec


def test_sklearn_models_answer_from_the_features_the_notebooks_compute(tmp_path, clips):
    path, region_model, style_model, spec = sklearn_bundle(tmp_path)
    predictor = predict.Predictor(path)
    heard = predict.hear(*predict.read_samples(clips / "stereo44k.wav"), predictor.bundle, "x")
    assert heard.inputs.index.str.startswith("heard:").sum() > 10  # the transcribed score's descriptors
    x = spec.vector(heard.inputs)
    np.testing.assert_array_equal(x, (heard.inputs[list(spec.columns)].to_numpy(float)[None] - spec.mean) / spec.std)
    pred = predictor.predict_heard(heard)
    proba = region_model.predict_proba(x)  # the notebook decodes the uncalibrated probabilities
    lat, lon = decode_region_probabilities(proba, REGIONS.set_index("region").loc[region_model.classes_, "lat"],
                                           REGIONS.set_index("region").loc[region_model.classes_, "lon"], "median")
    assert (pred.lat, pred.lon) == (lat[0], lon[0])
    assert pred.country == regions.predicted_countries(proba, SHARES, regions=region_model.classes_)[0]
    style_proba = style_model.predict_proba(heard.inputs[list(spec.columns)].to_numpy(float)[None])[0]
    assert pred.styles.iloc[0]["style"] == STYLES[int(np.argmax(style_proba))]
    np.testing.assert_allclose(pred.styles.set_index("style").loc[STYLES, "probability"],  # the card's temperature, 2
                               calibration.softmax_with_temperature(np.log(style_proba)[None], 2.0)[0], rtol=1e-12)
    # reported probabilities are calibrated with the card's temperature (1.5): flatter than the raw ones
    assert pred.regions["probability"].max() < proba.max()


def test_skops_refuses_types_it_does_not_trust(tmp_path):
    import os

    from sklearn.preprocessing import FunctionTransformer

    saved_models.save_sklearn(tmp_path / "evil.skops", FunctionTransformer(func=os.system))
    with pytest.raises(saved_models.ModelError, match="does not trust"):
        saved_models.load_sklearn(tmp_path / "evil.skops")
    (tmp_path / "broken.skops").write_bytes(b"PK not a zip")
    with pytest.raises(saved_models.ModelError, match="not a readable skops file"):
        saved_models.load_sklearn(tmp_path / "broken.skops")


def test_batch_mode_writes_one_row_per_file_and_goes_on_after_a_bad_one(bundle, clips, tmp_path, capsys):
    out = tmp_path / "answers.csv"
    files = [clips / "stereo44k.wav", clips / "notes.wav", clips / "long.flac"]
    status = predict.main([*map(str, files), "--bundle", str(bundle), "--csv", str(out), "--no-progress"])
    captured = capsys.readouterr()
    assert status == 1  # one file failed
    answers = pd.read_csv(out, keep_default_na=False)
    assert list(answers.columns) == predict.CSV_COLUMNS
    assert answers["file"].tolist() == list(map(str, files))
    assert answers["status"].tolist() == ["ok", "error", "ok"]
    assert "unreadable audio" in answers.at[1, "error"] and "notes.wav" in captured.err
    assert answers.at[0, "top_region"] == "Westfalen" and answers.at[0, "country"] == "Germany"
    assert "2 of 3 files answered; 1 failed" in captured.out
    assert predict.main([str(clips / "stereo44k.wav"), "--bundle", str(bundle), "--csv", str(out),
                         "--no-progress"]) == 0


def test_neighbours_are_ranked_by_cosine_similarity(bundle, clips, tmp_path):
    pred = predict.predict_file(clips / "stereo44k.wav", bundle, n_neighbours=4)
    assert len(pred.neighbours) == 4 and pred.neighbours["similarity"].is_monotonic_decreasing
    assert pred.neighbours["similarity"].between(-1, 1).all()
    # Add the clip's own embedding (scaled: cosine ignores length) to the reference: it comes first.
    region, style = crnn_cards(tmp_path)
    with np.load(bundle.parent / "reference.npz") as ref:
        np.savez(tmp_path / "reference.npz", tune_id=np.append(ref["tune_id"], "itself"),
                 style=np.append(ref["style"], "German song"),
                 embedding=np.vstack([ref["embedding"], 3 * pred.embedding]).astype(np.float32))
    again = predict.predict_file(clips / "stereo44k.wav", write_bundle(tmp_path, region, style))
    assert again.neighbours.iloc[0]["tune_id"] == "itself"
    assert again.neighbours.iloc[0]["similarity"] == pytest.approx(1.0, abs=1e-5)


def test_map_is_offline_and_escapes_labels(predictor, clips, tmp_path):
    pred = predictor(clips / "stereo44k.wav")
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
    assert "Top 2 regions (calibrated probabilities):" in out and "1. Westfalen (Germany):" in out
    assert "most probable country (probabilities summed over its regions): Germany" in out and "Style model (best on validation)" in out and "cosine similarity" in out
    assert "top 2 styles (uncalibrated probabilities: the bundle's style card states no temperature):" in out
    assert predict.main([str(clips / "stereo44k.wav"), str(clips / "long.flac"), "--bundle", str(bundle),
                         "--map", str(tmp_path / "m.html")]) == predict.EXIT_USAGE


def test_music_map_places_the_song_among_its_nearest_tunes(bundle, predictor, clips, tmp_path, capsys):
    from musicgeo_utils import songmap

    ref = np.load(bundle.parent / "reference.npz")  # 6 tunes with 8-d embeddings: the map's tunes here
    points = pd.DataFrame({"tune_id": ref["tune_id"], "title": [f"<i>tune</i> {i}" for i in range(6)],
                           "country": ["China", "Germany"] * 3, "style": ref["style"]})
    rng = np.random.default_rng(1)
    layouts = {"PCA": rng.normal(size=(6, 2)), "UMAP n_neighbors=10 min_dist=0.1": rng.normal(size=(6, 2))}
    out = tmp_path / "song.html"
    assert predict.main([str(clips / "stereo44k.wav"), "--bundle", str(bundle), "--music-map", str(out)]) == 1
    assert "music-map.npz not found: run notebook 05" in capsys.readouterr().err
    songmap.save_map_reference(bundle.parent / songmap.REFERENCE_NAME, points, layouts, ref["embedding"])
    try:
        assert predict.main([str(clips / "stereo44k.wav"), "--bundle", str(bundle), "--music-map", str(out)]) == 0
        printed = capsys.readouterr().out
        pred = predictor(clips / "stereo44k.wav")
        reference = songmap.read_map_reference(bundle.parent / songmap.REFERENCE_NAME)
        near, places = songmap.place_on_layouts(reference, pred.embedding)
        unit = ref["embedding"] / np.linalg.norm(ref["embedding"], axis=1, keepdims=True)
        cosine = unit @ (pred.embedding / np.linalg.norm(pred.embedding))
        assert list(near) == list(np.argsort(-cosine, kind="stable")[:5])  # the 5 most similar tunes
        for name, Y in reference["layouts"].items():  # among them on every layout
            assert (Y[near].min(axis=0) <= places[name]).all() and (places[name] <= Y[near].max(axis=0)).all()
        page = out.read_text(encoding="utf-8")
        assert map_html.external_urls(page) == [] and "<i>tune</i>" not in page
        assert "your song: stereo44k.wav" in page and "&lt;i&gt;tune&lt;/i&gt; 0" in page
        titles = ", ".join(points["title"][j] for j in near)
        assert f"Music map: {out} (nearest tunes: {titles})" in printed  # the terminal gets plain text
        assert predict.main([str(clips / "stereo44k.wav"), str(clips / "long.flac"), "--bundle", str(bundle),
                             "--music-map", str(out)]) == predict.EXIT_USAGE
    finally:
        (bundle.parent / songmap.REFERENCE_NAME).unlink()


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
    assert err.count(name) == 1  # the file is named once (not again inside soundfile's reason)


def test_missing_bundle_and_model_are_clear_errors(bundle, clips, tmp_path, capsys):
    assert predict.main([str(clips / "stereo44k.wav"), "--bundle", str(tmp_path / "none.json")]) == 1
    assert "prediction bundle not found" in capsys.readouterr().err
    raw = json.loads(bundle.read_text())
    (tmp_path / "b.json").write_text(json.dumps(raw))  # the models are not beside this copy
    assert predict.main([str(clips / "stereo44k.wav"), "--bundle", str(tmp_path / "b.json")]) == 1
    err = capsys.readouterr().err
    assert "model file not found" in err and str(tmp_path / "geo.pt") in err


def test_bundle_validation_names_the_field(bundle, tmp_path):
    raw = json.loads(bundle.read_text())
    for name in ("style.pt", "geo.pt", "reference.npz"):
        (tmp_path / name).write_bytes((bundle.parent / name).read_bytes())
    extra = raw["region"]["extra"]
    cases = [({"crop_frames": "256"}, "'crop_frames' must be int"),
             ({"region": {**raw["region"], "extra": {**extra, "decoding": "mean"}}}, "decoding must be one of"),
             ({"style": {**raw["style"], "file": "../style.pt"}}, "must be a file name"),
             ({"region": {**raw["region"], "extra": {**extra, "regions": extra["regions"][::-1]}}},
              "do not follow the region model's 3 classes"),
             ({"region": {**raw["region"], "extra": {**extra, "regions": [{**extra["regions"][0], "lat": 95.0},
                                                                          *extra["regions"][1:]]}}}, "out of range"),
             ({"region": {**raw["region"], "extra": {**extra, "temperature": 0}}}, "temperature must be positive"),
             ({"style": {**raw["style"], "kind": "pickle"}}, "kind must be one of")]
    for change, message in cases:
        (tmp_path / "b.json").write_text(json.dumps({**raw, **change}))
        with pytest.raises(predict.PredictError, match=message):
            predict.read_bundle(tmp_path / "b.json")
    (tmp_path / "old.json").write_text(json.dumps({**raw, "format": "musicgeo-predict-1"}))
    with pytest.raises(predict.PredictError, match="not a musicgeo-predict-2 file"):
        predict.read_bundle(tmp_path / "old.json")


def test_class_count_mismatch_with_checkpoint(bundle, clips, tmp_path):
    region, style = crnn_cards(tmp_path)
    path = write_bundle(tmp_path, region, saved_models.ModelCard("crnn", "s", "mel", style.file, tuple(STYLES[:2])))
    with pytest.raises(predict.PredictError, match="model has 3 outputs, the bundle lists 2"):
        predict.Predictor(path)


@pytest.mark.slow
def test_command_line_module_exit_codes(bundle, clips):
    ok = subprocess.run([sys.executable, "-m", "musicgeo_utils.predict", str(clips / "long.flac"),
                         "--bundle", str(bundle)], capture_output=True, text=True, timeout=300)
    assert ok.returncode == 0, ok.stderr
    assert "16 window(s)" in ok.stdout
    bad = subprocess.run([sys.executable, "-m", "musicgeo_utils.predict", str(clips / "silent.wav"),
                          "--bundle", str(bundle)], capture_output=True, text=True, timeout=300)
    assert bad.returncode == 1 and "silent" in bad.stderr and "Traceback" not in bad.stderr


def test_a_pitch_crnn_hears_the_transcribed_notes(tmp_path, clips):
    """A style CRNN on the semitone roll: predict scores the roll of the clip's transcribed notes."""
    from musicgeo_utils import pitchroll
    from musicgeo_utils.meldata import CLIP_WINDOWS, MelDataset

    region, _ = crnn_cards(tmp_path)
    torch.manual_seed(3)
    model = CRNN(len(STYLES), n_mels=pitchroll.N_PITCHES, channels=(4, 4), gru_hidden=8, gru_layers=1,
                 freq_pools=(1, 2)).eval()
    model.normalizer.set_stats(np.full(pitchroll.N_PITCHES, 0.1), np.full(pitchroll.N_PITCHES, 0.3))
    training.save_checkpoint(tmp_path / "pitch.pt", model)
    style = saved_models.ModelCard("crnn", "pitch CRNN", "transcribed notes", tmp_path / "pitch.pt", tuple(STYLES),
                                   extra={"input": predict.PITCH_ROLL, "crop_frames": 50})
    predictor = predict.Predictor(write_bundle(tmp_path, region, style))
    heard = predict.hear(*predict.read_samples(clips / "long.flac"), predictor.bundle, "long.flac")
    assert heard.roll.shape == (pitchroll.N_PITCHES, 300) and heard.roll.max() == pitchroll.ONSET  # 12 s at 25 fps
    logits, _ = training.predict(model, MelDataset([heard.roll], [0], crop_frames=50, train=False,
                                                   eval_crops=CLIP_WINDOWS))
    by_style = predictor.predict_heard(heard).styles.set_index("style")["probability"]
    np.testing.assert_allclose(by_style[STYLES], training.softmax(logits)[0], rtol=1e-6)
    # the same CRNN as the embedding (the map's CRNN): neighbours from the roll's penultimate layer
    embedding = {"checkpoint": "pitch.pt", "input": predict.PITCH_ROLL, "crop_frames": 50}
    rolled = predict.Predictor(write_bundle(tmp_path, region, style, embedding=embedding)).predict_heard(heard)
    np.testing.assert_allclose(rolled.embedding, training.predict(model, MelDataset(
        [heard.roll], [0], crop_frames=50, train=False, eval_crops=CLIP_WINDOWS))[1][0], rtol=1e-6)
    assert not np.allclose(rolled.embedding, predictor.predict_heard(heard).embedding)  # not the mel CRNN's
    # the first line says what each answering CRNN heard: 300 roll frames, windows of 50 frames 25 apart
    first = predict.format_prediction(rolled).splitlines()[0]
    assert "pitch roll: 11 window(s) of 2.00 s, 1.00 s apart" in first and "mel spectrogram: " in first
    for bad, message in (({**embedding, "input": "cqt"}, "embedding.input"), ({**embedding, "crop_frames": 0},
                                                                            "embedding.crop_frames")):
        with pytest.raises(predict.PredictError, match=message):
            write_bundle(tmp_path, region, style, embedding=bad)


def test_model_label_names_the_features_once():
    assert predict._model_label("geographic CRNN (mel)", "mel spectrogram") == "geographic CRNN (mel) (mel spectrogram)"
    assert (predict._model_label("gradient-boosted trees (transcribed score)", "transcribed score")
            == "gradient-boosted trees (transcribed score)")


def test_an_unfamiliar_clip_gets_a_warning_and_an_uncertain_answer(tmp_path, melody):
    from musicgeo_utils import novelty

    folder = tmp_path / "bundle"
    folder.mkdir()
    plain = predict.Predictor(write_bundle(folder, *crnn_cards(folder)))
    heard = predict.hear(melody, 44100, plain.bundle, "melody")
    known = plain(melody, sample_rate=44100)
    reference = np.stack(plain.reference["_vector"].to_numpy())
    stats = novelty.statistics(known.embedding[None, :], reference, [heard.mel], [heard.voiced])
    # a check centred on the melody itself, so that only a clip far from it is flagged
    check = novelty.NoveltyCheck(tuple(stats.iloc[0]), (0.05, 0.05, 0.05), threshold=3.0)
    bundle = json.loads((folder / predict.BUNDLE_NAME).read_text())
    (folder / predict.BUNDLE_NAME).write_text(json.dumps({**bundle, "novelty": check.to_dict()}))
    checked = predict.Predictor(folder / predict.BUNDLE_NAME)
    assert checked.bundle.novelty == check
    same = checked(melody, sample_rate=44100)
    assert not same.unfamiliar and same.novelty == pytest.approx(0.0, abs=1e-9)
    assert "WARNING" not in predict.format_prediction(same)
    noise = np.random.default_rng(0).normal(0, 0.1, 4 * 44100).astype(np.float32)
    strange, unchecked = checked(noise, sample_rate=44100), plain(noise, sample_rate=44100)
    assert strange.unfamiliar and strange.uncertain and strange.novelty > check.threshold
    assert strange.novelty_reason in novelty.STATISTICS
    assert not unchecked.unfamiliar and unchecked.novelty is None  # no check in the bundle: nothing said
    text = predict.format_prediction(strange)
    assert "WARNING: this clip is unlike the music the models learned" in text
    reason = strange.novelty_reason
    typical = check.centre[novelty.STATISTICS.index(reason)]
    assert f"its {reason} {strange.novelty_statistics[reason]:.3f} lies far outside the validation clips', " \
           f"whose median is {typical:.3f})" in text
    assert "uncertain: " in text
    # the answer itself stays the models': the same probabilities, the same point
    pd.testing.assert_frame_equal(strange.regions, unchecked.regions)
    pd.testing.assert_frame_equal(strange.styles, unchecked.styles)
    assert (strange.lat, strange.lon) == (unchecked.lat, unchecked.lon)
    row = strange.row()
    assert row["unfamiliar"] is True and row["novelty_reason"] == strange.novelty_reason
    assert list(row) == predict.CSV_COLUMNS
    (folder / predict.BUNDLE_NAME).write_text(json.dumps({**bundle, "novelty": {**check.to_dict(), "scale": [1]}}))
    with pytest.raises(predict.PredictError, match="novelty check"):
        predict.read_bundle(folder / predict.BUNDLE_NAME)
    no_reference = {**bundle, "embedding": {**bundle["embedding"], "reference": None}, "novelty": check.to_dict()}
    (folder / predict.BUNDLE_NAME).write_text(json.dumps(no_reference))
    with pytest.raises(predict.PredictError, match="novelty needs embedding.reference"):
        predict.read_bundle(folder / predict.BUNDLE_NAME)


def test_nan_or_infinite_samples_are_refused_with_their_count(predictor, melody):
    broken = melody.copy()
    broken[[10, 20, 30]] = [np.nan, np.inf, -np.inf]
    with pytest.raises(predict.PredictError, match="3 NaN or infinite samples"):
        predictor(broken, sample_rate=44100, name="broken")


def expected_product(crnn, classifier, card, heard, temperature: float, experts=None) -> np.ndarray:
    """``(1, classes)``: the calibrated product of a CRNN (every window of the clip) and an sklearn card's model,
    computed here from the two models as notebook 04 computes it."""
    from musicgeo_utils.meldata import CLIP_WINDOWS, MelDataset

    logits, _ = training.predict(crnn, MelDataset([heard.mel], [0], crop_frames=CROP, train=False,
                                                  eval_crops=CLIP_WINDOWS))
    proba = classifier.predict_proba(card.inputs.vector(heard.inputs))
    return calibration.softmax_with_temperature(
        calibration.product_of_experts(logits, calibration.log_probabilities(proba), temperatures=experts), temperature)


def test_a_product_style_card_multiplies_the_classifier_with_its_crnn(tmp_path, clips):
    """A style card with a CRNN's card under PRODUCT_KEY answers as style_choice.ProductCandidate scores."""
    (tmp_path / "plain").mkdir()
    sklearn_bundle(tmp_path / "plain")  # the same models (same seed), without the product
    path, _, style_model, _ = sklearn_bundle(tmp_path)
    raw = json.loads(path.read_text())
    partner = saved_models.ModelCard("crnn", "style CRNN (mel)", "mel spectrogram", tmp_path / "style.pt", tuple(STYLES))
    product = {**raw["style"], "extra": {**raw["style"]["extra"], saved_models.PRODUCT_KEY: partner.to_dict()}}
    (tmp_path / predict.BUNDLE_NAME).write_text(json.dumps({**raw, "style": product}))
    plain = predict.Predictor(tmp_path / "plain" / predict.BUNDLE_NAME)
    multiplied = predict.Predictor(tmp_path / predict.BUNDLE_NAME)
    assert multiplied.bundle.style_partner == saved_models.card_from_dict(partner.to_dict(), tmp_path, "partner")
    heard = predict.hear(*predict.read_samples(clips / "long.flac"), multiplied.bundle, "x")
    expected = expected_product(multiplied.style_partner, style_model, multiplied.bundle.style, heard, 2.0)[0]
    by_style = multiplied.predict_heard(heard).styles.set_index("style")["probability"]
    np.testing.assert_allclose(by_style[STYLES], expected, rtol=1e-9)
    assert not np.allclose(by_style[STYLES], plain.predict_heard(heard).styles.set_index("style").loc[STYLES, "probability"])
    assert "mel spectrogram" in multiplied.predict_heard(heard).heard_as
    # each expert calibrated first by its own temperature (style_choice.ProductCandidate.calibrated)
    calibrated = {**product, "extra": {**product["extra"], saved_models.EXPERT_TEMPERATURES_KEY: [0.5, 3.0]}}
    (tmp_path / predict.BUNDLE_NAME).write_text(json.dumps({**raw, "style": calibrated}))
    experts = predict.Predictor(tmp_path / predict.BUNDLE_NAME)
    by_style_calibrated = experts.predict_heard(heard).styles.set_index("style")["probability"]
    np.testing.assert_allclose(by_style_calibrated[STYLES], expected_product(
        experts.style_partner, style_model, experts.bundle.style, heard, 2.0, experts=[0.5, 3.0])[0], rtol=1e-9)
    assert not np.allclose(by_style_calibrated[STYLES], by_style[STYLES])
    for bad in ([0.5], [0.5, -1.0], [0.5, "3"], "2"):
        broken = {**product, "extra": {**product["extra"], saved_models.EXPERT_TEMPERATURES_KEY: bad}}
        (tmp_path / "bad.json").write_text(json.dumps({**raw, "style": broken}))
        with pytest.raises(predict.PredictError, match="style.extra.expert_temperatures must be two positive"):
            predict.Predictor(tmp_path / "bad.json")
    lonely = {**raw["style"], "extra": {**raw["style"]["extra"], saved_models.EXPERT_TEMPERATURES_KEY: [1.0, 1.0]}}
    (tmp_path / "bad.json").write_text(json.dumps({**raw, "style": lonely}))  # temperatures without a partner
    with pytest.raises(predict.PredictError, match="on a product card"):
        predict.Predictor(tmp_path / "bad.json")
    for bad, message in (({**partner.to_dict(), "kind": "sklearn", "inputs": {"columns": ["x"]}}, "must be a CRNN"),
                         ({**partner.to_dict(), "classes": STYLES[:2]}, "must be a CRNN's card with the style card's 3"),
                         ({**partner.to_dict(), "file": "missing.pt"}, "model file not found"),
                         ({**partner.to_dict(), "extra": {"input": "piano roll"}}, "input must be"),
                         ({**partner.to_dict(), "extra": {"window_hop": 0}}, "window_hop must be a positive int")):
        broken = {**product, "extra": {**product["extra"], saved_models.PRODUCT_KEY: bad}}
        (tmp_path / "bad.json").write_text(json.dumps({**raw, "style": broken}))
        with pytest.raises(predict.PredictError, match=f"style.extra.product_with.*{message}"):
            predict.Predictor(tmp_path / "bad.json")


def test_a_product_region_card_multiplies_the_classifier_with_its_geographic_crnn(tmp_path, clips):
    """A region card with a CRNN's card under PRODUCT_KEY answers as notebook 04's region_crnn.product_answers:
    the product's logits, divided by the card's temperature, decoded and answered as calibrated probabilities."""
    path, region_model, _, _ = sklearn_bundle(tmp_path)
    training.save_checkpoint(tmp_path / "geo.pt", tiny_crnn(len(REGIONS), 3))
    raw = json.loads(path.read_text())
    classes = raw["region"]["classes"]
    partner = saved_models.ModelCard("crnn", "geographic CRNN (mel)", "mel spectrogram", tmp_path / "geo.pt",
                                     tuple(classes))
    product = {**raw["region"], "name": "geographic CRNN (mel) x region classifier (logistic regression)",
               "extra": {**raw["region"]["extra"], "decode_calibrated": True,
                         saved_models.PRODUCT_KEY: partner.to_dict()}}
    (tmp_path / predict.BUNDLE_NAME).write_text(json.dumps({**raw, "region": product}))
    predictor = predict.Predictor(tmp_path / predict.BUNDLE_NAME)
    assert predictor.bundle.region_partner == saved_models.card_from_dict(partner.to_dict(), tmp_path, "partner")
    heard = predict.hear(*predict.read_samples(clips / "long.flac"), predictor.bundle, "x")
    calibrated = expected_product(predictor.region_partner, region_model, predictor.bundle.region, heard, 1.5)
    places = REGIONS.set_index("region").loc[classes]
    lat, lon = decode_region_probabilities(calibrated, places["lat"], places["lon"], "median")
    pred = predictor.predict_heard(heard)
    np.testing.assert_allclose([pred.lat, pred.lon], [lat[0], lon[0]], rtol=0, atol=1e-9)
    assert pred.country == regions.predicted_countries(calibrated, SHARES, regions=classes)[0]
    np.testing.assert_allclose(pred.regions.set_index("region").loc[classes, "probability"], calibrated[0], rtol=1e-9)
    assert pred.region_model.startswith("geographic CRNN (mel) x region classifier")
    assert "mel spectrogram" in pred.heard_as
    for broken, message in (({**product, "extra": {**product["extra"], "decode_calibrated": False}},
                             "needs a classifier's region card whose decoding reads the calibrated product"),
                            ({**product, "extra": {**product["extra"], saved_models.PRODUCT_KEY: {
                                **partner.to_dict(), "classes": classes[:2]}}},
                             "region.extra.product_with: must be a CRNN's card with the region card's 3 classes")):
        (tmp_path / "bad.json").write_text(json.dumps({**raw, "region": broken}))
        with pytest.raises(predict.PredictError, match=message):
            predict.Predictor(tmp_path / "bad.json")


def test_a_table_of_clip_inputs_is_read_row_by_row_as_one_clip_is():
    """saved_models.clip_input_table + InputSpec.matrix (notebook 04's product) = clip_inputs + vector (predict)."""
    rng = np.random.default_rng(0)
    summary = pd.DataFrame(rng.normal(size=(4, 2)), columns=["rms_mean", "centroid_mean"], index=[7, 8, 9, 10])
    heard = pd.DataFrame(rng.normal(size=(4, 1)), columns=["pc_from_final_00"])
    table = saved_models.clip_input_table(summary, heard, ["a", "b", "c", "d"])
    assert list(table.columns) == ["rms_mean", "centroid_mean", "heard:pc_from_final_00"] and list(table.index) == list("abcd")
    spec = saved_models.InputSpec.standardised(table, np.array([True, True, True, False]),
                                               columns=["heard:pc_from_final_00", "rms_mean"])
    rows = np.vstack([spec.vector(saved_models.clip_inputs(summary.iloc[i], heard.iloc[i])) for i in range(4)])
    np.testing.assert_array_equal(spec.matrix(table), rows)
    with pytest.raises(saved_models.ModelError, match="reads 1 column"):
        spec.matrix(table.drop(columns="rms_mean"), "clips")
    with pytest.raises(ValueError, match="3 clip ids"):
        saved_models.clip_input_table(summary, heard, ["a", "b", "c"])
