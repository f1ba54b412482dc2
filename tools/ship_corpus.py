"""Write the parsed folk corpus into the package (``musicgeo_utils/data/corpus/``).

A fresh clone then reads these tables instead of parsing every tune with
music21 (``corpus.load_corpus``; about six minutes on two cores). Run it after
a change of the parser (``corpus.PARSER_VERSION``), of music21's version or of
the gazetteer: ``tests/test_corpus.py`` fails until the shipped key matches.
Older shipped tables are removed.

    python tools/ship_corpus.py
"""
from __future__ import annotations

from musicgeo_utils import corpus


def main() -> None:
    parsed = corpus.load_corpus()  # parses what the data folder's cache lacks
    key = corpus.corpus_key()
    corpus.SHIPPED_DIR.mkdir(parents=True, exist_ok=True)
    for old in corpus.SHIPPED_DIR.glob("corpus-*.parquet"):
        if key not in old.name:
            old.unlink()
    tables = corpus.shipped_paths(key)
    corpus._write_tables(tables, parsed)
    for path in tables.values():
        print(f"{path.relative_to(corpus.config.ROOT)}: {path.stat().st_size / 1e6:.2f} MB")
    print(f"{len(parsed.tunes)} tunes, {len(parsed.notes)} notes, {len(parsed.skips)} skips; key {key}")


if __name__ == "__main__":
    main()
