"""The manifest's cache follows what the corpus holds, not only its tune ids."""
import numpy as np
import pandas as pd

from musicgeo_utils import config, corpus, manifest, matching


def _corpus(shift: int = 0) -> corpus.Corpus:
    rng = np.random.default_rng(0)
    ids = [f"miscFolk/f{i:02d}/1" for i in range(14)]
    notes = pd.concat([pd.DataFrame({"tune_id": tid, "pitch": rng.integers(60, 80, 40) + shift * (tid == ids[0]),
                                     "onset": np.arange(40.0), "duration": 1.0}) for tid in ids], ignore_index=True)
    tunes = pd.DataFrame({"tune_id": ids, "collection": "miscFolk", "file": [t.rsplit("/", 1)[0] for t in ids],
                          "country": ["Ireland", "Scotland"] * 7})
    return corpus.Corpus(tunes, notes, pd.DataFrame())


def test_manifest_is_read_from_cache_and_rebuilt_when_a_tune_changes(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "DATA_DIR", tmp_path)
    served = {"corpus": _corpus()}
    monkeypatch.setattr(corpus, "load_corpus", lambda **kwargs: served["corpus"])
    matched = []
    match = matching.match_tunes
    monkeypatch.setattr(matching, "match_tunes", lambda *args: matched.append(1) or match(*args))
    first = manifest.build_manifest(seed=0)
    again = manifest.build_manifest(seed=0)
    assert len(matched) == 1  # the second read the cache
    pd.testing.assert_frame_equal(again.tunes, first.tunes)  # dtypes too: a fresh build is read back
    pd.testing.assert_frame_equal(again.pairs, first.pairs)
    served["corpus"] = _corpus(shift=1)  # same tune ids, one tune's notes changed (e.g. a new parser version)
    changed = manifest.build_manifest(seed=0)
    assert len(matched) == 2
    hashes = changed.tunes.set_index("tune_id")["melody_hash"]
    assert hashes.drop(changed.tunes["tune_id"].iloc[0]).equals(first.tunes.set_index("tune_id")["melody_hash"].iloc[1:])
