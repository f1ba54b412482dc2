"""Temperature scaling, expected calibration error and the reliability figure, on computed examples."""
import matplotlib
import numpy as np
import pytest
from scipy.special import softmax

from musicgeo_utils import calibration

matplotlib.use("Agg")


def sample(sharpness: float, n: int, k: int = 6, seed: int = 0):
    """Labels drawn from known probabilities; logits = sharpness * log(true probabilities).

    sharpness 1: calibrated; > 1: over-confident (the right temperature is ``sharpness``).
    """
    rng = np.random.default_rng(seed)
    true = rng.dirichlet(np.full(k, 0.7), size=n)
    labels = np.array([rng.choice(k, p=p) for p in true])
    return sharpness * np.log(true), labels


def test_over_confident_model_gets_temperature_above_one_and_lower_ece():
    val_logits, val_labels = sample(3.0, 4000, seed=1)
    test_logits, test_labels = sample(3.0, 4000, seed=2)
    scaling = calibration.fit_temperature(val_logits, val_labels)
    assert 2.6 < scaling.temperature < 3.4  # the true temperature is 3
    assert scaling.nll_after < scaling.nll_before
    ece_before, _ = calibration.expected_calibration_error(softmax(test_logits, axis=1), test_labels)
    calibrated = scaling.transform(test_logits)
    ece_after, table = calibration.expected_calibration_error(calibrated, test_labels)
    assert ece_before > 0.1 and ece_after < 0.03 and ece_after < ece_before / 4
    assert table["count"].sum() == len(test_labels)
    # the ranking of classes, hence the accuracy, is unchanged
    assert (np.argmax(calibrated, axis=1) == np.argmax(test_logits, axis=1)).all()


def test_under_confident_model_gets_temperature_below_one_and_calibrated_stays_near_one():
    logits, labels = sample(0.5, 4000, seed=3)
    assert calibration.fit_temperature(logits, labels).temperature < 0.6
    logits, labels = sample(1.0, 4000, seed=4)
    assert calibration.fit_temperature(logits, labels).temperature == pytest.approx(1.0, abs=0.1)


def test_probabilities_as_logits():
    logits, labels = sample(3.0, 3000, seed=5)
    proba = softmax(logits, axis=1)
    scaling = calibration.fit_temperature(calibration.log_probabilities(proba), labels)
    assert 2.5 < scaling.temperature < 3.5
    np.testing.assert_allclose(scaling.transform(calibration.log_probabilities(proba)),
                               softmax(logits / scaling.temperature, axis=1), atol=1e-4)  # up to the 1e-12 floor


def test_ece_known_value_and_bins():
    proba = np.array([[0.9, 0.1], [0.6, 0.4], [0.25, 0.75], [0.5, 0.5]])
    labels = np.array([0, 1, 1, 0])
    ece, table = calibration.expected_calibration_error(proba, labels, n_bins=10)
    # bins (0.8, 0.9]: 0.9 right; (0.5, 0.6]: 0.6 wrong; (0.7, 0.8]: 0.75 right; (0.4, 0.5]: 0.5 right
    assert table.set_index("bin")["count"].to_dict() == {0: 0, 1: 0, 2: 0, 3: 0, 4: 1, 5: 1, 6: 0, 7: 1, 8: 1, 9: 0}
    assert ece == pytest.approx((0.1 + 0.6 + 0.25 + 0.5) / 4)
    assert np.isnan(table.at[0, "accuracy"]) and table.at[5, "accuracy"] == 0.0
    assert list(table.columns) == ["bin", "lower", "upper", "count", "confidence", "accuracy", "gap"]


