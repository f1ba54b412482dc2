"""Melody hashing, near duplicates and tune families."""
import numpy as np
import pandas as pd

from musicgeo_utils import matching


def _melody(rng, n=40):
    return rng.integers(60, 80, n)


def _frame(melodies):
    """notes + tunes tables from {tune_id: (pitches, onsets)}."""
    notes = pd.concat(
        [pd.DataFrame({"tune_id": tid, "pitch": p, "onset": o}) for tid, (p, o) in melodies.items()],
        ignore_index=True,
    )
    tunes = pd.DataFrame({"tune_id": sorted(melodies)})
    tunes["file"] = tunes.tune_id.str.rsplit("/", n=1).str[0]
    tunes["collection"] = tunes.tune_id.str.split("/").str[0]
    return tunes, notes


def test_transposed_and_rescaled_tune_has_same_hash():
    rng = np.random.default_rng(1)
    pitch = _melody(rng)
    onset = np.cumsum(rng.choice([0.5, 1.0, 1.5], len(pitch)))
    a = matching.melody_tokens(pitch, onset)
    b = matching.melody_tokens(pitch + 7, onset * 0.5)  # up a fifth, L:1/16 instead of 1/8
    assert matching.melody_hash(a) == matching.melody_hash(b) != ""


def test_different_tunes_do_not_match():
    rng = np.random.default_rng(2)
    hashes = set()
    for _ in range(200):
        pitch = _melody(rng)
        hashes.add(matching.melody_hash(matching.melody_tokens(pitch, np.arange(len(pitch)))))
    assert len(hashes) == 200


def test_rhythm_changes_the_hash():
    pitch = np.array([60, 62, 64, 65, 67, 69, 71, 72, 74, 76, 77])
    straight = matching.melody_tokens(pitch, np.arange(len(pitch)) * 1.0)
    dotted = matching.melody_tokens(pitch, np.cumsum([0] + [1.5, 0.5] * 5))
    assert matching.melody_hash(straight) != matching.melody_hash(dotted)


def test_short_tune_has_no_hash():
    assert matching.melody_hash(matching.melody_tokens([60, 62, 64], [0, 1, 2])) == ""


def test_families_group_exact_and_near_copies_and_leave_others_alone():
    rng = np.random.default_rng(3)
    melodies = {f"c/f/{i:03d}": (_melody(rng, 60), np.arange(60) * 0.5) for i in range(50)}
    p0, o0 = melodies["c/f/000"]
    melodies["c/g/900"] = (p0 + 5, o0 * 2)  # exact: transposed, doubled note values
    p1, o1 = melodies["c/f/001"]
    variant = p1.copy()
    variant[40] += 2  # one changed note near the end: a near duplicate
    melodies["d/h/901"] = (variant, o1)
    tunes, notes = _frame(melodies)
    result = matching.match_tunes(tunes, notes)
    group = result.tunes.set_index("tune_id")["group"]
    assert group["c/g/900"] == group["c/f/000"] == "c/f/000"
    assert group["d/h/901"] == group["c/f/001"]
    assert result.tunes.family_size.max() == 2
    kinds = set(zip(result.pairs.match, result.pairs.scope))
    assert kinds == {("exact", "same collection"), ("near", "cross collection")}
    singles = result.tunes[~result.tunes.tune_id.isin(["c/f/000", "c/g/900", "c/f/001", "d/h/901"])]
    assert (singles.family_size == 1).all()


def test_near_duplicate_threshold_is_respected():
    rng = np.random.default_rng(4)
    base = _melody(rng, 60)
    tokens = [matching.melody_tokens(base, np.arange(60)),
              matching.melody_tokens(np.r_[base[:30], _melody(rng, 30)], np.arange(60))]
    pairs = matching.near_duplicate_pairs(tokens, threshold=0.99)
    assert pairs.empty
    loose = matching.near_duplicate_pairs(tokens, threshold=0.1)
    assert len(loose) == 1 and 0.1 <= loose.jaccard.iloc[0] < 0.99
