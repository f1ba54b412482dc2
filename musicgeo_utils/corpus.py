"""The folk tunes inside music21's wheel, parsed into tidy tables.

Five collections of ABC files ship in ``music21/corpus/``; each file holds many
tunes, each starting with an ``X:`` line. :func:`load_corpus` splits every
file into tunes, reads their headers with a light parser, parses each tune's
music with music21's ABC translator and returns three tables (a
:class:`Corpus`): one row per tune, one row per note, one row per skipped
tune. Parsing runs in parallel over files (joblib) and is cached per file,
keyed by the file's bytes, the music21 version and :data:`PARSER_VERSION`, so
an interrupted run resumes file by file and a second run only reads Parquet.
The package ships the parsed tables of the installed corpus (:data:`SHIPPED_DIR`),
so a fresh clone skips the parse while they match it.

Notes: ``pitch`` is the MIDI number, ``onset`` and ``duration`` are in
quarter notes (music21 ``quarterLength``), repeats as written (not unfolded).
A chord gives its top note, tied notes are merged, grace notes are dropped,
and in a multi-voice tune only the first (top) voice is kept.

Speed: music21's ABC translator draws beams (``Stream.makeBeams``) on every
part it builds, two thirds of its parse time, and then re-bars measures that
overflow their time signature (``abcFormat.translate.reBar``: split at the
barline into tied notes, a third of what was left). Both are notation only:
they change no pitch, no absolute offset and, once ties are merged, no
duration, and the translator ignores reBar's errors. :func:`without_notation`
switches both off while a file is parsed, a third faster. The notes, tunes
and skips of all 1,137 files were compared with and without them: identical
but for one tune, where reBar's split of a chord across a barline halved
one A5 and added a second A5 at the onset of the next (miscFolk "Duke of
York's March", X:108: 129 notes without reBar, 130 with it). Tests compare a
sample that holds re-barred measures, and that tune.
"""
from __future__ import annotations

import contextlib
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from musicgeo_utils import config, geocode
from musicgeo_utils.cache import content_key, write_parquet

#: Bump when the parsing rules change: every per-file cache is then rebuilt.
PARSER_VERSION = 3  # 3: without reBar (one tune loses a spurious note)
#: The three tables of a cache entry, written in this order: ``tunes`` last, its presence marks completion.
_TABLES = ("notes", "skips", "tunes")

#: Collection folder -> what it is (publication, for licence/provenance notes).
COLLECTIONS: dict[str, str] = {
    "essenFolksong": "Essen Folksong Collection (Helmut Schaffrath, Essen, 1982-1994; "
                     "German, other European and Chinese folk songs), ABC conversion shipped with music21",
    "oneills1850": "O'Neill's Music of Ireland: 1,850 melodies (Francis O'Neill, Chicago, 1903), "
                   "ABC transcription by Norbert Paap and others",
    "ryansMammoth": "Ryan's Mammoth Collection of fiddle tunes (Elias Howe, Boston, 1883), "
                    "ABC contributed to the Ryan's Mammoth project",
    "airdsAirs": "Aird's Selection of Scotch, English, Irish and Foreign Airs (James Aird, Glasgow, "
                 "1778-1803), ABC by Jack Campin",
    "miscFolk": "Colonial and Civil War American fife music, and Northumbrian Minstrelsy "
                "(Bruce and Stokoe, 1882), ABC by Jack Campin",
}

#: Collection-level style for the music map (Essen is split by origin, see tune_style).
COLLECTION_STYLES = {"oneills1850": "Irish dance", "ryansMammoth": "American fiddle",
                     "airdsAirs": "Scottish airs", "miscFolk": "Anglo-American folk"}

_HEADER_FIELDS = {"T": "title", "O": "origin_raw", "R": "rhythm_raw", "M": "meter",
                  "K": "key", "L": "unit"}
_LABEL_SYNONYMS = {"slipjig": "slip jig", "doublejig": "double jig", "single jig": "jig"}
_NOTE_COLUMNS = {"pitch": "int16", "onset": "float32", "duration": "float32"}
_SKIP_COLUMNS = ["collection", "file", "x", "title", "reason", "message"]


