"""Train / validation / test splits and the run profiles.

Splits are made once on the whole corpus and stored in the manifest, so a
tune keeps its split whatever profile samples it:

* **grouped** by tune family (``group`` from :mod:`musicgeo_utils.matching`):
  two transcriptions of one melody never sit on both sides of a split, which
  would let a model "recognise" a test tune it trained on;
* **stratified** by region (``stratum``: the country, or 'unknown' for tunes
  without coordinates), so each split sees every region in proportion.

A profile is a balanced sample of the manifest: at most
``Profile.per_stratum`` tunes from each (style, country) stratum, so that the
small profile is not 60 % German and still covers every style and region.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold

from .config import Profile

SPLITS = ("train", "val", "test")
#: Fewest notes for a tune to be used by the models (shorter ones are fragments).
MIN_NOTES = 16


def _one_fold(labels: pd.Series, groups: pd.Series, n_splits: int, seed: int) -> np.ndarray:
    """Boolean mask of the first fold of a seeded StratifiedGroupKFold."""
    splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    _, fold = next(splitter.split(np.zeros(len(labels)), labels.to_numpy(), groups.to_numpy()))
    mask = np.zeros(len(labels), dtype=bool)
    mask[fold] = True
    return mask


def assign_splits(
    tunes: pd.DataFrame, seed: int, test_fraction: float = 0.15, val_fraction: float = 0.15
) -> pd.Series:
    """Split label ('train', 'val', 'test') for every tune, grouped and stratified.

    Parameters
    ----------
    tunes : manifest with ``group`` (tune family) and ``country`` columns.
    seed : drives the shuffling; the same seed gives the same split.
    test_fraction, val_fraction : approximate shares of tunes (families are
        kept whole, so the shares are approximate).
    """
    strata = tunes["country"].fillna("unknown").astype(str)
    # Strata too small to be spread over folds are pooled (sklearn warns otherwise).
    n_test_folds = max(2, round(1 / test_fraction))
    small = strata.map(strata.value_counts()) < n_test_folds
    strata = strata.mask(small, "other")
    split = pd.Series("train", index=tunes.index, dtype=object)
    test = _one_fold(strata, tunes["group"], n_test_folds, seed)
    split[test] = "test"
    rest = ~test
    n_val_folds = max(2, round((1 - test_fraction) / val_fraction))
    val = _one_fold(strata[rest], tunes.loc[rest, "group"], n_val_folds, seed + 1)
    split[np.flatnonzero(rest)[val]] = "val"
    return split


def family_leaks(tunes: pd.DataFrame, split_column: str = "split") -> pd.DataFrame:
    """Tune families found in more than one split (empty when the split is clean)."""
    per_family = tunes.groupby("group")[split_column].nunique()
    return per_family[per_family > 1].rename("n_splits").reset_index()


def usable(tunes: pd.DataFrame) -> pd.Series:
    """Tunes a model can use: geocoded, parsed, at least :data:`MIN_NOTES` notes."""
    return tunes["lat"].notna() & (tunes["n_notes"] >= MIN_NOTES)


def sample_profile(tunes: pd.DataFrame, profile: Profile, seed: int) -> pd.DataFrame:
    """The tunes a profile uses: a balanced, seeded sample of usable tunes.

    At most ``profile.per_stratum`` tunes are drawn from each (style, country)
    stratum (all of them when ``per_stratum`` is None). Returns the sampled
    rows of ``tunes`` sorted by ``tune_id``; their splits are unchanged.
    """
    pool = tunes[usable(tunes)]
    if profile.per_stratum is None:
        return pool.sort_values("tune_id", ignore_index=True)
    rng = np.random.default_rng(seed)
    order = pool.assign(_key=rng.random(len(pool))).sort_values("_key")
    sample = order.groupby(["style", "country"], sort=True).head(profile.per_stratum)
    return sample.drop(columns="_key").sort_values("tune_id", ignore_index=True)


def split_table(tunes: pd.DataFrame, by: str = "style") -> pd.DataFrame:
    """Tunes per ``by`` value and split, with totals: the table the notebooks show."""
    table = pd.crosstab(tunes[by], tunes["split"]).reindex(columns=list(SPLITS), fill_value=0)
    table["total"] = table.sum(axis=1)
    table.loc["total"] = table.sum(axis=0)
    return table
