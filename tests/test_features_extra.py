"""Analysis helpers added for notebooks 02 and 03: known answers on small inputs."""
import numpy as np
import pandas as pd
import pytest

from musicgeo_utils import features as f
from musicgeo_utils import geoscores, plots


def chroma_table(rows):
    columns = [f"chroma_{p}_mean" for p in f.PITCH_CLASSES]
    return pd.DataFrame(rows, columns=columns)


# --------------------------------------------------------------------------- features


def test_chroma_entropy_of_one_pitch_class_and_of_all_twelve():
    one_hot = np.eye(12)[9]  # only A
    table = chroma_table([one_hot, np.ones(12), [1, 0, 1] + [0] * 9])
    bits = f.chroma_entropy_bits(table)
    assert bits.tolist() == pytest.approx([0.0, np.log2(12), 1.0])


def test_chroma_entropy_refuses_missing_columns_and_negative_values():
    with pytest.raises(ValueError, match="chroma mean"):
        f.chroma_entropy_bits(pd.DataFrame({"chroma_C_mean": [1.0]}))
    with pytest.raises(ValueError, match="non-negative"):
        f.chroma_entropy_bits(chroma_table([-np.ones(12)]))


def test_standardise_uses_training_rows_only_and_drops_constant_columns():
    summary = pd.DataFrame({"a": [1.0, 3.0, 100.0], "flat": [2.0, 2.0, 5.0]}, index=["x", "y", "z"])
    z, dropped = f.standardise_summary(summary, np.array([True, True, False]))
    assert dropped == ["flat"]
    assert z["a"].tolist() == pytest.approx([-1.0, 1.0, 98.0])  # mean 2, std 1 from rows x, y


def test_standardise_names_the_clips_with_nan_features():
    summary = pd.DataFrame({"a": [1.0, np.nan, 2.0]}, index=["ok", "broken", "fine"])
    with pytest.raises(ValueError, match="broken"):
        f.standardise_summary(summary, np.array([True, True, True]))


# --------------------------------------------------------------------------- plots


def test_plot_helpers_label_their_axes():
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2)
    plots.error_cdf(axes[0, 0], {"a": [10, 100, 1000], "b": [5, 50]})
    plots.group_boxes(axes[0, 1], [1, 2, 3, 4], ["x", "x", "y", "y"], "tempo (BPM)")
    plots.embedding_scatter(axes[1, 0], np.zeros((4, 2)), ["x", "x", "y", "y"])
    plots.confusion_heatmap(axes[1, 1], geoscores.country_confusion(["a", "b"], ["a", "a"]))
    assert "km" in axes[0, 0].get_xlabel() and "BPM" in axes[0, 1].get_xlabel()
    assert all(ax.get_xlabel() and ax.get_ylabel() for ax in axes.ravel() if ax is not axes[0, 1])
    plt.close(fig)


def test_summary_families_cover_every_summary_name_in_order():
    params = f.FeatureParams(n_mfcc=13, percentiles=(50.0,))
    table = f.summary_families(params)
    assert table["name"].tolist() == f.summary_names(params)
    counts = table["family"].value_counts()
    assert counts["mfcc"] == 13 * 3 and counts["chroma"] == 12 * 3 and counts["rhythm"] == 4
    assert counts["spectral"] == (3 + params.n_contrast_bands + 1) * 3
    assert counts["tonal"] == 22 + 12 * len(params.interval_lags_beats) and counts["meter"] == 12 * 4 + 1


def test_spectrogram_axes_use_seconds_hz_and_pitch_classes():
    import matplotlib.pyplot as plt

    fig, (mel_ax, chroma_ax) = plt.subplots(1, 2)
    image = plots.mel_axes(mel_ax, np.zeros((96, 470)), 12000, 256)
    plots.chroma_axes(chroma_ax, np.zeros((12, 470)), 12000, 256)
    fig.colorbar(image, ax=mel_ax)
    assert mel_ax.get_xlim()[1] == pytest.approx(470 * 256 / 12000, abs=0.05)
    assert "Hz" in mel_ax.get_ylabel() and chroma_ax.get_ylabel() == "pitch class"
    assert chroma_ax.get_yticklabels()[0].get_text() == "C"
    plt.close(fig)


def test_standardise_like_scales_new_rows_with_the_training_statistics():
    import pandas as pd

    from musicgeo_utils import features

    summary = pd.DataFrame({"a": [1.0, 3.0, 100.0], "b": [2.0, 2.0, 5.0]}, index=["x", "y", "z"])
    train = np.array([True, True, False])
    other = pd.DataFrame({"b": [9.0], "a": [5.0]}, index=["new"])
    z = features.standardise_like(summary, train, other)
    assert list(z.columns) == ["a"] and list(z.index) == ["new"]  # b is constant on train: dropped
    assert z.at["new", "a"] == pytest.approx((5.0 - 2.0) / 1.0)
    with pytest.raises(ValueError, match="lacks"):
        features.standardise_like(summary, train, other.drop(columns="a"))