class TuneParseError(ValueError):
    """A tune that cannot be turned into notes; names the file, X: number and title."""

    def __init__(self, file: str, x: int, title: str, reason: str, detail: str = ""):
        self.file, self.x, self.title, self.reason, self.detail = file, x, title, reason, detail
        text = f"{file} X:{x} ({title}): {reason}"
        super().__init__(f"{text}: {detail}" if detail else text)


@dataclass
class Corpus:
    """Tunes (one row each), their notes (quarter notes) and the skipped tunes."""

    tunes: pd.DataFrame
    notes: pd.DataFrame
    skips: pd.DataFrame


# ----------------------------------------------------------------- the files

def corpus_root() -> Path:
    """music21's corpus folder, found through music21 itself."""
    from music21.common import getCorpusFilePath

    return Path(getCorpusFilePath())


def collection_files(collection: str) -> list[Path]:
    """The ABC files of one collection, sorted by name."""
    if collection not in COLLECTIONS:
        raise ValueError(f"unknown collection {collection!r}; choose from {sorted(COLLECTIONS)}")
    return sorted((corpus_root() / collection).glob("*.abc"))


def decode_abc(data: bytes) -> str:
    """ABC bytes -> text (UTF-8, else Latin-1), with DOS umlauts repaired.

    Some Essen files were once converted from DOS code page 437 as if it were
    Latin-1, leaving 'getr\x84umet': characters U+0080-U+009F (control codes,
    never text) are read back as code page 437 ('geträumet').
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    return re.sub("[\x80-\x9f]", lambda m: m.group().encode("latin-1").decode("cp437"), text)


def split_tunes(text: str) -> list[tuple[int, str]]:
    """A multi-tune ABC text -> ``(x, tune_text)`` pairs in file order.

    A tune starts at a line beginning ``X:``; text before the first is the
    file's comment header and is dropped. A non-numeric X gets its 1-based
    position in the file.
    """
    starts = [m.start() for m in re.finditer(r"^X:", text, flags=re.M)]
    tunes = []
    for i, start in enumerate(starts):
        body = text[start: starts[i + 1] if i + 1 < len(starts) else len(text)]
        number = re.match(r"X:\s*(\d+)", body)
        tunes.append((int(number.group(1)) if number else i + 1, body.strip() + "\n"))
    return tunes


def read_header(tune_text: str) -> dict[str, str]:
    """The first T:, O:, R:, M:, K:, L: values of a tune ('' where absent)."""
    header = dict.fromkeys(_HEADER_FIELDS.values(), "")
    for line in tune_text.splitlines():
        field = re.match(r"([A-Za-z]):(.*)", line)
        if field and field.group(1) in _HEADER_FIELDS:
            name = _HEADER_FIELDS[field.group(1)]
            header[name] = header[name] or field.group(2).strip()
    return header


# ----------------------------------------------------------------- one tune

def _top_voice(score):
    """The first part that has notes (V: lines before K: give empty parts)."""
    parts = [p for p in getattr(score, "parts", []) if p.recurse().notes.first() is not None]
    return parts[0] if parts else score


def score_notes(score) -> pd.DataFrame:
    """Notes of a music21 score: top voice, top of chords, ties merged, no grace notes."""
    rows: list[list] = []
    tied = False
    for element in _top_voice(score).flatten().notes:
        if element.duration.isGrace or element.quarterLength == 0:
            continue
        pitch = max(p.midi for p in element.pitches)
        onset, length = float(element.offset), float(element.quarterLength)
        if tied and rows and rows[-1][0] == pitch and abs(rows[-1][1] + rows[-1][2] - onset) < 1e-6:
            rows[-1][2] += length
        else:
            rows.append([pitch, onset, length])
        tied = element.tie is not None and element.tie.type in ("start", "continue")
    frame = pd.DataFrame(rows, columns=list(_NOTE_COLUMNS))
    return frame.astype(_NOTE_COLUMNS)


def _keep_bars(part, *, inPlace=False):  # noqa: N803 (music21's keyword)
    """``reBar``'s stand-in: the part as the translator built it."""
    return part


@contextlib.contextmanager
def without_notation():
    """music21's ``Stream.makeBeams`` and ABC ``reBar`` as no-ops inside the block (restored after it)."""
    from music21 import stream
    from music21.abcFormat import translate

    beams, rebar = stream.Stream.__dict__["makeBeams"], translate.reBar
    stream.Stream.makeBeams = lambda self, *args, **kwargs: None
    translate.reBar = _keep_bars
    try:
        yield
    finally:
        stream.Stream.makeBeams, translate.reBar = beams, rebar


