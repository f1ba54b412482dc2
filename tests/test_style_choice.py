"""style_choice: candidates ranked on validation, the best CRNN for the map, the test answers of the best."""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from musicgeo_utils import calibration, evaluation, meldata, saved_models, style_choice, training
from musicgeo_utils.config import seed_everything
from musicgeo_utils.evaluation import ChosenModel
from musicgeo_utils.models import CRNN

N_MELS, CLASSES = 16, ("a", "b", "c")


@pytest.fixture(scope="module")
def tunes():
    """30 tunes in three splits; class c lights bands 5c..5c+2; one tune left out (code -1)."""
    rng = np.random.default_rng(0)
    codes = np.arange(30) % 3
    codes[7] = -1
    clips = {}
    for i, code in enumerate(codes):
        clip = rng.normal(-40.0, 2.0, size=(N_MELS, 40)).astype(np.float32)
        clip[5 * max(code, 0):5 * max(code, 0) + 3] += 6.0
        clips[f"t{i:02d}"] = clip
    table = pd.DataFrame({"tune_id": list(clips), "split": ["train"] * 12 + ["val"] * 9 + ["test"] * 9})
    return table, codes, pd.Series(clips)


def crnn_candidate(name, clips, seed, path):
    seed_everything(seed)
    model = CRNN(len(CLASSES), n_mels=N_MELS, channels=(4, 8), gru_hidden=8).eval()
    return style_choice.CrnnCandidate(name, "mel spectrogram", model, clips, 24, path)


def classifier_candidate(name, codes, f1):
    from sklearn.linear_model import LogisticRegression

    X = np.eye(3)[np.maximum(codes, 0)] + 0.01 * np.arange(len(codes))[:, None]
    chosen = ChosenModel("logistic regression")
    chosen.scores, chosen.model = {"logistic regression": f1}, LogisticRegression().fit(X[:12], np.maximum(codes, 0)[:12])
    return style_choice.ClassifierCandidate(name, "summary features", chosen, ["x0", "x1", "x2"], X)


def test_candidates_are_ranked_on_validation_and_the_best_crnn_is_kept(tunes, tmp_path):
    table, codes, clips = tunes
    crnns = [crnn_candidate("mel CRNN", clips, 0, tmp_path / "a.pt"), crnn_candidate("other CRNN", clips, 1, tmp_path / "b.pt")]
    f1 = [c.validation_f1(table, codes) for c in crnns]
    val_rows = (table["split"] == "val").to_numpy() & (codes >= 0)
    _, logits, _ = crnns[0].outputs(table, codes, ("val",))
    assert f1[0] == evaluation.macro_f1(codes[val_rows], logits.argmax(axis=1))
    strong = classifier_candidate("logistic regression (summary)", codes, 1.0)  # as good as its product
    choice = style_choice.choose(crnns, [strong], table, codes, n_boot=100)
    assert choice.best is strong and choice.best_crnn is crnns[int(np.argmax(f1))]
    assert choice.validation_f1.index[0] == strong.name and choice.validation_f1.is_monotonic_decreasing
    assert choice.validation_f1[choice.product.name] == 1.0  # a tie goes to the earlier candidate
    # the rule on its table: the leader (highest macro-F1, the earlier on a tie), or among the candidates whose
    # bootstrap interval against it holds zero the lowest log-loss after its own temperature
    assert choice.table.index.tolist() == [crnns[0].name, crnns[1].name, strong.name, choice.product.name]
    truth = codes[val_rows]
    assert choice.table.loc["mel CRNN", "validation_nll"] == calibration.fit_temperature(logits, truth).nll_after
    assert choice.table.loc[strong.name, ["minus_leader_low", "minus_leader_high"]].tolist() == [0.0, 0.0]
    for score in (min(f1) - 0.1, max(f1)):  # a classifier below the CRNNs, then one tied with the best CRNN
        other = style_choice.choose(crnns, [classifier_candidate("logistic regression (summary)", codes, score)],
                                    table, codes, n_boot=200)
        rule = other.table
        tied = rule[(rule["minus_leader_low"] <= 0) & (rule["minus_leader_high"] >= 0)]
        assert rule["validation_macro_f1"].idxmax() in tied.index  # the leader is always among them
        assert other.best.name == tied["validation_nll"].idxmin() and rule["chosen"].sum() == 1
        assert rule.loc[other.best.name, "chosen"] and other.best_crnn is choice.best_crnn
        np.testing.assert_array_equal(other.validation_f1.sort_index(), rule["validation_macro_f1"].sort_index())
    with pytest.raises(ValueError, match="at least one CRNN"):
        style_choice.choose([], [strong], table, codes, n_boot=100)
    with pytest.raises(ValueError, match="names must differ"):
        style_choice.choose([crnns[0], crnns[0]], [], table, codes, n_boot=100)


