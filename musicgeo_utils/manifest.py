"""The manifest: one row per tune, everything later stages need to know.

It joins the stages of notebook 01 (:mod:`corpus` parsed and geocoded tunes,
:mod:`matching` tune families, :mod:`splits` train/val/test) into one table
cached at ``data/processed/manifest-<key>.parquet``, where the key covers the
corpus content, the seed and the geocoder's tables and rules
(:func:`geocode.tables_key`). Later notebooks call :func:`load_profile`, which
returns the tunes a profile samples together with their notes.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import pandas as pd

from . import corpus, geocode, matching, splits
from .cache import content_key, write_parquet
from .config import data_path, get_profile

if TYPE_CHECKING:  # for annotations; the functions import render (pretty_midi, tinysoundfont) when they run
    from . import render

#: Bump when the manifest's columns or rules change (invalidates the cache).
MANIFEST_VERSION = 1


@dataclass
class Manifest:
    """The tunes table (with ``group`` and ``split``), notes, skips and matches."""

    tunes: pd.DataFrame
    notes: pd.DataFrame
    skips: pd.DataFrame
    pairs: pd.DataFrame


def build_manifest(seed: int = 0, use_cache: bool = True, collections=None) -> Manifest:
    """Parse, geocode, match and split the embedded folk corpus (cached).

    The split depends on ``seed``; everything else does not. ``collections``
    restricts the corpus (e.g. ``["miscFolk"]`` for a quick look); the default
    is every folk collection.
    """
    parsed = corpus.load_corpus(collections=collections, use_cache=use_cache)
    # what the corpus holds (a new parser version can change a tune's notes) and the geocoder's key:
    # the manifest copies the corpus's columns and matches tunes by their notes
    held = [pd.util.hash_pandas_object(table, index=False).to_numpy() for table in (parsed.tunes, parsed.notes)]
    key = content_key(MANIFEST_VERSION, seed, len(parsed.tunes), parsed.tunes["tune_id"].tolist(), *held,
                      matching.NEAR_DUPLICATE_JACCARD, matching.SHINGLE_NOTES, geocode.tables_key())
    tunes_path = data_path("processed", f"manifest-{key}.parquet")
    pairs_path = data_path("processed", f"matches-{key}.parquet")
    if use_cache and tunes_path.exists() and pairs_path.exists():
        return Manifest(pd.read_parquet(tunes_path), parsed.notes, parsed.skips,
                        pd.read_parquet(pairs_path))
    matches = matching.match_tunes(parsed.tunes, parsed.notes)
    tunes = parsed.tunes.merge(
        matches.tunes[["tune_id", "melody_hash", "group", "family_size"]], on="tune_id", how="left"
    )
    tunes["split"] = splits.assign_splits(tunes, seed=seed)
    write_parquet(pairs_path, matches.pairs)
    write_parquet(tunes_path, tunes)
    # read back, so a fresh build and a cached one hand out the same tables, dtypes included
    return Manifest(pd.read_parquet(tunes_path), parsed.notes, parsed.skips, pd.read_parquet(pairs_path))


def load_profile(profile: str = "small", seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(tunes, notes)`` of the tunes that ``profile`` samples, for a ``seed``."""
    manifest = build_manifest(seed=seed)
    tunes = splits.sample_profile(manifest.tunes, get_profile(profile), seed=seed)
    notes = manifest.notes[manifest.notes["tune_id"].isin(tunes["tune_id"])]
    return tunes, notes.reset_index(drop=True)


def render_params(profile: str = "small") -> render.RenderParams:
    """The rendering parameters of a profile (clip length from the profile)."""
    from . import render

    return render.RenderParams(clip_seconds=get_profile(profile).clip_seconds)


def profile_audio(profile: str = "small", seed: int = 0, n_jobs: int | None = None) -> pd.DataFrame:
    """The profile's tunes with their rendered clips (cached FLAC, resumable).

    Columns of the manifest plus ``program, qpm, transpose, audio_path,
    status, reason`` from :func:`musicgeo_utils.render.render_many`; skipped
    tunes stay in the table with their reason.
    """
    from . import render

    tunes, notes = load_profile(profile, seed)
    rendered = render.render_many(tunes, notes, render_params(profile), seed=seed, n_jobs=n_jobs)
    return tunes.merge(rendered, on="tune_id", how="left")


