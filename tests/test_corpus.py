"""Corpus loading on real tunes from music21's wheel."""
import os

import pandas as pd
import pytest

from musicgeo_utils import config, corpus

ESSEN_SMALL = "essenFolksong/teste.abc"  # 8 real Essen tunes, 2 kB


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    """Caches go to a fresh folder, never to the repository's data/."""
    monkeypatch.setattr(config, "DATA_DIR", tmp_path)
    return tmp_path


def _real_tunes(file: str) -> list[tuple[int, str]]:
    return corpus.split_tunes(corpus.decode_abc((corpus.corpus_root() / file).read_bytes()))


def test_split_and_header_of_a_real_file():
    tunes = _real_tunes(ESSEN_SMALL)
    assert [x for x, _ in tunes] == list(range(1, 9))
    header = corpus.read_header(tunes[0][1])
    assert header["origin_raw"] == "Osteuropa, Ungarn"
    assert (header["meter"], header["key"], header["unit"], header["rhythm_raw"]) == ("6/8", "E", "1/16", "Barbara")
    assert header["title"] == "Ich hab die Nacht geträumet"  # DOS code page 437 'ä' decoded


def test_parse_tune_gives_midi_pitches_in_quarter_notes():
    x, text = _real_tunes(ESSEN_SMALL)[0]
    header, notes = corpus.parse_tune(text, collection="essenFolksong", file=ESSEN_SMALL, x=x)
    assert header["x"] == 1 and header["collection"] == "essenFolksong"
    # 'B,2 | E4F2=G3FE2' with L:1/16, key E major: B3 eighth, E4 quarter, F#4 eighth, G natural ...
    assert notes.pitch.tolist()[:4] == [59, 64, 66, 67]
    assert notes.onset.tolist()[:4] == [0.0, 0.5, 1.5, 2.0]
    assert notes.duration.tolist()[:3] == [0.5, 1.0, 0.5]
    assert notes.pitch.dtype == "int16" and notes.onset.dtype == "float32"


def test_ties_merge_and_chords_give_top_note():
    text = "X:1\nT:tie and chord\nM:4/4\nL:1/4\nK:C\nc2- c2 | [CEG]4 |]\n"
    _, notes = corpus.parse_tune(text, collection="miscFolk", file="inline.abc", x=1)
    assert notes.pitch.tolist() == [72, 67]
    assert notes.duration.tolist() == [4.0, 4.0]


def test_malformed_and_empty_tunes_raise_named_errors():
    real = _real_tunes(ESSEN_SMALL)[1][1]
    header_only = real.split("K: F")[0] + "K: F\n"
    with pytest.raises(corpus.TuneParseError, match=r"teste.abc X:2 \(Et wassen .*\): no notes"):
        corpus.parse_tune(header_only, collection="essenFolksong", file=ESSEN_SMALL, x=2)
    broken = real.replace("K: F", "K: F\n[V:1 |:: (((")
    with pytest.raises(corpus.TuneParseError) as info:
        corpus.parse_tune(broken + "abc|]]]::[[[ )))))", collection="essenFolksong", file=ESSEN_SMALL, x=2)
    assert info.value.reason != "no notes" and "teste.abc X:2" in str(info.value)


def test_file_with_bad_tunes_counts_skips(tmp_path):
    tunes = _real_tunes(ESSEN_SMALL)
    empty = tunes[1][1].split("K: F")[0] + "K: F\n"
    path = tmp_path / "mixed.abc"
    path.write_text(tunes[0][1] + "\n" + empty.replace("X:2", "X:5") + "\n" + tunes[2][1])
    parsed = corpus.parse_abc_file(path, "essenFolksong")
    assert len(parsed.tunes) == 2 and parsed.skips.reason.tolist() == ["no notes"]
    assert parsed.skips.x.tolist() == [5]


def test_repeated_x_numbers_get_distinct_ids():
    assert corpus._tune_ids("c", "f", [1, 2, 1, 1]) == ["c/f/1", "c/f/2", "c/f/1-2", "c/f/1-3"]


def test_labels_normalise_spelling_variants():
    assert corpus.normalize_label("REEL") == corpus.normalize_label("Reel") == "reel"
    assert corpus.normalize_label("slipjig") == corpus.normalize_label("slip jig") == "slip jig"
    assert corpus.normalize_label("double jig") == "double jig"
    assert corpus.normalize_label("Xiaodiao, Da ningxia diao. Geming]") == "xiaodiao"
    assert corpus.normalize_label("Kinder -, Wiegen - Lied") == "kinder-lied"
    assert corpus.normalize_label("???]") == ""