def test_window_hop_scores_the_clips_and_goes_into_the_card(tunes, tmp_path):
    table, codes, clips = tunes
    plain = crnn_candidate("mel CRNN", clips, 0, tmp_path / "a.pt")
    hopped = dataclasses.replace(plain, window_hop=4, card_extra={"input": "pitch roll"}, _memo={})
    _, logits, _ = hopped.outputs(table, codes, ("val",))
    rows = (codes >= 0) & (table["split"] == "val").to_numpy()
    ds = meldata.MelDataset(clips.loc[table["tune_id"][rows]].tolist(), codes[rows], 24, train=False,
                            eval_crops=meldata.CLIP_WINDOWS, window_hop=4)
    np.testing.assert_allclose(logits, training.predict(hopped.model, ds)[0])
    assert not np.allclose(logits, plain.outputs(table, codes, ("val",))[1])
    assert hopped.with_inputs(clips).window_hop == 4
    assert hopped.card(CLASSES, 0.5).extra == {"window_hop": 4, "input": "pitch roll"}
    assert plain.card(CLASSES, 0.5).extra == {}


def test_outputs_follow_the_splits_skip_left_out_tunes_and_are_computed_once(tunes, tmp_path, monkeypatch):
    table, codes, clips = tunes
    candidate = crnn_candidate("mel CRNN", clips, 0, tmp_path / "a.pt")
    ids, logits, embeddings = candidate.outputs(table, codes, ("val", "test"))
    keep = codes >= 0
    expected = [t for s in ("val", "test") for t in table.loc[keep & (table["split"] == s).to_numpy(), "tune_id"]]
    assert ids.tolist() == expected and "t07" not in ids  # t07 is left out (code -1)
    assert logits.shape == (len(expected), len(CLASSES)) and len(embeddings) == len(expected)
    calls = []
    monkeypatch.setattr(training, "predict", lambda *a, **k: calls.append(1) or (_ for _ in ()).throw(AssertionError))
    again = candidate.outputs(table, codes, ("test", "val"))
    assert not calls and again[0].tolist() == expected[9:] + expected[:9]
    np.testing.assert_array_equal(again[1][:9], logits[9:])


def test_test_answers_and_cards_of_both_kinds(tunes, tmp_path):
    table, codes, clips = tunes
    crnn = crnn_candidate("mel CRNN", clips, 0, tmp_path / "a.pt")
    training.save_checkpoint(tmp_path / "a.pt", crnn.model)
    classifier = classifier_candidate("logistic regression (summary)", codes, 1.0)  # ties with its product, wins
    choice = style_choice.choose([crnn], [classifier], table, codes, n_boot=100)
    answers = choice.test_answers(table, codes, CLASSES)
    test_rows = (table["split"] == "test").to_numpy() & (codes >= 0)
    assert answers["tune_id"].tolist() == table.loc[test_rows, "tune_id"].tolist()
    proba = classifier.chosen.model.predict_proba(classifier.X[test_rows])
    calibrated = calibration.softmax_with_temperature(np.log(proba), choice.scaling.temperature)
    np.testing.assert_allclose(answers["probability"], calibrated.max(axis=1))
    assert answers["style"].tolist() == [CLASSES[i] for i in proba.argmax(axis=1)]  # the temperature keeps the ranking
    assert (answers["model"] == classifier.name).all()
    card = choice.card(CLASSES, tmp_path)
    assert card.kind == "sklearn" and card.validation == {"macro_f1": 1.0} and card.inputs.columns == ("x0", "x1", "x2")
    assert card.extra == {"temperature": choice.scaling.temperature}
    assert saved_models.read_card(tmp_path / "style-classifier.json").extra == card.extra
    crnn_card = crnn.card(CLASSES, 0.5, extra={"temperature": 2.0})
    assert crnn_card.kind == "crnn" and crnn_card.file == tmp_path / "a.pt" and crnn_card.classes == CLASSES
    assert crnn_card.extra == {"temperature": 2.0}
    assert crnn.logits(table, codes, "test").shape == (int(test_rows.sum()), len(CLASSES))
    with pytest.raises(ValueError, match="folder"):
        classifier.card(CLASSES, 0.9)


