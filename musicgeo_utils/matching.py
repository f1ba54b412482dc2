"""Data matching: which tunes are the same music?

The first write-up matched audio files to metadata by an md5 of the file. A
file hash only finds byte-identical copies; the same tune transcribed twice
(O'Neill's prints tunes 732-758 twice, Essen has ``test``/``variant`` files,
Ryan's and O'Neill's share many dance tunes) differs in key, note lengths and
ornaments. So we hash the *music*:

1. **Normalised melody.** Each note becomes a token of (pitch interval to the
   previous note in semitones, inter-onset-interval ratio to the previous
   note rounded to a quarter octave). Intervals make the token stream
   invariant to transposition; ratios make it invariant to the unit note
   length (``L:1/8`` vs ``L:1/16``) and to tempo.
2. **Exact match.** ``melody_hash`` is a SHA-1 of the whole token stream:
   two tunes with the same hash are the same melody in any key.
3. **Near duplicates.** Each tune is a set of overlapping token ``k``-grams
   (shingles). Candidate pairs share at least one *rare* shingle (one that
   occurs in few tunes), which keeps the search linear in practice; their
   similarity is the Jaccard index of the full shingle sets.
4. **Tune families** are the connected components of the exact and near
   matches; the manifest's ``group`` column holds the family id, used to keep
   every family inside one split.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse.csgraph import connected_components

#: Shingle length in notes (tokens).
SHINGLE_NOTES = 6
#: A shingle in more tunes than this is too common to propose a candidate pair.
RARE_SHINGLE_MAX_TUNES = 40
#: Jaccard similarity of shingle sets above which two tunes are near duplicates.
NEAR_DUPLICATE_JACCARD = 0.5
#: Tunes with fewer tokens than this are too short to match reliably.
MIN_TOKENS = 8


def melody_tokens(pitch: np.ndarray, onset: np.ndarray) -> np.ndarray:
    """Transposition- and tempo-invariant tokens of one monophonic melody.

    Parameters
    ----------
    pitch : MIDI note numbers, in onset order.
    onset : note onsets in quarter notes (any unit: only ratios are used).

    Returns
    -------
    int64 array with one token per note after the second: ``interval * 64 +
    ratio_code`` where ``interval`` is the pitch step in semitones (clipped to
    +-24) and ``ratio_code`` the inter-onset-interval ratio to the previous
    note in quarter octaves (clipped to +-12), both offset to be non-negative.
    """
    pitch = np.asarray(pitch, dtype=np.int64)
    onset = np.asarray(onset, dtype=np.float64)
    if len(pitch) < 3:
        return np.empty(0, dtype=np.int64)
    intervals = np.clip(np.diff(pitch), -24, 24)
    ioi = np.diff(onset)
    # The last note has no following onset; a zero IOI (chord residue) is
    # given the previous IOI so its ratio is 1.
    ioi = np.where(ioi > 0, ioi, np.nan)
    ioi = pd.Series(ioi).ffill().bfill().to_numpy()
    if np.isnan(ioi).all():
        return np.empty(0, dtype=np.int64)
    ratio = np.clip(np.round(4 * np.log2(ioi[1:] / ioi[:-1])), -12, 12).astype(np.int64)
    return (intervals[1:] + 24) * 64 + (ratio + 12)


def melody_hash(tokens: np.ndarray) -> str:
    """SHA-1 (hex) of a token stream from :func:`melody_tokens`; '' if too short."""
    if len(tokens) < MIN_TOKENS:
        return ""
    return hashlib.sha1(np.ascontiguousarray(tokens, dtype=np.int64).tobytes()).hexdigest()


def shingles(tokens: np.ndarray, k: int = SHINGLE_NOTES) -> np.ndarray:
    """Distinct ``k``-gram ids of a token stream (stable int64 hashes)."""
    if len(tokens) < k:
        return np.empty(0, dtype=np.int64)
    windows = np.lib.stride_tricks.sliding_window_view(tokens.astype(np.uint64), k)
    # Polynomial rolling hash in uint64 arithmetic (wraps, stable everywhere).
    weights = np.uint64(1_000_003) ** np.arange(k, dtype=np.uint64)
    return np.unique((windows * weights).sum(axis=1).astype(np.int64))


@dataclass
class MatchResult:
    """Outcome of :func:`match_tunes`.

    ``tunes`` has one row per tune: ``tune_id``, ``melody_hash``, ``n_tokens``,
    ``group`` (tune-family id: the smallest tune id in the family) and
    ``family_size``. ``pairs`` has one row per matched pair: ``tune_a``,
    ``tune_b``, ``jaccard``, ``match`` ('exact' or 'near') and ``scope``
    ('same file', 'same collection' or 'cross collection').
    """

    tunes: pd.DataFrame
    pairs: pd.DataFrame

    def summary(self) -> pd.DataFrame:
        """Counts of matched pairs by match type and scope, and of families."""
        counts = self.pairs.groupby(["match", "scope"]).size().rename("pairs").reset_index()
        multi = self.tunes.drop_duplicates("group").query("family_size > 1")
        extra = pd.DataFrame(
            [
                {"match": "families (2+ tunes)", "scope": "all", "pairs": len(multi)},
                {"match": "tunes in a family", "scope": "all", "pairs": int(multi.family_size.sum())},
            ]
        )
        return pd.concat([counts, extra], ignore_index=True)


def tune_tokens(notes: pd.DataFrame) -> dict[str, np.ndarray]:
    """Token stream of every tune in a notes table (tune_id, pitch, onset)."""
    return {
        tune_id: melody_tokens(group["pitch"].to_numpy(), group["onset"].to_numpy())
        for tune_id, group in notes.groupby("tune_id", sort=True)
    }


def _shingle_matrix(token_lists: list[np.ndarray]) -> sparse.csr_matrix:
    """Binary tunes x shingles matrix (column ids are re-indexed shingle hashes)."""
    per_tune = [shingles(t) for t in token_lists]
    rows = np.repeat(np.arange(len(per_tune)), [len(s) for s in per_tune])
    flat = np.concatenate(per_tune) if per_tune else np.empty(0, dtype=np.int64)
    _, cols = np.unique(flat, return_inverse=True)
    data = np.ones(len(rows), dtype=np.float32)
    return sparse.csr_matrix((data, (rows, cols)), shape=(len(per_tune), cols.max(initial=-1) + 1))


def near_duplicate_pairs(
    token_lists: list[np.ndarray], threshold: float = NEAR_DUPLICATE_JACCARD
) -> pd.DataFrame:
    """Pairs ``(i, j)``, ``i < j``, whose shingle sets have Jaccard >= ``threshold``.

    Candidates share at least one shingle that occurs in at most
    :data:`RARE_SHINGLE_MAX_TUNES` tunes; the Jaccard index is then computed
    on the full shingle sets.
    """
    matrix = _shingle_matrix(token_lists)
    sizes = np.asarray(matrix.sum(axis=1)).ravel()
    doc_freq = np.asarray(matrix.sum(axis=0)).ravel()
    rare = matrix[:, np.flatnonzero(doc_freq <= RARE_SHINGLE_MAX_TUNES)]
    candidates = sparse.triu(rare @ rare.T, k=1).tocoo()
    i, j = candidates.row, candidates.col
    if len(i) == 0:
        return pd.DataFrame({"i": [], "j": [], "jaccard": []})
    # Intersection sizes of the full sets, for candidate pairs only.
    inter = np.asarray(matrix[i].multiply(matrix[j]).sum(axis=1)).ravel()
    jaccard = inter / np.maximum(sizes[i] + sizes[j] - inter, 1)
    keep = jaccard >= threshold
    return pd.DataFrame({"i": i[keep], "j": j[keep], "jaccard": jaccard[keep]})


def _scope(tunes: pd.DataFrame, a: pd.Series, b: pd.Series) -> np.ndarray:
    files = tunes.set_index("tune_id")["file"]
    collections = tunes.set_index("tune_id")["collection"]
    same_file = files.loc[a].to_numpy() == files.loc[b].to_numpy()
    same_collection = collections.loc[a].to_numpy() == collections.loc[b].to_numpy()
    return np.select([same_file, same_collection], ["same file", "same collection"], "cross collection")


def match_tunes(
    tunes: pd.DataFrame, notes: pd.DataFrame, threshold: float = NEAR_DUPLICATE_JACCARD
) -> MatchResult:
    """Find exact and near-duplicate melodies and group them into tune families.

    Parameters
    ----------
    tunes : manifest with ``tune_id``, ``file`` and ``collection``.
    notes : notes table with ``tune_id``, ``pitch``, ``onset`` (quarter notes).
    threshold : Jaccard similarity for a near duplicate.
    """
    ids = tunes["tune_id"].sort_values().to_numpy()
    tokens_by_id = tune_tokens(notes[notes["tune_id"].isin(ids)])
    token_lists = [tokens_by_id.get(t, np.empty(0, dtype=np.int64)) for t in ids]
    hashes = np.array([melody_hash(t) for t in token_lists])

    exact = pd.DataFrame({"i": np.arange(len(ids)), "hash": hashes}).query("hash != ''")
    first = exact.groupby("hash")["i"].transform("min")
    exact_pairs = pd.DataFrame({"i": first, "j": exact["i"], "jaccard": 1.0}).query("i != j")
    near = near_duplicate_pairs(token_lists, threshold)
    near = near[hashes[near["i"]] != hashes[near["j"]]]  # exact copies counted once

    pairs = pd.concat(
        [exact_pairs.assign(match="exact"), near.assign(match="near")], ignore_index=True
    )
    graph = sparse.coo_matrix(
        (np.ones(len(pairs)), (pairs["i"].astype(int), pairs["j"].astype(int))),
        shape=(len(ids), len(ids)),
    )
    _, component = connected_components(graph, directed=False)
    family = pd.Series(ids).groupby(component).transform("min").to_numpy()

    result_tunes = pd.DataFrame(
        {
            "tune_id": ids,
            "melody_hash": hashes,
            "n_tokens": [len(t) for t in token_lists],
            "group": family,
        }
    )
    result_tunes["family_size"] = result_tunes.groupby("group")["tune_id"].transform("size")
    a = pd.Series(ids[pairs["i"].astype(int)])
    b = pd.Series(ids[pairs["j"].astype(int)])
    result_pairs = pd.DataFrame(
        {
            "tune_a": a,
            "tune_b": b,
            "jaccard": pairs["jaccard"].round(3).to_numpy(),
            "match": pairs["match"].to_numpy(),
            "scope": _scope(tunes, a, b) if len(pairs) else [],
        }
    )
    return MatchResult(result_tunes, result_pairs.sort_values(["tune_a", "tune_b"], ignore_index=True))