def test_styles_follow_the_documented_rule():
    assert corpus.tune_style("essenFolksong", "China, Shaanxi, Zizhou") == "Chinese folk"
    assert corpus.tune_style("essenFolksong", "Europa, Mitteleuropa, Deutschland, Westfalen") == "German folk"
    assert corpus.tune_style("essenFolksong", "Lothringen") == "German folk"
    assert corpus.tune_style("essenFolksong", "Osteuropa, Ungarn") == "European folk"
    assert corpus.tune_style("oneills1850", "") == "Irish dance"


def test_load_corpus_on_one_small_real_file_and_cache_round_trip(data_dir, monkeypatch):
    small = corpus.corpus_root() / ESSEN_SMALL
    monkeypatch.setattr(corpus, "collection_files", lambda collection: [small])
    first = corpus.load_corpus(["essenFolksong"], n_jobs=1)
    assert len(first.tunes) == 8 and first.skips.empty
    assert first.tunes.tune_id.tolist() == sorted(f"essenFolksong/teste/{x}" for x in range(1, 9))
    assert (first.tunes.n_notes > 0).all() and first.tunes.geocode_level.notna().all()
    notes = first.notes
    assert set(notes.tune_id) == set(first.tunes.tune_id)
    assert notes.equals(notes.sort_values(["tune_id", "onset"], kind="stable").reset_index(drop=True))

    cached = sorted(data_dir.rglob("*.parquet"))
    assert len(cached) == 6  # per-file tunes/notes/skips + combined tunes/notes/skips
    monkeypatch.setattr(corpus, "parse_abc_file", lambda *a: pytest.fail("cache not used"))
    second = corpus.load_corpus(["essenFolksong"], n_jobs=1)
    pd.testing.assert_frame_equal(first.tunes, second.tunes)
    pd.testing.assert_frame_equal(first.notes, second.notes)


def test_interrupted_cache_write_leaves_no_file(data_dir, monkeypatch):
    small = corpus.corpus_root() / ESSEN_SMALL

    def crash(self, path, *args, **kwargs):
        with open(path, "wb") as handle:
            handle.write(b"PAR1 half a file")
        raise KeyboardInterrupt

    monkeypatch.setattr(pd.DataFrame, "to_parquet", crash)
    with pytest.raises(KeyboardInterrupt):
        corpus.load_abc_file(small, "essenFolksong")
    assert not [p for p in data_dir.rglob("*") if p.is_file()]
    monkeypatch.undo()
    monkeypatch.setattr(config, "DATA_DIR", data_dir)
    assert len(corpus.load_abc_file(small, "essenFolksong").tunes) == 8
    assert all(os.path.getsize(p) > 100 for p in data_dir.rglob("*.parquet"))


def test_collections_hold_the_measured_tune_counts():
    counts = {c: sum(len(_real_tunes(f"{c}/{p.name}")) for p in corpus.collection_files(c))
              for c in corpus.COLLECTIONS}
    assert counts == {"essenFolksong": 8514, "oneills1850": 2009, "ryansMammoth": 1059,
                      "airdsAirs": 1180, "miscFolk": 185}


def test_genre_labels_fold_spelling_variants_under_the_most_frequent():
    from musicgeo_utils.corpus import fold_genre_labels, genre_key

    labels = pd.Series(["liebes-lied", "liebeslieder", "liebes-lied", "liebeslied", "geistliches",
                        "geistlich", None, "reel", "kinder-lied"], index=list("abcdefghi"), name="label")
    folded = fold_genre_labels(labels)
    assert folded[["a", "b", "c", "d"]].tolist() == ["liebes-lied"] * 4
    assert folded[["e", "f"]].tolist() == ["geistlich"] * 2  # a tie: the alphabetically first spelling
    assert pd.isna(folded["g"]) and folded["h"] == "reel" and folded["i"] == "kinder-lied"
    assert list(folded.index) == list(labels.index)
    assert genre_key("Kinder - Lieder") == "kinderlied" and genre_key("jig") == "jig"


