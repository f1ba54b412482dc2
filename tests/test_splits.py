"""Grouped, stratified splits and profile sampling."""
import numpy as np
import pandas as pd

from musicgeo_utils import splits
from musicgeo_utils.config import get_profile, Profile


def _manifest(n=3000, seed=0):
    rng = np.random.default_rng(seed)
    countries = rng.choice(["Germany", "China", "Ireland", "Luxembourg", "Tonga"], n, p=[0.6, 0.2, 0.15, 0.0499, 0.0001])
    frame = pd.DataFrame({
        "tune_id": [f"t{i:05d}" for i in range(n)],
        "country": countries,
        "style": np.where(countries == "China", "Chinese folk", "German folk"),
        "group": [f"g{i // 3:05d}" for i in range(n)],  # families of three
        "lat": rng.uniform(20, 60, n),
        "n_notes": rng.integers(5, 200, n),
    })
    frame.loc[::97, "lat"] = np.nan
    frame.loc[::89, "country"] = None
    return frame


def test_no_family_straddles_two_splits_and_shares_are_sane():
    tunes = _manifest()
    tunes["split"] = splits.assign_splits(tunes, seed=0)
    assert splits.family_leaks(tunes).empty
    share = tunes.split.value_counts(normalize=True)
    assert 0.10 < share["test"] < 0.20 and 0.10 < share["val"] < 0.20
    # stratified: China's share in test is close to its share overall
    china = tunes.country.eq("China")
    assert abs(china[tunes.split == "test"].mean() - china.mean()) < 0.03


def test_split_is_deterministic_and_seed_dependent():
    tunes = _manifest()
    a = splits.assign_splits(tunes, seed=0)
    assert a.equals(splits.assign_splits(tunes, seed=0))
    assert not a.equals(splits.assign_splits(tunes, seed=1))


def test_profile_sample_is_balanced_and_usable():
    tunes = _manifest()
    tunes["split"] = splits.assign_splits(tunes, seed=0)
    sample = splits.sample_profile(tunes, Profile("t", per_stratum=100, clip_seconds=5, epochs=1), seed=0)
    assert sample.groupby(["style", "country"]).size().max() <= 100
    assert sample.lat.notna().all() and (sample.n_notes >= splits.MIN_NOTES).all()
    full = splits.sample_profile(tunes, get_profile("full"), seed=0)
    assert len(full) == splits.usable(tunes).sum()
    again = splits.sample_profile(tunes, Profile("t", per_stratum=100, clip_seconds=5, epochs=1), seed=0)
    assert sample.tune_id.equals(again.tune_id)
