"""region_crnn: a region CRNN calibrated and decoded on validation, its card for predict."""
from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

from musicgeo_utils import geo, meldata, predict, region_crnn, regions, training
from musicgeo_utils.config import seed_everything
from musicgeo_utils.models import CRNN

N_MELS = 16
PLACES = pd.DataFrame({"region": ["Ireland", "Saxony", "Yunnan"], "country": ["Ireland", "Germany", "China"],
                       "lat": [53.3, 51.0, 25.0], "lon": [-6.3, 13.7, 102.7]})


@pytest.fixture(scope="module")
def setup():
    rng = np.random.default_rng(0)
    codes = np.arange(36) % 3
    clips = []
    for code in codes:
        clip = rng.normal(-40.0, 2.0, size=(N_MELS, 40)).astype(np.float32)
        clip[5 * code:5 * code + 3] += 6.0
        clips.append(clip)
    place = PLACES.iloc[codes].reset_index(drop=True)
    tunes = pd.DataFrame({"tune_id": [f"t{i:02d}" for i in range(36)], "split": ["train"] * 18 + ["val"] * 9 + ["test"] * 9,
                          "lat": place["lat"] + rng.normal(0, 0.5, 36), "lon": place["lon"] + rng.normal(0, 0.5, 36),
                          "country": place["country"], "region": place["region"]})
    train = tunes[tunes["split"] == "train"]
    centroids = regions.region_centroids(train["lat"], train["lon"], train["region"], train["country"])
    shares = regions.region_country_shares(train["region"], train["country"])
    sets = meldata.split_datasets(tunes, pd.Series(clips, index=tunes["tune_id"]), codes, 24, 0)
    seed_everything(0)
    model = CRNN(3, n_mels=N_MELS, channels=(4, 8), gru_hidden=8)
    training.fit(model, sets["train"], sets["val"], training.TrainConfig(epochs=6, batch_size=6, lr=1e-2, crop_frames=24,
                                                                        progress=False))
    return tunes, codes, sets, model, centroids, shares


def test_answers_are_calibrated_and_decoded_on_validation(setup, tmp_path):
    tunes, codes, sets, model, centroids, shares = setup
    answers = region_crnn.calibrated_answers("geographic CRNN (mel)", "mel spectrogram", model, sets, tunes, codes,
                                             centroids, PLACES["region"], tmp_path / "geo.pt")
    val_logits = training.predict(model, sets["val"].as_eval(meldata.CLIP_WINDOWS))[0]
    assert answers.scaling.temperature > 0
    assert answers.decoding in geo.REGION_DECODINGS
    assert answers.val_balanced_median_km == answers.decoder.validation_scores_["val_balanced_median_km"].min()
    np.testing.assert_allclose(answers.test_proba.sum(axis=1), 1.0)
    assert answers.test_logits.shape == (9, 3) and not np.allclose(answers.test_logits, val_logits)
    lat, lon = answers.test_places()
    test = tunes[tunes["split"] == "test"]
    assert len(lat) == 9 and np.median(geo.great_circle_km(test["lat"], test["lon"], lat, lon)) < 500  # easy bands
    summary = answers.summary()
    assert summary["model"] == "geographic CRNN (mel)" and summary["decoding"] == answers.decoding
    assert {f"val balanced median km: {d}" for d in geo.REGION_DECODINGS} <= set(summary)


def test_card_carries_the_decoding_and_how_predict_feeds_the_network(setup, tmp_path):
    tunes, codes, sets, model, centroids, shares = setup
    training.save_checkpoint(tmp_path / "geo.pt", model)
    answers = region_crnn.calibrated_answers("geographic CRNN (pitch roll)", "pitch roll", model, sets, tunes, codes,
                                             centroids, PLACES["region"], tmp_path / "geo.pt",
                                             {"input": predict.PITCH_ROLL, "crop_frames": 24})
    card = answers.card(centroids, shares)
    assert card.kind == "crnn" and card.classes == tuple(PLACES["region"]) and card.file == tmp_path / "geo.pt"
    assert card.extra["input"] == predict.PITCH_ROLL and card.extra["crop_frames"] == 24
    assert card.extra["decoding"] == answers.decoding and card.extra["decode_calibrated"] is True
    assert card.extra["temperature"] == pytest.approx(answers.scaling.temperature)
    assert [r["region"] for r in card.extra["regions"]] == list(PLACES["region"])
    assert card.validation == {"balanced_median_km": answers.val_balanced_median_km}
    assert "window_hop" not in card.extra  # half a window: the default, not written


