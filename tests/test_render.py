"""Rendering notes to audio through the real soundfont (tinysoundfont, TimGM6mb.sf2)."""
from __future__ import annotations

import base64
import io
import os

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from musicgeo_utils import config, render
from musicgeo_utils.render import RenderError, RenderParams

SR = 12000
OCARINA, RECORDER = 79, 74  # sustained, nearly sinusoidal General MIDI programs


def tune(tune_id: str, pitches, onsets, durations) -> pd.DataFrame:
    """A notes table in the corpus format (onset and duration in quarter notes)."""
    return pd.DataFrame({"tune_id": tune_id, "pitch": pitches,
                         "onset": np.asarray(onsets, float),
                         "duration": np.asarray(durations, float)})


def peak_hz(audio: np.ndarray, sample_rate: int = SR) -> float:
    """Spectral peak in Hz, refined by parabolic interpolation of the log magnitude."""
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(len(audio))))
    k = int(np.argmax(spectrum[1:-1])) + 1
    left, mid, right = np.log(spectrum[k - 1:k + 2])
    offset = 0.5 * (left - right) / (left - 2 * mid + right)
    return (k + offset) * sample_rate / len(audio)


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    """A fresh cache directory per test (render_many computes paths in this process)."""
    monkeypatch.setattr(config, "DATA_DIR", tmp_path)
    return tmp_path


@pytest.fixture
def params():
    return RenderParams(sample_rate=SR, clip_seconds=2.0)


def cache_files(data_dir) -> list[str]:
    audio = data_dir / "audio"
    return sorted(os.listdir(audio)) if audio.exists() else []


def test_default_soundfont_is_pretty_midis(monkeypatch):
    monkeypatch.delenv("MUSICGEO_SOUNDFONT", raising=False)
    path = render.soundfont_path()
    assert path.name == "TimGM6mb.sf2" and path.stat().st_size > 5_000_000


def test_missing_soundfont_is_a_clear_error(tmp_path, monkeypatch, data_dir):
    missing = tmp_path / "no-such-font.sf2"
    monkeypatch.setenv("MUSICGEO_SOUNDFONT", str(missing))
    with pytest.raises(FileNotFoundError, match="no-such-font.sf2.*MUSICGEO_SOUNDFONT"):
        render.soundfont_path()
    notes = tune("t", [69], [0], [1])
    with pytest.raises(FileNotFoundError, match="no-such-font.sf2"):
        render.render_many(pd.DataFrame({"tune_id": ["t"]}), notes, RenderParams(), seed=0,
                           n_jobs=1)


@pytest.mark.parametrize("program", [OCARINA, RECORDER])
@pytest.mark.parametrize("transpose, expected_hz", [(0, 440.0), (12, 880.0), (-12, 220.0)])
def test_a4_renders_at_440_hz(program, transpose, expected_hz):
    params = RenderParams(sample_rate=SR, clip_seconds=3.0)
    audio = render.render_tune(tune("a4", [69], [0], [8]), program, qpm=120, transpose=transpose,
                               params=params)
    assert peak_hz(audio) == pytest.approx(expected_hz, abs=3.0)


def test_clip_has_exact_length_and_peak_level(params):
    audio = render.render_tune(tune("t", [60, 64, 67], [0, 1, 2], [1, 1, 1]), 0, 120, 0, params)
    assert audio.dtype == np.float32 and audio.shape == (params.n_samples,)
    assert np.abs(audio).max() == pytest.approx(render.PEAK_LEVEL, rel=1e-5)


def test_short_tune_repeats_to_fill_the_clip():
    """A4 then C5, half a second each at 120 qpm: the pattern recurs every second."""
    params = RenderParams(sample_rate=SR, clip_seconds=4.0)
    audio = render.render_tune(tune("loop", [69, 72], [0, 1], [1, 1]), OCARINA, 120, 0, params)
    window = SR // 4
    for start_s, expected_hz in [(3.125, 440.0), (3.625, 523.25)]:
        start = int(start_s * SR)
        assert peak_hz(audio[start:start + window]) == pytest.approx(expected_hz, abs=8.0)


def test_a_blip_is_not_looped_into_millions_of_notes(params):
    with pytest.raises(RenderError, match="blip.*shorter than"):
        render.render_tune(tune("blip", [69], [0], [0.01]), 0, 120, 0, params)