def test_the_temperature_is_fitted_on_validation_and_reported_on_test(tunes, tmp_path):
    table, codes, clips = tunes
    crnn = crnn_candidate("mel CRNN", clips, 0, tmp_path / "a.pt")
    strong = classifier_candidate("logistic regression (summary)", codes, 1.0)  # every answer right, too unsure
    for best, choice in ((strong, style_choice.choose([crnn], [strong], table, codes, n_boot=100)),
                         (crnn, style_choice.choose([crnn], [], table, codes, n_boot=100))):
        assert choice.best is best
        val_rows = (table["split"] == "val").to_numpy() & (codes >= 0)
        expected = calibration.fit_temperature(best.logits(table, codes, "val"), codes[val_rows])
        assert choice.scaling.temperature == expected.temperature
        assert choice.scaling.nll_after <= choice.scaling.nll_before
        reliability, bins = choice.reliability(table, codes)
        assert reliability.index.tolist() == ["uncalibrated", "temperature fitted on validation"]
        assert reliability["temperature"].tolist() == [1.0, choice.scaling.temperature]
        assert reliability["accuracy"].nunique() == 1  # a temperature never changes the top style
        test_rows = (table["split"] == "test").to_numpy() & (codes >= 0)
        for name, calibrated in (("uncalibrated", False), ("temperature fitted on validation", True)):
            proba = choice.probabilities(table, codes, "test", calibrated=calibrated)
            ece, table_ = calibration.expected_calibration_error(proba, codes[test_rows])
            assert reliability.loc[name, "ece"] == ece and bins[name].equals(table_)
            assert reliability.loc[name, "confidence"] == pytest.approx(proba.max(axis=1).mean())
    # the strong classifier is right on every validation tune: sharpening lowers its loss
    assert style_choice.choose([crnn], [strong], table, codes, n_boot=100).scaling.temperature < 1.0


def test_the_product_of_the_best_crnn_and_the_best_classifier_is_ranked_too(tunes, tmp_path):
    table, codes, clips = tunes
    crnns = [crnn_candidate("mel CRNN", clips, 0, tmp_path / "a.pt"), crnn_candidate("other CRNN", clips, 1, tmp_path / "b.pt")]
    training.save_checkpoint(tmp_path / "a.pt", crnns[0].model)
    training.save_checkpoint(tmp_path / "b.pt", crnns[1].model)
    weak, strong = (classifier_candidate(name, codes, f1) for name, f1 in (("weak", 0.2), ("strong", 0.3)))
    choice = style_choice.choose(crnns, [weak, strong], table, codes, n_boot=100)
    product = choice.product
    assert product.crnn is choice.best_crnn and product.classifier is strong
    assert product.name == f"{choice.best_crnn.name} x strong" and product.name in choice.validation_f1.index
    val_rows = (table["split"] == "val").to_numpy() & (codes >= 0)
    proba = strong.chosen.model.predict_proba(strong.X[val_rows])
    crnn_val = choice.best_crnn.logits(table, codes, "val")
    # each expert calibrated by its own temperature, fitted on validation, before the product
    t_crnn, t_clf = (calibration.fit_temperature(logits, codes[val_rows]).temperature
                     for logits in (crnn_val, calibration.log_probabilities(proba)))
    assert product.temperatures == (t_crnn, t_clf) and t_crnn != t_clf
    expected = np.sqrt(training.softmax(crnn_val / t_crnn) * training.softmax(np.log(proba) / t_clf))
    np.testing.assert_allclose(training.softmax(product.logits(table, codes, "val")),
                               expected / expected.sum(axis=1, keepdims=True), rtol=1e-9)
    assert choice.validation_f1[product.name] == evaluation.macro_f1(codes[val_rows], expected.argmax(axis=1))
    # the product wins only on merit: a classifier right on every validation tune (by its score) beats it
    perfect = classifier_candidate("perfect", codes, 1.0)
    assert style_choice.choose(crnns, [perfect], table, codes, n_boot=100).best.name == "perfect"
    assert style_choice.choose(crnns, [], table, codes, n_boot=100).product is None
    # its card: the classifier's model, named as the product, with the CRNN's card for predict to multiply
    card = product.card(CLASSES, 0.7, tmp_path, extra={"temperature": 1.5})
    assert card.kind == "sklearn" and card.name == product.name and card.validation == {"macro_f1": 0.7}
    partner = saved_models.card_from_dict(card.extra[saved_models.PRODUCT_KEY], tmp_path, "partner")
    assert partner.kind == "crnn" and partner.file == product.crnn.checkpoint and partner.classes == CLASSES
    assert partner.validation == {} and card.extra["temperature"] == 1.5
    assert card.extra[saved_models.EXPERT_TEMPERATURES_KEY] == [t_crnn, t_clf]
    assert saved_models.read_card(tmp_path / "style-classifier.json") == card
    # the same two models on other clips: other rows for the classifier, other inputs for the CRNN
    moved = product.with_inputs(clips.map(lambda clip: clip[:, ::-1].copy()), strong.X[::-1].copy())
    assert moved.crnn.model is product.crnn.model and moved.classifier.chosen is strong.chosen
    assert moved.temperatures == product.temperatures
    assert not np.allclose(moved.logits(table, codes, "test"), product.logits(table, codes, "test"))