def parse_tune(text: str, *, collection: str, file: str, x: int) -> tuple[dict, pd.DataFrame]:
    """One tune's ABC text -> (header dict, notes with pitch/onset/duration).

    Raises :class:`TuneParseError` naming the file, X: and title when music21
    cannot parse it (reason: the exception's class) or it has no notes
    (reason: ``'no notes'``).
    """
    from music21 import converter

    header = read_header(text)
    title = header["title"] or "untitled"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            notes = score_notes(converter.parseData(text, format="abc"))
    except Exception as error:  # music21 raises many types; each becomes a counted skip
        raise TuneParseError(file, x, title, type(error).__name__, str(error)[:300]) from error
    if notes.empty:
        raise TuneParseError(file, x, title, "no notes")
    return {"collection": collection, "file": file, "x": x, **header}, notes


# ----------------------------------------------------------------- one file

def _tune_ids(collection: str, stem: str, numbers: list[int]) -> list[str]:
    """Stable ids; a repeated X in a file gets '-2', '-3' ... in file order."""
    seen: dict[int, int] = {}
    ids = []
    for x in numbers:
        seen[x] = seen.get(x, 0) + 1
        suffix = "" if seen[x] == 1 else f"-{seen[x]}"
        ids.append(f"{collection}/{stem}/{x}{suffix}")
    return ids


def parse_abc_file(path: Path, collection: str) -> Corpus:
    """Every tune of one ABC file (no geocoding); failures go to ``skips``."""
    relative = f"{collection}/{path.name}"
    tunes = split_tunes(decode_abc(path.read_bytes()))
    ids = _tune_ids(collection, path.stem, [x for x, _ in tunes])
    headers, notes, skips = [], [], []
    for tune_id, (x, text) in zip(ids, tunes):
        try:
            with without_notation():
                header, tune_notes = parse_tune(text, collection=collection, file=relative, x=x)
        except TuneParseError as error:
            skips.append([collection, relative, x, error.title, error.reason, str(error)])
            continue
        headers.append({"tune_id": tune_id, **header, "n_notes": len(tune_notes),
                        "duration_quarters": float((tune_notes.onset + tune_notes.duration).max())})
        notes.append(tune_notes.assign(tune_id=tune_id))
    return Corpus(_tune_frame(headers), _note_frame(notes), pd.DataFrame(skips, columns=_SKIP_COLUMNS))


def _tune_frame(headers: list[dict]) -> pd.DataFrame:
    columns = ["tune_id", "collection", "file", "x", *_HEADER_FIELDS.values(), "n_notes", "duration_quarters"]
    return pd.DataFrame(headers, columns=columns).astype({"x": "int64", "n_notes": "int64",
                                                          "duration_quarters": "float64"})


def _note_frame(notes: list[pd.DataFrame]) -> pd.DataFrame:
    if not notes:
        return pd.DataFrame({"tune_id": pd.Series(dtype=str)}).assign(
            **{c: pd.Series(dtype=t) for c, t in _NOTE_COLUMNS.items()})
    frame = pd.concat(notes, ignore_index=True)
    return frame[["tune_id", *_NOTE_COLUMNS]]


def file_key(path: Path) -> str:
    """Cache key of one ABC file: its bytes, the music21 version, PARSER_VERSION."""
    import music21

    return content_key(path.read_bytes(), music21.__version__, PARSER_VERSION)


def _file_cache_paths(path: Path, collection: str, key: str) -> dict[str, Path]:
    return {name: config.data_path("corpus", "files", collection, f"{path.stem}-{key}.{name}.parquet")
            for name in _TABLES}


def _read_tables(paths: dict[str, Path]) -> Corpus | None:
    if not all(p.exists() for p in paths.values()):
        return None
    return Corpus(*(pd.read_parquet(paths[name]) for name in ("tunes", "notes", "skips")))


def _write_tables(paths: dict[str, Path], corpus: Corpus) -> None:
    for name in _TABLES:
        write_parquet(paths[name], getattr(corpus, name))


def load_abc_file(path: Path, collection: str, use_cache: bool = True) -> Corpus:
    """:func:`parse_abc_file` through the per-file Parquet cache (written atomically)."""
    paths = _file_cache_paths(path, collection, file_key(path))
    cached = _read_tables(paths) if use_cache else None
    if cached is not None:
        return cached
    parsed = parse_abc_file(path, collection)
    _write_tables(paths, parsed)
    return parsed