def test_long_tune_is_cut(params):
    many = np.arange(200)
    audio = render.render_tune(tune("long", 60 + many % 12, many, np.ones(200)), 0, 120, 0, params)
    assert audio.shape == (params.n_samples,)


def test_notes_to_midi_converts_quarters_to_seconds():
    notes = tune("t", [60, 62, 64], [0, 1, 1.5], [1, 0.5, 0])  # the last is a grace note
    midi = render.notes_to_midi(notes, program=40, qpm=120, transpose=-2)
    (instrument,) = midi.instruments
    assert instrument.program == 40
    got = [(n.pitch, n.start, n.end) for n in instrument.notes]
    assert got == [(58, 0.0, 0.5), (60, 0.5, 0.75)]


def test_pitch_out_of_midi_range_names_the_tune():
    with pytest.raises(RenderError, match="high-tune.*0-127"):
        render.notes_to_midi(tune("high-tune", [125], [0], [1]), 0, 120, transpose=6)


def test_draw_augmentation_is_deterministic_and_per_tune():
    def draw(ids, seed):
        return render.draw_augmentation(ids, seed=seed, params=RenderParams()).set_index("tune_id")

    first = draw(["a", "b", "c"], seed=7)
    more_tunes = draw(["x", "c", "b", "a", "y"], seed=7)
    pd.testing.assert_frame_equal(first, more_tunes.loc[["a", "b", "c"]])
    assert not first.equals(draw(["a", "b", "c"], seed=8))


def test_draw_augmentation_covers_the_ranges():
    params = RenderParams()
    draws = render.draw_augmentation([f"t{i}" for i in range(400)], seed=0, params=params)
    assert set(draws["program"]) == set(params.programs)
    assert set(draws["transpose"]) == set(range(-5, 7))
    assert draws["qpm"].between(*params.qpm_range).all() and draws["qpm"].nunique() > 300


def test_no_notes_raises_naming_the_tune(params):
    with pytest.raises(RenderError, match="empty-tune.*no notes"):
        render.render_tune(tune("empty-tune", [], [], []), 0, 120, 0, params, tune_id="empty-tune")


def test_is_silent():
    t = np.arange(SR) / SR
    assert render.is_silent(np.zeros(SR))
    assert render.is_silent(np.array([]))
    assert render.is_silent(1e-4 * np.sin(2 * np.pi * 440 * t))  # -83 dBFS
    assert not render.is_silent(0.1 * np.sin(2 * np.pi * 440 * t))  # -23 dBFS
    assert not render.is_silent(1e-4 * np.sin(2 * np.pi * 440 * t), threshold_db=-90)


def test_tune_starting_after_the_clip_is_silent(params):
    with pytest.raises(RenderError, match="late.*silent"):
        render.render_tune(tune("late", [69], [100], [1]), 0, 120, 0, params)


def corpus_fixture():
    """Two playable tunes, one with no notes, one that is silent within the clip."""
    notes = pd.concat([tune("reel", [62, 64, 66, 67, 69, 71], np.arange(6) * 0.5, [0.5] * 6),
                       tune("air", [67, 69, 71, 72], [0, 1, 2, 3], [1, 1, 1, 1]),
                       tune("late", [69], [100], [1])])
    manifest = pd.DataFrame({"tune_id": ["reel", "air", "no-notes", "late"]})
    return manifest, notes


def test_render_many_skips_counts_and_caches(data_dir, params):
    manifest, notes = corpus_fixture()
    first = render.render_many(manifest, notes, params, seed=1, n_jobs=1).set_index("tune_id")
    assert first["status"].to_dict() == {"reel": "rendered", "air": "rendered",
                                         "no-notes": "skipped", "late": "skipped"}
    assert "no notes" in first.loc["no-notes", "reason"]
    assert "silent" in first.loc["late", "reason"]
    audio, sample_rate = render.load_clip(first.loc["reel", "audio_path"])
    assert sample_rate == SR and audio.shape == (params.n_samples,)
    assert np.abs(audio).max() == pytest.approx(render.PEAK_LEVEL, abs=1e-3)

    files = cache_files(data_dir)
    mtimes = {f: os.stat(data_dir / "audio" / f).st_mtime_ns for f in files}
    second = render.render_many(manifest, notes, params, seed=1, n_jobs=1).set_index("tune_id")
    assert second["status"].value_counts().to_dict() == {"cached": 2, "skipped": 2}
    assert {f: os.stat(data_dir / "audio" / f).st_mtime_ns for f in cache_files(data_dir)} == mtimes
    pd.testing.assert_series_equal(first["audio_path"], second["audio_path"])


