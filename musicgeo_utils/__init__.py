"""musicgeo: where does this music come from, and a map of music.

The package holds the pipeline's stages, one module each, in the order the
data flows:

- ``config``     paths, profiles and the seed (environment variables override)
- ``cache``      atomic writes and content-hash keys for every on-disk cache
- ``corpus``     the folk tunes inside music21's wheel, parsed into a manifest
- ``geocode``    origin text -> place, today's country, latitude/longitude
- ``matching``   melody hashes, near duplicates, tune families
- ``splits``     family-grouped, region-stratified splits and profiles
- ``render``     notes -> audio through a General MIDI soundfont
- ``features``   mel spectrograms, MFCCs and summary vectors
- ``extraction`` features of many clips, cached, in parallel
- ``geo``        great-circle maths on the sphere, land test
- ``regions``    class regions: labels, medoid centres, countries, what a decoding does
- ``geomethods`` geographic regression/classification methods
- ``calibration`` temperature scaling, expected calibration error, reliability figure
- ``geoscores``  scores in km with bootstrap intervals
- ``georesults`` result files and display tables of the comparison
- ``models`` / ``meldata`` / ``training``  the CRNN, its mel datasets and its training loop
- ``embedding``  PCA / t-SNE / UMAP maps of model outputs
- ``maps``       offline folium maps
- ``plots`` / ``colors``  matplotlib figures; one colour per category everywhere
- ``report``     the single-file HTML report

Submodules are imported explicitly (``from musicgeo_utils import corpus``) so
that importing the package stays cheap.
"""

import warnings

__version__ = "0.1.0"

# tqdm.auto (imported by libraries we use) warns in notebooks when ipywidgets is
# absent and falls back to a text bar, which is what we want in papermill logs.
warnings.filterwarnings("ignore", message="IProgress not found")