def profile_features(profile: str = "small", seed: int = 0, n_jobs: int | None = None, client=None):
    """``(tunes, extraction.FeatureSet)``: the profile's rendered tunes and their features.

    ``tunes`` holds only tunes with a rendered clip and features, in the order
    of ``FeatureSet.summary``'s rows; skips of both stages are in the
    ``FeatureSet.skips`` table (render skips with the prefix ``render:``).
    """
    return _features_of(profile_audio(profile, seed, n_jobs=n_jobs), n_jobs, client)


def _features_of(audio: pd.DataFrame, n_jobs: int | None, client=None):
    """``(tunes, FeatureSet)`` of rendered clips (``render.render_many`` rows joined to the manifest)."""
    from . import extraction, features

    ok = audio["status"] != "skipped"
    items = audio.loc[ok, ["tune_id", "audio_path"]].rename(columns={"tune_id": "clip_id"})
    result = extraction.extract_many(items, features.FeatureParams(), n_jobs=n_jobs, client=client)
    render_skips = audio.loc[~ok, ["tune_id", "reason"]].rename(columns={"tune_id": "clip_id"})
    render_skips["reason"] = "render: " + render_skips["reason"].astype(str)
    result.skips = pd.concat([render_skips, result.skips], ignore_index=True)
    tunes = audio.set_index("tune_id").loc[result.summary.index].reset_index()
    return tunes, result


def profile_score_features(profile: str = "small", seed: int = 0, n_jobs: int | None = None):
    """``(tunes, transcribed_score.ScoreFeatures)``: the profile's clips as transcribed, clip and whole scores.

    Transcribes every rendered clip (:func:`transcription.transcribe_many`,
    cached and resumable like the features) and describes it three ways
    (:func:`transcribed_score.score_features`). ``tunes`` as from
    :func:`profile_features`, whose row order the families follow.
    """
    tunes, _ = profile_features(profile, seed, n_jobs=n_jobs)
    return tunes, _score_features_of(tunes, profile, seed, n_jobs)


def _score_features_of(tunes: pd.DataFrame, profile: str, seed: int, n_jobs: int | None):
    from . import transcribed_score, transcription

    _, notes = load_profile(profile, seed)
    items = tunes[["tune_id", "audio_path"]].rename(columns={"tune_id": "clip_id"})
    heard = transcription.transcribe_many(items, n_jobs=n_jobs)
    return transcribed_score.score_features(tunes, notes, heard, render_params(profile))


def corpus_training_clips(profile: str = "small", seed: int = 0, per_group: int | None = None,
                          group_by: str = "style", values=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(tunes, true_notes)``: training-split tunes of the corpus that the profile leaves out, read as scores.

    The profile renders a balanced sample of the corpus; the other usable
    tunes of the *training* split (never validation or test: the split is per
    tune family) cost no audio to read as a score. Each is drawn an
    instrument, tempo and transposition exactly as a rendered clip would be
    (:func:`render.draw_augmentation` with ``seed``; the columns ``program,
    qpm, transpose`` of ``tunes``), and ``true_notes`` are the notes the
    renderer would play in the profile's clip (:func:`transcription_eval.reference_notes`,
    looping included; ``clip_id`` is the tune id, ``duration_s`` added). At
    most ``per_group`` tunes (a sample seeded by ``seed``; default: the
    profile's ``score_tunes_per_style``) per value of ``group_by`` (a manifest
    column, e.g. ``style`` or ``country``), only those in ``values`` when
    given. ``tunes`` has the manifest's columns, sorted by tune id; a tune the
    renderer refuses is left out.
    """
    from . import render, transcription_eval

    if per_group is None:
        per_group = get_profile(profile).score_tunes_per_style
    built = build_manifest(seed=seed)
    profiled, _ = load_profile(profile, seed)
    pool = built.tunes[splits.usable(built.tunes) & (built.tunes["split"] == "train")
                       & ~built.tunes["tune_id"].isin(profiled["tune_id"])]
    if values is not None:
        pool = pool[pool[group_by].isin(list(values))]
    rng = np.random.default_rng(seed)
    pool = (pool.assign(_key=rng.random(len(pool))).sort_values("_key").groupby(group_by, sort=True)
            .head(per_group).drop(columns="_key").sort_values("tune_id", ignore_index=True))
    params = render_params(profile)
    draws = render.draw_augmentation(pool["tune_id"], seed, params)
    true_notes = transcription_eval.reference_notes(draws, built.notes[built.notes["tune_id"].isin(pool["tune_id"])],
                                                    params)
    true_notes = true_notes.assign(duration_s=true_notes["offset_s"] - true_notes["onset_s"])
    pool = pool.merge(draws, on="tune_id", how="left")
    return pool[pool["tune_id"].isin(true_notes["clip_id"])].reset_index(drop=True), true_notes


def corpus_transcribed_scores(profile: str = "small", seed: int = 0, per_group: int | None = None,
                              group_by: str = "style", values=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(tunes, descriptors)``: :func:`corpus_training_clips`'s tunes described as transcribed scores.

    More training rows for the classifiers of the transcribed score, which cost
    no audio: each tune's true clip notes, at its rendered tempo, with the
    tonic estimated from them as for a transcription
    (:func:`transcribed_score.read_as_heard`). ``descriptors`` follows the
    rows of ``tunes``. The arguments are :func:`corpus_training_clips`'s.
    """
    from . import transcribed_score

    tunes, true_notes = corpus_training_clips(profile, seed, per_group, group_by, values)
    return tunes, transcribed_score.read_as_heard(true_notes, tunes.assign(clip_id=tunes["tune_id"]))