# ------------------------------------------------------------- whole corpus

def normalize_label(rhythm_raw: str) -> str:
    """R: text -> a lowercase label: 'Reel'/'REEL' -> 'reel', 'slipjig' -> 'slip jig'.

    Only the first item counts ('Romanze, Ballade, Lied' -> 'romanze');
    German elided compounds are completed ('Kinder -, Wiegen - Lied' ->
    'kinder-lied'); '???' gives ''.
    """
    text = re.sub(r"\s*-\s*", "-", str(rhythm_raw).lower().replace("]", " ").replace("[", " "))
    items = [" ".join(i.split()) for i in re.split(r"[,;.(]", text)]
    first = items[0] if items else ""
    if first.endswith("-"):  # 'kinder-' borrows the ending of the next full compound
        ending = next((i.rsplit("-", 1)[1] for i in items[1:] if "-" in i.strip("-")), "")
        first = first + ending if ending else first
    first = first.strip(" -?")
    return _LABEL_SYNONYMS.get(first, first)


def genre_key(label: str) -> str:
    """A spelling-free key of a normalised label: 'liebes-lied', 'liebeslieder' -> 'liebeslied'.

    Drops hyphens and spaces, folds the German plural '-lieder' into '-lied'
    and the inflected '-liches' into '-lich' ('geistliches' -> 'geistlich').
    """
    key = re.sub(r"[-\s]", "", str(label).lower())
    key = re.sub(r"lieder$", "lied", key)
    return re.sub(r"liches$", "lich", key)


def fold_genre_labels(labels: pd.Series) -> pd.Series:
    """Labels whose :func:`genre_key` agrees merged under their most frequent spelling.

    Missing labels stay missing; ties go to the alphabetically first spelling.
    """
    labels = pd.Series(labels)
    present = labels.dropna().astype(str)
    keys = present.map(genre_key)
    table = pd.DataFrame({"key": keys.to_numpy(), "label": present.to_numpy()})
    counts = table.groupby(["key", "label"]).size().rename("n").reset_index()
    spelling = (counts.sort_values(["key", "n", "label"], ascending=[True, False, True])
                .drop_duplicates("key").set_index("key")["label"])
    return labels.where(labels.isna(), keys.map(spelling).reindex(labels.index))


def tune_style(collection: str, origin_raw: str) -> str:
    """The collection-level musical style used by the music map.

    Essen tunes: 'Chinese folk' when the O: path names China or a Chinese
    province; 'German folk' when it names a German-speaking country
    (Deutschland, Oesterreich, Schweiz, Luxemburg, Liechtenstein) or a region
    flagged German-speaking in ``historical_regions.csv`` (Lothringen,
    Elsass, Schlesien, Gottschee, Siebenbuergen ...); otherwise 'European
    folk', or 'Other folk' for the few paths outside Europe (Mexiko, USA,
    Asien without China). Other collections: O'Neill's 'Irish dance', Ryan's
    'American fiddle', Aird's 'Scottish airs', miscFolk 'Anglo-American folk'.
    """
    if collection != "essenFolksong":
        return COLLECTION_STYLES[collection]
    if geocode.in_china(origin_raw):
        return "Chinese folk"
    if geocode.german_speaking(origin_raw):
        return "German folk"
    if re.search(r"amerika|asien|\bmexiko\b|\busa\b", str(origin_raw), flags=re.I):
        return "Other folk"
    return "European folk"


def _annotate(tunes: pd.DataFrame) -> pd.DataFrame:
    tunes = tunes.copy()
    styles = {(c, o): tune_style(c, o) for c, o in tunes[["collection", "origin_raw"]].drop_duplicates().itertuples(index=False)}
    tunes["style"] = [styles[(c, o)] for c, o in zip(tunes.collection, tunes.origin_raw)]
    labels = tunes["rhythm_raw"].map(normalize_label)
    tunes["label"] = labels.where(labels != "", tunes["style"])
    tunes = geocode.geocode_frame(tunes)
    order = ["tune_id", "collection", "file", "x", "title", "origin_raw", "rhythm_raw", "meter", "key",
             "unit", "label", "style", "n_notes", "duration_quarters", *geocode.GEOCODE_COLUMNS]
    return tunes[order]