@pytest.mark.slow  # starting joblib's worker processes takes 2-5 s on two busy cores
def test_rendering_is_deterministic_across_processes(data_dir, params):
    manifest, notes = corpus_fixture()
    serial = render.render_many(manifest, notes, params, seed=2, n_jobs=1)
    clips = {p: render.load_clip(p)[0] for p in serial["audio_path"].dropna()}
    parallel = render.render_many(manifest, notes, params, seed=2, n_jobs=2, use_cache=False)
    assert (parallel["status"] == serial["status"]).all()
    assert list(parallel["audio_path"].dropna()) == list(clips)
    for path, audio in clips.items():
        np.testing.assert_array_equal(render.load_clip(path)[0], audio)


def test_interrupted_write_leaves_no_partial_file(data_dir, params, monkeypatch):
    manifest, notes = corpus_fixture()
    real_write = sf.write

    def write_then_interrupt(*args, **kwargs):
        real_write(*args, **kwargs)  # the temporary file is complete on disk...
        raise KeyboardInterrupt  # ...when the run is stopped

    monkeypatch.setattr(render.sf, "write", write_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        render.render_many(manifest, notes, params, seed=3, n_jobs=1)
    assert cache_files(data_dir) == []
    monkeypatch.setattr(render.sf, "write", real_write)
    resumed = render.render_many(manifest, notes, params, seed=3, n_jobs=1)
    assert resumed["status"].value_counts().to_dict() == {"rendered": 2, "skipped": 2}
    assert len(cache_files(data_dir)) == 2


def test_duplicate_manifest_ids_are_refused(data_dir, params):
    manifest = pd.DataFrame({"tune_id": ["a", "b", "a"]})
    with pytest.raises(ValueError, match="duplicate tune ids.*'a'"):
        render.render_many(manifest, tune("a", [60], [0], [1]), params, seed=0, n_jobs=1)


def test_preview_bytes_decode_to_the_same_clip():
    params = RenderParams(sample_rate=SR, clip_seconds=4.0)
    audio = render.render_tune(tune("a4", [69], [0], [8]), OCARINA, 120, 0, params)
    data = render.clip_to_mp3_bytes(audio, SR)
    assert len(data) < 30_000  # about 32 kbit/s
    decoded, sample_rate = sf.read(io.BytesIO(data), dtype="float32")
    assert sample_rate == SR
    # encoder delay and padding: at most one MP3 frame (1152 samples) each
    assert abs(len(decoded) - len(audio)) <= 2 * 1152
    assert peak_hz(decoded) == pytest.approx(440.0, abs=3.0)


def test_audio_html_escapes_the_title():
    audio = 0.5 * np.sin(2 * np.pi * 440 * np.arange(SR) / SR).astype(np.float32)
    snippet = render.audio_html(audio, SR, title='<script>alert("x")</script> & reel')
    assert "<script>" not in snippet and "&lt;script&gt;" in snippet and "&amp; reel" in snippet
    _, mime = render.preview_format()
    payload = snippet.split(f"data:{mime};base64,")[1].split('"')[0]
    decoded, sample_rate = sf.read(io.BytesIO(base64.b64decode(payload)))
    assert sample_rate == SR and abs(len(decoded) - SR) <= 2 * 1152


def test_held_out_timbre_keeps_tempo_and_key_and_draws_a_family_never_trained_on():
    import pretty_midi

    draws = render.draw_augmentation([f"t{i}" for i in range(40)], 0, render.RenderParams())
    held = render.held_out_timbre_draws(draws, seed=0)
    assert held[["tune_id", "qpm", "transpose"]].equals(draws[["tune_id", "qpm", "transpose"]])
    families = {pretty_midi.program_to_instrument_class(p) for p in held["program"]}
    assert families <= set(render.HELD_OUT_FAMILIES) and len(families) == 2
    trained = {pretty_midi.program_to_instrument_class(p) for p in render.FOLK_PROGRAMS}
    assert not trained & set(render.HELD_OUT_FAMILIES)
    assert held.equals(render.held_out_timbre_draws(draws, seed=0))  # seeded
    assert not held["program"].equals(render.held_out_timbre_draws(draws, seed=1)["program"])
    with pytest.raises(ValueError, match="training instruments"):
        render.held_out_timbre_draws(draws, 0, programs=(40, 56))



def test_extra_renders_keep_tempo_and_key_and_play_other_training_instruments():
    draws = render.draw_augmentation([f"t{i}" for i in range(40)], 0, render.RenderParams())
    renders = [render.extra_timbre_draws(draws, seed=0, k=k) for k in range(3)]
    for extra in renders:
        assert extra[["tune_id", "qpm", "transpose"]].equals(draws[["tune_id", "qpm", "transpose"]])
        assert set(extra["program"]) <= set(render.FOLK_PROGRAMS)  # never a held-out family
    programs = np.column_stack([draws["program"]] + [extra["program"] for extra in renders])
    assert all(len(set(row)) == 4 for row in programs)  # the tune's own and three others, all different
    assert renders[1].equals(render.extra_timbre_draws(draws, seed=0, k=1))  # seeded
    assert not renders[0]["program"].equals(render.extra_timbre_draws(draws, seed=1, k=0)["program"])
    for k in (-1, len(render.FOLK_PROGRAMS) - 1):
        with pytest.raises(ValueError, match=f"render k={k}"):
            render.extra_timbre_draws(draws, 0, k=k)

# --------------------------------------------------------------------------- whole MIDI files (Lakh MIDI)


def _song(path, seconds=40.0, drums=True):
    """A 40 s song: a piano melody, a bass line and (optionally) drums, written to ``path``."""
    import pretty_midi

    midi = pretty_midi.PrettyMIDI(initial_tempo=120)
    parts = [(0, False, 72), (33, False, 40)] + ([(0, True, 36)] if drums else [])
    for program, is_drum, pitch in parts:
        inst = pretty_midi.Instrument(program=program, is_drum=is_drum)
        inst.notes = [pretty_midi.Note(100, pitch + (i % 5 if not is_drum else 0), t, t + 0.4)
                      for i, t in enumerate(np.arange(0.0, seconds, 0.5))]
        midi.instruments.append(inst)
    midi.write(str(path))
    return path


def test_a_midi_file_renders_every_instrument_from_the_middle_of_the_song(tmp_path):
    import pretty_midi

    params = RenderParams(clip_seconds=4.0)
    song = _song(tmp_path / "song.mid")
    assert render.midi_clip_start(pretty_midi.PrettyMIDI(str(song)), 4.0) == pytest.approx((39.9 - 4.0) / 2)  # notes span 0-39.9 s
    audio = render.render_midi(song, params)
    assert audio.shape == (params.n_samples,) and audio.dtype == np.float32
    assert np.abs(audio).max() == pytest.approx(render.PEAK_LEVEL, rel=1e-6)
    np.testing.assert_array_equal(audio, render.render_midi(song, params))  # deterministic
    without_drums = render.render_midi(_song(tmp_path / "quiet.mid", drums=False), params)
    assert not np.allclose(audio, without_drums, atol=1e-3)  # the drum channel sounds
    short = render.midi_clip_start(pretty_midi.PrettyMIDI(str(song)), 60.0)
    assert short == 0.0  # a song shorter than the clip starts at its first note


def test_midi_files_are_cached_and_a_bad_file_is_a_counted_skip(data_dir, tmp_path):
    params = RenderParams(clip_seconds=2.0)
    (tmp_path / "bad.mid").write_bytes(b"MThd not really")
    items = pd.DataFrame({"tune_id": ["good", "bad", "gone"],
                          "midi_path": [_song(tmp_path / "good.mid", 10.0), tmp_path / "bad.mid", tmp_path / "no.mid"]})
    first = render.render_midi_files(items, params, n_jobs=1)
    assert first["status"].tolist() == ["rendered", "skipped", "skipped"]
    assert "bad.mid: not a readable MIDI file" in first.at[1, "reason"] and "no.mid" in first.at[2, "reason"]
    assert first["audio_path"].iloc[1:].isna().all()
    assert sf.info(first.at[0, "audio_path"]).samplerate == params.sample_rate
    again = render.render_midi_files(items, params, n_jobs=1)
    assert again["status"].tolist() == ["cached", "skipped", "skipped"]
    with pytest.raises(RenderError, match="no.mid"):
        render.render_midi(tmp_path / "no.mid", params)