class ExtraRenders(NamedTuple):
    """:func:`profile_extra_renders`: ``tunes`` (one row per extra clip, ``render`` = 1, 2, ...),
    ``transcribed`` (their transcribed-score descriptors, rows aligned with ``tunes``), ``skips``
    (``tune_id, render, reason`` of the clips left out: not rendered or not transcribed) and ``notes``
    (the transcribed notes of the kept clips: ``clip_id`` (the tune id), ``render``, ``onset_s``,
    ``duration_s``, ``pitch_midi``)."""

    tunes: pd.DataFrame
    transcribed: pd.DataFrame
    skips: pd.DataFrame
    notes: pd.DataFrame | None = None


def profile_extra_renders(profile: str = "small", seed: int = 0, n_renders: int | None = None,
                          n_jobs: int | None = None, splits: tuple[str, ...] = ("train",),
                          effects: bool = False) -> ExtraRenders:
    """The profile's **training** tunes (or those of ``splits``) rendered again by other training
    instruments, as transcribed scores.

    Timbre augmentation for the classifiers on the transcribed score: render
    ``k`` (1 .. ``n_renders``, default the profile's ``extra_renders``) of a
    tune keeps its tempo and transposition and takes the instrument
    :func:`render.extra_timbre_draws` draws (never the tune's own, never a
    held-out family), through the same shipped soundfont, and with
    ``effects`` through its own seeded chain of audio effects
    (:func:`effects.draw_effects`: EQ, compression, reverb, noise; off by
    default: cross-validation found no gain, docs/experiments.md, "Effects on the extra
    renders"); transcribed like
    the in-domain clips (the same caches). A clip that cannot be rendered or
    transcribed is left out and listed in ``skips``.
    """
    from . import effects as audio_effects
    from . import render, symbolic

    n_renders = get_profile(profile).extra_renders if n_renders is None else int(n_renders)
    tunes, _ = profile_features(profile, seed, n_jobs=n_jobs)
    _, notes = load_profile(profile, seed)
    train = tunes[tunes["split"].isin(splits)].reset_index(drop=True)
    columns = train.drop(columns=["program", "qpm", "transpose", "audio_path", "status", "reason"])
    rows, tables, skips, heard_notes = [], [], [], []
    for k in range(n_renders):
        draws = render.extra_timbre_draws(train, seed, k)
        if effects:
            draws = draws.assign(effects=audio_effects.draw_effects(draws["tune_id"], seed, k))
        rendered = columns.merge(render.render_many(columns, notes, render_params(profile), seed, n_jobs=n_jobs,
                                                    draws=draws), on="tune_id")
        ok = rendered["status"] != "skipped"
        skips.append(rendered.loc[~ok, ["tune_id", "reason"]].assign(render=k + 1,
                                                                   reason="render: " + rendered.loc[~ok, "reason"]))
        rendered = rendered[ok].reset_index(drop=True)
        scored = _score_features_of(rendered, profile, seed, n_jobs)
        heard = ~rendered["tune_id"].astype(str).isin(scored.skips["clip_id"].astype(str)).to_numpy()
        skips.append(scored.skips.rename(columns={"clip_id": "tune_id"})[["tune_id", "reason"]].assign(render=k + 1))
        rows.append(rendered[heard].assign(render=k + 1))
        tables.append(scored.families["transcribed score"].loc[rendered.loc[heard, "tune_id"].astype(str)])
        heard_notes.append(scored.heard.notes.assign(render=k + 1))
    if not rows:
        return ExtraRenders(train.iloc[:0].assign(render=pd.Series(dtype=int)),
                            pd.DataFrame(columns=symbolic.descriptor_names(), dtype=float),
                            pd.DataFrame(columns=["tune_id", "render", "reason"]))
    return ExtraRenders(pd.concat(rows, ignore_index=True), pd.concat(tables).reset_index(drop=True),
                        pd.concat(skips, ignore_index=True)[["tune_id", "render", "reason"]],
                        pd.concat(heard_notes, ignore_index=True))