def test_parsing_without_notation_gives_the_same_notes_and_restores_music21(monkeypatch):
    from music21 import stream
    from music21.abcFormat import translate

    beams, rebar = stream.Stream.__dict__["makeBeams"], translate.reBar
    rebarred = []  # measures the translator's own reBar added, per tune: the sample must hold some

    def counting_rebar(part, *, inPlace=False):  # noqa: N803
        before = len(part.getElementsByClass(stream.Measure))
        result = rebar(part, inPlace=inPlace)
        rebarred.append(len(part.getElementsByClass(stream.Measure)) - before)
        return result

    monkeypatch.setattr(translate, "reBar", counting_rebar)
    for file in (ESSEN_SMALL, "oneills1850/0001-0050.abc", "airdsAirs/book1.abc"):
        path = corpus.corpus_root() / file
        for x, text in _real_tunes(file)[:6]:
            collection = path.parent.name
            with_notation = corpus.parse_tune(text, collection=collection, file=file, x=x)
            with corpus.without_notation():
                assert stream.Stream.makeBeams is not beams and translate.reBar is corpus._keep_bars
                plain = corpus.parse_tune(text, collection=collection, file=file, x=x)
            assert with_notation[0] == plain[0]
            pd.testing.assert_frame_equal(with_notation[1], plain[1])
    assert sum(n > 0 for n in rebarred) >= 5  # tunes whose measures were split at a barline
    assert stream.Stream.__dict__["makeBeams"] is beams and translate.reBar is counting_rebar


def test_parsing_without_rebar_leaves_out_the_spurious_note_rebar_adds_to_one_tune():
    file = "miscFolk/americanfifeopus.abc"
    text = dict(_real_tunes(file))[108]  # Duke of York's March: a chord split across a barline by reBar
    with_notation = corpus.parse_tune(text, collection="miscFolk", file=file, x=108)[1]
    with corpus.without_notation():
        plain = corpus.parse_tune(text, collection="miscFolk", file=file, x=108)[1]
    assert (len(with_notation), len(plain)) == (130, 129)
    assert with_notation.duplicated(["pitch", "onset"]).sum() == 1  # two A5s struck at once
    assert not plain.duplicated(["pitch", "onset"]).any()
    pd.testing.assert_frame_equal(with_notation.iloc[:40], plain.iloc[:40])  # the same up to the split


def _shipped() -> corpus.Corpus:
    key = corpus.corpus_key()
    shipped = corpus._read_tables(corpus.shipped_paths(key))
    assert shipped is not None, f"no shipped corpus of key {key}: run `python tools/ship_corpus.py` and commit it"
    return shipped


def test_the_shipped_corpus_matches_a_fresh_parse_of_the_smallest_file_of_each_collection():
    shipped = _shipped()
    assert len(shipped.tunes) == 12947 and shipped.tunes["tune_id"].is_unique
    for collection in corpus.COLLECTIONS:
        path = min(corpus.collection_files(collection), key=lambda p: (p.stat().st_size, p.name))
        fresh = corpus.parse_abc_file(path, collection)
        assert not fresh.tunes.empty, path
        rows = shipped.tunes.set_index("tune_id").loc[fresh.tunes["tune_id"]]
        for column in ("file", "x", "title", "n_notes", "duration_quarters"):
            assert rows[column].tolist() == fresh.tunes[column].tolist(), (path, column)
        ours = shipped.notes[shipped.notes["tune_id"].isin(fresh.tunes["tune_id"])].reset_index(drop=True)
        theirs = fresh.notes.sort_values(["tune_id", "onset"], kind="stable").reset_index(drop=True)
        pd.testing.assert_frame_equal(ours, theirs[ours.columns].astype(ours.dtypes.to_dict()))


def test_load_corpus_takes_the_shipped_tables_into_an_empty_data_folder(data_dir, monkeypatch):
    shipped = _shipped()
    monkeypatch.setattr(corpus, "parse_abc_file", lambda *a: pytest.fail("parsed although the package ships it"))
    loaded = corpus.load_corpus()
    pd.testing.assert_frame_equal(loaded.tunes, shipped.tunes)
    assert sorted(p.name for p in (data_dir / "corpus").glob("*.parquet")) == sorted(
        p.name for p in corpus.shipped_paths(corpus.corpus_key()).values())
    monkeypatch.setattr(corpus, "SHIPPED_DIR", data_dir / "nothing shipped")  # the data folder's copy now serves
    pd.testing.assert_frame_equal(corpus.load_corpus().notes, shipped.notes)