def test_the_window_hop_of_the_sets_scores_the_clips_and_goes_into_the_card(setup, tmp_path):
    tunes, codes, sets, model, centroids, shares = setup
    hopped = {name: copy.copy(ds) for name, ds in sets.items()}
    for ds in hopped.values():
        ds.window_hop = 4
    answers = region_crnn.calibrated_answers("geographic CRNN (pitch roll)", "pitch roll", model, hopped, tunes, codes,
                                             centroids, PLACES["region"], tmp_path / "geo.pt")
    expected = training.predict(model, hopped["test"].as_eval(meldata.CLIP_WINDOWS))[0]
    np.testing.assert_allclose(answers.test_logits, expected)
    assert not np.allclose(answers.test_logits, training.predict(model, sets["test"].as_eval(meldata.CLIP_WINDOWS))[0])
    assert answers.card(centroids, shares).extra["window_hop"] == 4


def test_a_validation_tune_without_a_region_is_refused(setup, tmp_path):
    tunes, codes, sets, model, centroids, shares = setup
    holed = codes.copy()
    holed[20] = -1  # a validation tune whose region no training tune has
    with pytest.raises(ValueError, match="every validation tune"):
        region_crnn.calibrated_answers("geographic CRNN (mel)", "mel spectrogram", model, sets, tunes, holed,
                                       centroids, PLACES["region"], tmp_path / "geo.pt")


def test_region_task_takes_its_centres_from_the_training_tunes_only():
    codes = np.arange(90) % 3
    place = PLACES.iloc[codes].reset_index(drop=True)
    tunes = pd.DataFrame({"tune_id": [f"t{i:02d}" for i in range(90)], "split": ["train"] * 60 + ["val"] * 30,
                          "lat": place["lat"], "lon": place["lon"], "country": place["country"], "region": place["region"]})
    task = regions.region_task(tunes)
    assert task.names == sorted(PLACES["region"])
    assert [task.names[c] for c in task.codes] == tunes["region"].tolist()
    assert task.shares.loc["Saxony", "Germany"] == 1.0
    moved = tunes.copy()
    val = moved["split"] == "val"
    moved.loc[val, ["lat", "lon"]] = [-40.0, 170.0]  # validation tunes elsewhere: the centres stay
    again = regions.region_task(moved)
    pd.testing.assert_frame_equal(again.centroids, task.centroids)
    pd.testing.assert_frame_equal(again.shares, task.shares)
    moved.loc[~val & (moved["region"] == "Saxony"), "lat"] += 2.0  # a training tune moves its centre
    assert not regions.region_task(moved).centroids.equals(task.centroids)


def test_any_region_models_logits_are_scored_as_a_crnns(setup):
    """answers_from_logits: the same temperature and decoding as calibrated_answers, from logits alone."""
    from musicgeo_utils import calibration

    tunes, codes, sets, model, centroids, shares = setup
    val_logits, test_logits = (training.predict(model, sets[s].as_eval(meldata.CLIP_WINDOWS))[0] for s in ("val", "test"))
    from_model = region_crnn.calibrated_answers("a", "mel", model, sets, tunes, codes, centroids, PLACES["region"], "a.pt")
    from_logits = region_crnn.answers_from_logits("a", "mel", val_logits, test_logits, tunes, codes, centroids,
                                                  PLACES["region"])
    assert from_logits.scaling == from_model.scaling and from_logits.decoding == from_model.decoding
    np.testing.assert_array_equal(np.r_[from_logits.test_places()], np.r_[from_model.test_places()])
    # a product of experts of two region models is scored the same way
    product = calibration.product_of_experts(val_logits, -val_logits)
    assert region_crnn.answers_from_logits("b", "", product, test_logits, tunes, codes, centroids,
                                           PLACES["region"]).scaling.temperature > 0
    with pytest.raises(ValueError, match="every validation tune"):
        region_crnn.answers_from_logits("c", "", val_logits[:-1], test_logits, tunes, codes, centroids, PLACES["region"])


def _test_answers(setup, tmp_path):
    """(answers of the mel region CRNN, the test tunes, the country shares)."""
    tunes, codes, sets, model, centroids, shares = setup
    answers = region_crnn.calibrated_answers("geographic CRNN (mel)", "mel spectrogram", model, sets, tunes, codes,
                                             centroids, PLACES["region"], tmp_path / "geo.pt")
    return answers, tunes[tunes["split"] == "test"].reset_index(drop=True), shares