class StyleExtras(NamedTuple):
    """:func:`style_training_extras`: training rows beyond the profile's own clips for the style classifiers of
    the transcribed score. ``X`` (rows of transcribed-score descriptors) and ``codes`` (their style codes),
    the extra renders first, then the corpus tunes; ``n_renders`` and ``n_scores`` count each kind;
    ``skips`` are the extra clips left out (:class:`ExtraRenders`); ``groups`` the tune id of each row
    (for :func:`evaluation.classifier_on_splits`' ``extra_train``, which keeps a tune's renders in one
    cross-validation fold)."""

    X: "np.ndarray"
    codes: "np.ndarray"
    n_renders: int
    n_scores: int
    skips: pd.DataFrame
    groups: "np.ndarray"

    @property
    def train(self) -> tuple:
        """``(X, codes, groups)``: the ``extra_train`` of :func:`evaluation.classifier_on_splits`."""
        return self.X, self.codes, self.groups


def style_training_extras(profile: str, seed: int, tunes: pd.DataFrame, codes, styles,
                          n_renders: int | None = None, effects: bool = False,
                          per_style: int | None = None) -> StyleExtras:
    """What notebook 04's classifiers of the transcribed score learn from besides the profile's clips.

    The training tunes played again by other training instruments
    (:func:`profile_extra_renders` with ``n_renders`` and ``effects``), with
    the style codes of their tunes (``codes`` aligned with ``tunes``), and up
    to ``per_style`` (default: the profile's ``score_tunes_per_style``; 0:
    none) training-split corpus tunes per style that the profile does not
    render, read as scores (:func:`corpus_transcribed_scores`; the same tunes
    the style pitch CRNN reads as rolls), coded by ``styles`` (a style
    outside it is left out). Folk corpus only.
    """
    extra = profile_extra_renders(profile, seed, n_renders, effects=effects)
    code_of_tune = pd.Series(np.asarray(codes), index=tunes["tune_id"].astype(str))
    X, y = [extra.transcribed.to_numpy()], [code_of_tune.loc[extra.tunes["tune_id"].astype(str)].to_numpy()]
    groups = [extra.tunes["tune_id"].astype(str).to_numpy()]
    per_style = get_profile(profile).score_tunes_per_style if per_style is None else int(per_style)
    n_scores = 0
    if per_style > 0:
        pool, described = corpus_transcribed_scores(profile, seed, per_group=per_style, group_by="style",
                                                    values=styles)
        X.append(described.to_numpy())
        y.append(pool["style"].map({name: code for code, name in enumerate(styles)}).to_numpy(int))
        groups.append(pool["tune_id"].astype(str).to_numpy())
        n_scores = len(pool)
    return StyleExtras(np.vstack(X), np.concatenate(y).astype(int), len(extra.tunes), n_scores, extra.skips,
                       np.concatenate(groups))


def profile_held_out_timbre(profile: str = "small", seed: int = 0, n_jobs: int | None = None):
    """``(tunes, FeatureSet, ScoreFeatures)`` of the profile's **test** tunes played by held-out instruments.

    Each test tune is rendered again at its own tempo and transposition with a
    program of a family that training never hears
    (:func:`render.held_out_timbre_draws`, :data:`render.HELD_OUT_FAMILIES`),
    through the same shipped soundfont, then featurized and transcribed like
    the in-domain clips (the same caches). Rows follow the features' order.
    """
    from . import render

    tunes, _ = profile_features(profile, seed, n_jobs=n_jobs)
    _, notes = load_profile(profile, seed)
    test = tunes[tunes["split"] == "test"].reset_index(drop=True)
    manifest_columns = test.drop(columns=["program", "qpm", "transpose", "audio_path", "status", "reason"])
    rendered = render.render_many(manifest_columns, notes, render_params(profile), seed, n_jobs=n_jobs,
                                  draws=render.held_out_timbre_draws(test, seed))
    held, feats = _features_of(manifest_columns.merge(rendered, on="tune_id"), n_jobs)
    return held, feats, _score_features_of(held, profile, seed, n_jobs)