def _parallel_files(files: list[tuple[str, Path]], n_jobs: int, use_cache: bool) -> list[Corpus]:
    from joblib import Parallel, delayed

    # biggest files first, so no worker is left alone with a long file at the end
    order = sorted(range(len(files)), key=lambda i: -files[i][1].stat().st_size)
    results = Parallel(n_jobs=n_jobs, batch_size=1)(
        delayed(load_abc_file)(files[i][1], files[i][0], use_cache) for i in order)
    by_index = dict(zip(order, results))
    return [by_index[i] for i in range(len(files))]


def _combine(parts: list[Corpus]) -> Corpus:
    tunes = pd.concat([p.tunes for p in parts], ignore_index=True)
    notes = pd.concat([p.notes for p in parts], ignore_index=True)
    skips = pd.concat([p.skips for p in parts], ignore_index=True)
    tunes = _annotate(tunes).sort_values("tune_id", kind="stable").reset_index(drop=True)
    notes = notes.sort_values(["tune_id", "onset"], kind="stable").reset_index(drop=True)
    notes = notes.astype({"tune_id": str, **_NOTE_COLUMNS})
    skips = skips.astype({"x": "int64"}).sort_values(["file", "x"], kind="stable").reset_index(drop=True)
    return Corpus(tunes, notes, skips)


#: The parsed corpus as the package ships it (``tools/ship_corpus.py`` writes it): a fresh clone reads
#: it instead of parsing all 1,137 files with music21 (about six minutes of two cores) when its key,
#: the same as the data folder's cache key, matches: the files' bytes, the music21 version,
#: :data:`PARSER_VERSION` and the gazetteer. ``tests/test_corpus.py`` parses a sample of files afresh
#: and compares them with it, and fails when the key no longer matches the installed files.
SHIPPED_DIR = config.PACKAGE_DATA / "corpus"


def corpus_key(collections=None) -> str:
    """The cache key of the chosen collections' parsed tables (default: all five)."""
    collections = list(COLLECTIONS) if collections is None else list(collections)
    files = [p for c in collections for p in collection_files(c)]
    return content_key(sorted(collections), [file_key(p) for p in files], geocode.tables_key())


def shipped_paths(key: str) -> dict[str, Path]:
    """Where the package ships the parsed corpus of cache key ``key``."""
    return {name: SHIPPED_DIR / f"corpus-{key}.{name}.parquet" for name in _TABLES}


def load_corpus(collections=None, n_jobs: int | None = None, use_cache: bool = True) -> Corpus:
    """Every tune of the chosen collections (default: all five), geocoded.

    ``tunes``: one row per parsed tune (ids like ``essenFolksong/han1/123``,
    headers, ``label``, ``style``, note count, length in quarter notes, and
    the geocode columns with latitude/longitude in degrees). ``notes``:
    ``tune_id, pitch`` (MIDI), ``onset, duration`` (quarter notes), sorted by
    tune_id then onset. ``skips``: tunes that failed, with the reason.
    ``use_cache=False`` re-parses every file (and refreshes the caches). With
    the cache on, a missing data-folder cache is first taken from the tables
    the package ships (:data:`SHIPPED_DIR`) when their key matches.
    """
    collections = list(COLLECTIONS) if collections is None else list(collections)
    files = [(c, p) for c in collections for p in collection_files(c)]
    combined_key = corpus_key(collections)
    paths = {name: config.data_path("corpus", f"corpus-{combined_key}.{name}.parquet") for name in _TABLES}
    cached = (_read_tables(paths) or _read_tables(shipped_paths(combined_key))) if use_cache else None
    if cached is not None:
        if not paths["tunes"].exists():
            _write_tables(paths, cached)
        return cached
    corpus = _combine(_parallel_files(files, n_jobs or config.n_jobs(), use_cache))
    _write_tables(paths, corpus)
    return corpus


def skip_summary(corpus: Corpus) -> pd.DataFrame:
    """Skipped tunes per collection and reason, most frequent first."""
    if corpus.skips.empty:
        return pd.DataFrame(columns=["collection", "reason", "tunes"])
    counts = corpus.skips.groupby(["collection", "reason"]).size().rename("tunes")
    return counts.reset_index().sort_values("tunes", ascending=False, kind="stable").reset_index(drop=True)