def test_scores_decode_other_logits_of_the_test_tunes_as_the_test_logits(setup, tmp_path):
    """scores: the test logits give the test places' errors; logits that point elsewhere score worse."""
    answers, test, shares = _test_answers(setup, tmp_path)
    lat, lon = answers.test_places()
    in_domain = answers.scores(answers.test_logits, test, shares)
    errors = geo.great_circle_km(test["lat"], test["lon"], lat, lon)
    assert in_domain["n"] == 9 and in_domain["median_km"] == pytest.approx(np.median(errors))
    assert in_domain["balanced_country_accuracy"] == 1.0  # three easy bands, three countries
    shifted = np.roll(answers.test_logits, 1, axis=1)  # every clip heard as another region
    moved = answers.scores(shifted, test, shares)
    assert moved["balanced_country_accuracy"] == 0.0 and moved["balanced_median_km"] > 1000
    with pytest.raises(ValueError, match="8 rows of logits for 9 tunes"):
        answers.scores(answers.test_logits[:-1], test, shares)


def test_errors_km_are_the_per_tune_errors_scores_summarises(setup, tmp_path):
    answers, test, shares = _test_answers(setup, tmp_path)
    lat, lon = answers.test_places()
    errors = answers.errors_km(answers.test_logits, test)
    np.testing.assert_array_equal(errors, geo.great_circle_km(test["lat"], test["lon"], lat, lon))
    assert answers.scores(answers.test_logits, test, shares)["median_km"] == np.median(errors)
    with pytest.raises(ValueError, match="8 rows of logits for 9 tunes"):
        answers.errors_km(answers.test_logits[:-1], test)


def _product(setup, tmp_path, classes=None):
    """(the mel region CRNN's answers, notebook-03-like classifier card, its inputs, the product's answers)."""
    from sklearn.linear_model import LogisticRegression

    from musicgeo_utils import saved_models

    tunes, codes, sets, model, centroids, shares = setup
    training.save_checkpoint(tmp_path / "geo.pt", model)
    crnn = region_crnn.calibrated_answers("geographic CRNN (mel)", "mel spectrogram", model, sets, tunes, codes,
                                          centroids, PLACES["region"], tmp_path / "geo.pt")
    rng = np.random.default_rng(1)  # per clip: a noisy copy of its region's band, and one uninformative column
    summary = pd.DataFrame({"band": codes + rng.normal(0, 0.8, len(codes)), "level": rng.normal(size=len(codes))})
    heard = pd.DataFrame({"pc_from_final_00": rng.normal(size=len(codes))})
    inputs = saved_models.clip_input_table(summary, heard, tunes["tune_id"])
    train = (tunes["split"] == "train").to_numpy()
    spec = saved_models.InputSpec.standardised(inputs, train)
    fitted = LogisticRegression().fit(spec.matrix(inputs[train]), np.asarray(PLACES["region"])[codes[train]])
    card = saved_models.read_card(saved_models.save_sklearn_card(
        tmp_path, "region-classifier", fitted, name="region classifier (logistic regression)", features="summary",
        classes=fitted.classes_ if classes is None else classes, inputs=spec, validation={"balanced_median_km": 900.0}))
    return crnn, card, fitted, inputs


def test_a_product_multiplies_the_crnn_with_the_classifier_and_its_card_says_so(setup, tmp_path):
    from musicgeo_utils import calibration, saved_models

    tunes, codes, sets, model, centroids, shares = setup
    crnn, card, fitted, inputs = _product(setup, tmp_path)
    product = region_crnn.product_answers(crnn, card, inputs, tunes, codes, centroids, PLACES["region"])
    test_ids = tunes.loc[tunes["split"] == "test", "tune_id"]
    heard = np.log(fitted.predict_proba(card.inputs.matrix(inputs.loc[test_ids])))
    np.testing.assert_allclose(product.test_logits, calibration.product_of_experts(crnn.test_logits, heard))
    np.testing.assert_array_equal(product.product_logits(crnn.test_logits, inputs.loc[test_ids]), product.test_logits)
    assert product.name == "geographic CRNN (mel) x region classifier (logistic regression)"
    assert product.features == "mel spectrogram + summary" and product.scaling.temperature > 0
    bundle_card = product.card(centroids, shares)
    assert bundle_card.kind == "sklearn" and bundle_card.file == card.file and bundle_card.inputs == card.inputs
    assert bundle_card.extra["decode_calibrated"] is True and bundle_card.extra["decoding"] == product.decoding
    assert bundle_card.validation == {"balanced_median_km": product.val_balanced_median_km}
    partner = saved_models.card_from_dict(bundle_card.extra[saved_models.PRODUCT_KEY], tmp_path, "partner")
    assert partner.kind == "crnn" and partner.file == tmp_path / "geo.pt" and partner.classes == card.classes
    with pytest.raises(ValueError, match="not a product"):
        crnn.product_logits(crnn.test_logits, inputs.loc[test_ids])
    assert product.expert_temperatures is None and saved_models.EXPERT_TEMPERATURES_KEY not in bundle_card.extra
    # calibrated experts: each divided first by its own validation temperature, recorded for predict
    calibrated = region_crnn.product_answers(crnn, card, inputs, tunes, codes, centroids, PLACES["region"],
                                             calibrated=True)
    val_ids = tunes.loc[tunes["split"] == "val", "tune_id"]
    own = calibration.fit_temperature(np.log(fitted.predict_proba(card.inputs.matrix(inputs.loc[val_ids]))),
                                      np.asarray(codes)[(tunes["split"] == "val").to_numpy()]).temperature
    assert calibrated.expert_temperatures == (crnn.scaling.temperature, own)
    np.testing.assert_allclose(calibrated.test_logits, calibration.product_of_experts(
        crnn.test_logits, heard, temperatures=[crnn.scaling.temperature, own]))
    np.testing.assert_array_equal(calibrated.product_logits(crnn.test_logits, inputs.loc[test_ids]),
                                  calibrated.test_logits)
    assert calibrated.card(centroids, shares).extra[saved_models.EXPERT_TEMPERATURES_KEY] == [
        crnn.scaling.temperature, own]