@pytest.mark.parametrize("call, message", [
    (lambda: calibration.fit_temperature(np.zeros((3, 2)), [0, 1, 2]), r"labels must lie in \[0, 1\]"),
    (lambda: calibration.fit_temperature(np.zeros((3, 2)), [0, 1]), "2 labels for 3 rows"),
    (lambda: calibration.fit_temperature(np.zeros(3), [0, 1, 0]), "logits must be an"),
    (lambda: calibration.fit_temperature(np.full((2, 2), np.nan), [0, 1]), "logits contain NaN"),
    (lambda: calibration.fit_temperature(np.zeros((2, 2)), [0.5, 1]), "integer class codes"),
    (lambda: calibration.expected_calibration_error([[0.7, 0.7]], [0]), "rows sum to 1"),
    (lambda: calibration.expected_calibration_error([[0.5, 0.5]], [0], n_bins=0), "n_bins"),
    (lambda: calibration.nll([[0.0, 1.0]], [0], temperature=0.0), "temperature must be positive"),
    (lambda: calibration.reliability_figure({}), "at least one"),
])
def test_bad_inputs_raise_clear_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_reliability_figure_has_diagonal_and_ece_in_legend():
    logits, labels = sample(3.0, 1000, seed=6)
    scaling = calibration.fit_temperature(logits, labels)
    before = calibration.expected_calibration_error(softmax(logits, axis=1), labels)
    after = calibration.expected_calibration_error(scaling.transform(logits), labels)
    fig = calibration.reliability_figure({"raw": before[1], "temperature-scaled": after[1]})
    texts = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert texts == ["perfect calibration", f"raw (ECE {before[0]:.3f})", f"temperature-scaled (ECE {after[0]:.3f})"]
    line = fig.axes[0].get_lines()[1]
    filled = before[1][before[1]["count"] > 0]
    np.testing.assert_allclose(line.get_ydata(), filled["accuracy"])
    import matplotlib.pyplot as plt
    plt.close(fig)


def test_softmax_with_a_saved_temperature_equals_the_fitted_transform():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(50, 4)) * 3
    labels = rng.integers(0, 4, size=50)
    scaling = calibration.fit_temperature(logits, labels)
    np.testing.assert_allclose(calibration.softmax_with_temperature(logits, scaling.temperature),
                               scaling.transform(logits))
    with pytest.raises(ValueError, match="positive"):
        calibration.softmax_with_temperature(logits, 0.0)


def test_product_of_experts_is_the_normalised_geometric_mean():
    rng = np.random.default_rng(1)
    crnn_logits = rng.normal(0, 3, size=(5, 4)) + 7.0  # logits: any offset
    proba = rng.dirichlet(np.ones(4), size=5)
    combined = softmax(calibration.product_of_experts(crnn_logits, calibration.log_probabilities(proba)), axis=1)
    expected = np.sqrt(softmax(crnn_logits, axis=1) * proba)
    np.testing.assert_allclose(combined, expected / expected.sum(axis=1, keepdims=True), rtol=1e-12)
    # a class that one expert rules out stays out, however sure the other is
    vetoed = calibration.product_of_experts(np.array([[9.0, 0.0]]), np.log(np.array([[1e-12, 1.0]])))
    assert vetoed.argmax() == 1
    np.testing.assert_allclose(calibration.product_of_experts(crnn_logits),  # one expert: its log-probabilities
                               np.log(softmax(crnn_logits, axis=1)), rtol=1e-12)
    with pytest.raises(ValueError, match="same shape"):
        calibration.product_of_experts(crnn_logits, crnn_logits[:, :3])
    with pytest.raises(ValueError, match="at least one"):
        calibration.product_of_experts()
    with pytest.raises(ValueError, match="NaN"):
        calibration.product_of_experts(crnn_logits, np.full((5, 4), np.nan))


def test_product_of_calibrated_experts_divides_each_by_its_temperature():
    rng = np.random.default_rng(3)
    sharp, soft = rng.normal(size=(6, 4)) * 8, rng.normal(size=(6, 4))
    got = calibration.product_of_experts(sharp, soft, temperatures=[4.0, 0.5])
    np.testing.assert_allclose(got, calibration.product_of_experts(sharp / 4.0, soft / 0.5))
    np.testing.assert_allclose(calibration.product_of_experts(sharp, soft, temperatures=[1, 1]),
                               calibration.product_of_experts(sharp, soft))
    # an over-confident expert decides alone; calibrated, the other one's answer counts
    loud, quiet = np.array([[20.0, 0.0, 0.0], [0.0, 20.0, 0.0]]), np.array([[0.0, 3.0, 0.0], [0.0, 0.0, 3.0]])
    assert calibration.product_of_experts(loud, quiet).argmax(1).tolist() == [0, 1]
    assert calibration.product_of_experts(loud, quiet, temperatures=[10.0, 0.5]).argmax(1).tolist() == [1, 2]
    for bad in ([1.0], [1.0, 0.0], [1.0, np.nan]):
        with pytest.raises(ValueError, match="temperatures"):
            calibration.product_of_experts(sharp, soft, temperatures=bad)
