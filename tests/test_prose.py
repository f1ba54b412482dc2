"""musicgeo_utils.prose: the formatting behind the notebooks' rendered sentences."""
from musicgeo_utils import prose


def test_km_rounds_to_tens_with_a_thousands_separator():
    assert prose.km(1037.26) == "1,040 km"
    assert prose.km(4651, step=100) == "4,700 km"
    assert prose.km(0.4) == "0 km"


def test_share_ordinal_and_listing():
    assert prose.share(0.912) == "91 %" and prose.share(1) == "100 %"
    assert [prose.ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 102)] == \
        ["1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "102nd"]
    assert prose.listing([]) == "" and prose.listing(["a"]) == "a"
    assert prose.listing(["a", "b", "c"]) == "a, b and c" and prose.listing(["a", "b"], "or") == "a or b"


def test_show_prints_outside_ipython(capsys):
    prose.show("**0.49** of it")
    assert capsys.readouterr().out == "**0.49** of it\n"


def test_chosen_reads_the_params_that_methods_tables_store():
    stored = repr({"features": "all", "C": 0.1, "decoding": "median"})
    assert prose.chosen(stored) == {"features": "all", "C": 0.1, "decoding": "median"}
    assert prose.chosen({"k": 20}) == {"k": 20} and prose.chosen("{}") == {} and prose.chosen(None) == {}
    assert prose.settings(stored) == "features = all, C = 0.1, decoding = median"