def test_a_classifier_whose_classes_are_in_another_order_is_refused(setup, tmp_path):
    tunes, codes, sets, model, centroids, shares = setup
    crnn, card, _, inputs = _product(setup, tmp_path, classes=list(PLACES["region"])[::-1])
    with pytest.raises(ValueError, match="not the region task's 3 regions in order"):
        region_crnn.product_answers(crnn, card, inputs, tunes, codes, centroids, PLACES["region"])


def test_choose_keeps_the_leader_unless_validation_cannot_tell_a_better_placed_model_from_it(setup, tmp_path):
    tunes, codes, sets, model, centroids, shares = setup
    answers, _, _ = _test_answers(setup, tmp_path)
    val = tunes[tunes["split"] == "val"]
    twin = region_crnn.answers_from_logits("twin", "", answers.val_logits, answers.test_logits, tunes, codes,
                                           centroids, PLACES["region"])
    rolled = region_crnn.answers_from_logits("rolled", "", np.roll(answers.val_logits, 1, axis=1),
                                             np.roll(answers.test_logits, 1, axis=1), tunes, codes, centroids,
                                             PLACES["region"])
    chosen, table = region_crnn.choose([rolled, answers, twin], val, shares, n_boot=200)
    assert chosen is answers  # the twin ties it exactly: the earlier one
    assert table.loc["twin", ["minus_leader_low", "minus_leader_high"]].tolist() == [0.0, 0.0]
    assert table.loc["rolled", "minus_leader_low"] > 0 and table["chosen"].tolist() == [False, True, False]
    assert table.loc["rolled", "val_balanced_median_km"] > table.loc[answers.name, "val_balanced_median_km"]


def test_pick_breaks_a_tie_on_validation_by_the_balanced_country_accuracy():
    table = pd.DataFrame({"val_balanced_median_km": [938.0, 1207.0, 952.0],
                          "minus_leader_low": [0.0, 11.0, -55.0], "minus_leader_high": [0.0, 337.0, 41.0],
                          "val_balanced_country_accuracy_10": [0.206, 0.275, 0.276]}, index=["crnn", "clf", "product"])
    assert region_crnn.pick(table) == "product"  # tied with the leader and more often in the right country
    assert region_crnn.pick(table.assign(minus_leader_low=[0.0, 11.0, 3.0])) == "crnn"  # the interval excludes 0
    assert region_crnn.pick(table.assign(val_balanced_country_accuracy_10=[0.3, 0.4, 0.2])) == "crnn"  # clf not tied
    assert region_crnn.pick(table.assign(val_balanced_country_accuracy_10=[0.276, 0.1, 0.276])) == "crnn"  # tie: leader
    assert region_crnn.pick(table.assign(val_balanced_country_accuracy_10=np.nan)) == "crnn"  # no big country


def test_clip_logits_score_each_clip_of_a_split_over_every_window(setup):
    """training.clip_logits: notebook 04's held-out scoring in one call, the same logits as the test set's."""
    tunes, codes, sets, model, centroids, shares = setup
    test_ids = tunes.loc[tunes["split"] == "test", "tune_id"]
    clips = pd.Series(sets["test"].sources, index=test_ids.to_numpy())
    expected = training.predict(model, sets["test"].as_eval(meldata.CLIP_WINDOWS))[0]
    np.testing.assert_array_equal(training.clip_logits(model, tunes, clips, codes, 24), expected)
    holed = codes.copy()
    holed[np.flatnonzero(tunes["split"] == "test")[0]] = -1  # a tune left out of the task is left out here too
    np.testing.assert_array_equal(training.clip_logits(model, tunes, clips, holed, 24), expected[1:])
    hopped = training.clip_logits(model, tunes, clips, codes, 24, window_hop=4)
    assert hopped.shape == expected.shape and not np.allclose(hopped, expected)
