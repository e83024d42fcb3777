"""Every bad input is a DataError naming the file (and the 1-based line where there is one)."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from reference_torch.data import (DataError, build_episodes, load_episodes, parse_bookcrossing, parse_ml1m,
                                  parse_ml100k, read_episodes, save_episodes)
from reference_torch.data.cache import cache_path

PARSERS = {"ml-1m": parse_ml1m, "ml-100k": parse_ml100k, "bookcrossing": parse_bookcrossing}
BX_RATINGS_HEAD = '"User-ID";"ISBN";"Book-Rating"\n'

# (layout, {file: new content or None to delete}, file named in the error, line (None = no line), regex)
CASES = [
    # missing files
    ("ml-1m", {"ratings.dat": None}, "ratings.dat", None, r"not found"),
    ("ml-1m", {"m_director.txt": None}, "m_director.txt", None, r"not found"),
    ("ml-100k", {"u.occupation": None}, "u.occupation", None, r"not found"),
    ("bookcrossing", {"BX-Books.csv": None}, "BX-Books.csv", None, r"not found"),
    # malformed lines (wrong field count)
    ("ml-1m", {"users.dat": "1::F::1::10::48067\n2::M::56::16\n"}, "users.dat", 2, r"expected 5 fields.*found 4"),
    ("ml-1m", {"ratings.dat": "1::1::5::978300760\n1::5::1::9::9\n"}, "ratings.dat", 2, r"expected 4 fields.*found 5"),
    ("ml-100k", {"u.item": "1|A|01-Jan-1995||u|0|1\n"}, "u.item", 1, r"expected 24 fields.*found 7"),
    ("bookcrossing", {"BX-Book-Ratings.csv": BX_RATINGS_HEAD + '"10";"0155061224";"5"\n"20";"034545104X";"7";"x"\n'},
     "BX-Book-Ratings.csv", 3, r"expected 3 fields.*found 4"),
    ("bookcrossing", {"BX-Book-Ratings.csv": BX_RATINGS_HEAD + '"10";"0155061224"\n'},
     "BX-Book-Ratings.csv", 2, r"expected 3 fields.*found 2"),
    # wrong separator
    ("ml-1m", {"ratings.dat": "1\t1\t5\t978300760\n"}, "ratings.dat", 1, r"wrong separator.*'::'.*tab"),
    ("ml-1m", {"users.dat": "1::F::1::10::48067\n2,M,56,16,70072\n"}, "users.dat", 2, r"wrong separator.*','"),
    ("ml-100k", {"u.data": "1::1::5::881250949\n"}, "u.data", 1, r"wrong separator.*tab.*'::'"),
    ("bookcrossing", {"BX-Users.csv": '"User-ID","Location","Age"\n"10","nyc, usa",NULL\n'}, "BX-Users.csv", 1,
     r"wrong separator.*';'.*','"),
    # unknown categories
    ("ml-1m", {"users.dat": "1::F::1::10::1\n2::M::56::16::2\n3::X::25::15::3\n"}, "users.dat", 3, r"unknown gender 'X'"),
    ("ml-1m", {"users.dat": "1::F::1::99::1\n"}, "users.dat", 1, r"unknown occupation '99'"),
    ("ml-1m", {"users.dat": "1::F::17::1::1\n"}, "users.dat", 1, r"unknown age '17'"),
    ("ml-1m", {"movies_extrainfos.dat": "1::T::1995::G::x::Comedy::John Lasseter::W::A::P::P\n"
                                        "3::T::1995::G::x::Drama, Noir::John Lasseter::W::A::P::P\n"},
     "movies_extrainfos.dat", 2, r"unknown genre 'Noir'"),
    ("ml-1m", {"movies_extrainfos.dat": "1::T::1995::G::x::Comedy::Jane Doe (co-director)::W::A::P::P\n"},
     "movies_extrainfos.dat", 1, r"unknown director 'Jane Doe'"),
    ("ml-1m", {"movies_extrainfos.dat": "1::T::1995::X-RATED::x::Comedy::N/A::W::A::P::P\n"},
     "movies_extrainfos.dat", 1, r"unknown rate 'X-RATED'"),
    ("ml-1m", {"m_genre.txt": "Animation\nComedy\nCrime\nDrama\n"}, "movies_extrainfos.dat", 3, r"unknown genre 'nan'"),  # N/A, no 'nan'
    ("ml-100k", {"u.user": "1|17|M|doctor|1\n2|18|F|pilot|2\n"}, "u.user", 2, r"unknown occupation 'pilot'"),
    ("ml-100k", {"u.user": "1|17|Q|doctor|1\n"}, "u.user", 1, r"unknown gender 'Q'"),
    ("ml-100k", {"u.item": "1|A|1995/01/01||u|" + "|".join(["0"] * 19) + "\n"}, "u.item", 1, r"bad release date"),
    ("ml-100k", {"u.item": "1|A|01-Jan-1995||u|" + "|".join(["0", "2"] + ["0"] * 17) + "\n"}, "u.item", 1,
     r"genre flag 2 is 2"),
    # non-integer / out-of-range values
    ("ml-1m", {"ratings.dat": "1::1::5::978300760\n2::5::3::978302109\n3::3::4.5::978301968\n"}, "ratings.dat", 3,
     r"rating: expected an integer, found '4.5'"),
    ("ml-1m", {"ratings.dat": "1::1::5::978300760\n2::5::3::yesterday\n"}, "ratings.dat", 2,
     r"timestamp: expected an integer, found 'yesterday'"),
    ("ml-1m", {"ratings.dat": "1::1::5::1\n\n2::5::x::2\n"}, "ratings.dat", 3, r"rating.*'x'"),  # blank line counted
    ("ml-1m", {"ratings.dat": "1::1::5::1\r\n2::5::6::2\r\n"}, "ratings.dat", 2, r"rating 6 outside 1..5"),
    ("ml-1m", {"ratings.dat": "1::1::0::1\n"}, "ratings.dat", 1, r"rating 0 outside 1..5"),
    ("ml-1m", {"users.dat": "1::F::1::10::1\nabc::M::56::16::2\n"}, "users.dat", 2, r"id: expected an integer"),
    ("ml-100k", {"u.user": "1|old|M|doctor|1\n"}, "u.user", 1, r"age: expected an integer, found 'old'"),
    ("bookcrossing", {"BX-Book-Ratings.csv": BX_RATINGS_HEAD + '"10";"0155061224";"5"\n"20";"034545104X";"five"\n'},
     "BX-Book-Ratings.csv", 3, r"Book-Rating: expected an integer, found 'five'"),
    ("bookcrossing", {"BX-Book-Ratings.csv": BX_RATINGS_HEAD + '"10";"0155061224";"11"\n'},
     "BX-Book-Ratings.csv", 2, r"Book-Rating 11 outside 0..10"),
    # ids that do not resolve / duplicates
    ("ml-1m", {"ratings.dat": "1::1::5::1\n99::1::5::2\n"}, "ratings.dat", 2, r"unknown user id 99.*users.dat"),
    ("ml-1m", {"ratings.dat": "1::2::5::1\n"}, "ratings.dat", 1, r"unknown item id 2.*movies_extrainfos.dat"),
    ("ml-100k", {"u.data": "1\t1\t5\t1\n1\t7\t5\t1\n"}, "u.data", 2, r"unknown item id 7"),
    ("ml-1m", {"users.dat": "1::F::1::10::1\n2::M::1::10::1\n1::M::1::10::1\n"}, "users.dat", 3, r"duplicate user id 1"),
    ("bookcrossing", {"BX-Users.csv": '"User-ID";"Location";"Age"\n"10";"a, usa";NULL\n"10";"b, usa";NULL\n'},
     "BX-Users.csv", 3, r"duplicate User-ID"),
    # empty data
    ("ml-1m", {"ratings.dat": ""}, "ratings.dat", None, r"empty"),
    ("ml-1m", {"ratings.dat": "\n\n"}, "ratings.dat", None, r"empty"),
    ("ml-1m", {"m_rate.txt": "\n"}, "m_rate.txt", None, r"empty rate vocabulary"),
    ("ml-100k", {"u.data": ""}, "u.data", None, r"empty"),
    ("bookcrossing", {"BX-Book-Ratings.csv": BX_RATINGS_HEAD}, "BX-Book-Ratings.csv", None, r"no data lines"),
    ("bookcrossing", {"BX-Book-Ratings.csv": BX_RATINGS_HEAD + '"10";"0155061224";"0"\n'}, "BX-Book-Ratings.csv",
     None, r"no explicit ratings"),
    ("bookcrossing", {"BX-Books.csv": '"ISBN";"Book-Title";"Year-Of-Publication";"Publisher"\n"1";"t";"1";"p"\n'},
     "BX-Books.csv", 1, r"lacks column\(s\) Book-Author"),
]


@pytest.mark.parametrize("layout,overrides,fname,line,pattern", CASES,
                         ids=[f"{c[0]}-{c[2]}-{c[4][:24]}" for c in CASES])
def test_bad_input(tiny_raw, layout, overrides, fname, line, pattern):
    d = tiny_raw(layout, **overrides)
    with pytest.raises(DataError, match=pattern) as info:
        PARSERS[layout](d)
    e = info.value
    assert isinstance(e, ValueError)
    assert e.path == str(d / fname)
    assert e.line == line
    prefix = f"{d / fname}:{line}: " if line is not None else f"{d / fname}: "
    assert str(e).startswith(prefix), str(e)


def test_no_user_with_enough_ratings(tiny_raw):
    raw = parse_ml1m(tiny_raw("ml-1m"))
    with pytest.raises(DataError, match=r"no user has at least 20 ratings") as info:
        build_episodes(raw, "ml-1m")
    assert info.value.path.endswith("ratings.dat") and info.value.line is None


def test_data_error_format():
    assert str(DataError("a/b.dat", "boom", 3)) == "a/b.dat:3: boom"
    assert str(DataError("a/b.dat", "boom")) == "a/b.dat: boom"
    e = DataError("x", "m", 1)
    assert (e.path, e.line, e.message) == ("x", 1, "m")
    e = DataError("cli.py: --raw DIR is required")  # one-argument form: the text names the place itself
    assert (str(e), e.path, e.line) == ("cli.py: --raw DIR is required", None, None)
    import pickle
    for e in (DataError("a", "b", 2), DataError("a", "b"), DataError("text")):
        assert str(pickle.loads(pickle.dumps(e))) == str(e)


# ------------------------------------------------------------------ corrupt cache
@pytest.fixture
def cached(synthetic_raw, tmp_path):
    raw_dir = synthetic_raw("ml-100k")
    ep = load_episodes("ml-100k", raw_dir, cache_dir=tmp_path)
    return raw_dir, ep, cache_path("ml-100k", raw_dir, tmp_path)


def test_truncated_cache_raises_then_rebuilds(cached, tmp_path):
    raw_dir, ep, p = cached
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="corrupt or truncated episode cache") as info:
        read_episodes(p)
    assert info.value.path == str(p)
    with pytest.warns(RuntimeWarning, match=f"{p}.*rebuilding"):
        again = load_episodes("ml-100k", raw_dir, cache_dir=tmp_path)
    assert again == ep
    assert read_episodes(p) == ep  # rewritten


@pytest.mark.parametrize("content", [b"", b"not a zip at all", b"PK\x03\x04garbage"])
def test_garbage_cache(tmp_path, content):
    p = tmp_path / "x.npz"
    p.write_bytes(content)
    with pytest.raises(DataError, match=str(p)):
        read_episodes(p)


def test_inconsistent_cache(cached, tmp_path):
    _, ep, p = cached
    with np.load(p, allow_pickle=False) as z:
        d = {k: z[k] for k in z.files}
    bad = dict(d, support_items=d["support_items"][:, :3])
    np.savez_compressed(tmp_path / "bad.npz", **bad)
    with pytest.raises(DataError, match="inconsistent episodes: support_(items|y)"):
        read_episodes(tmp_path / "bad.npz")
    del d["query_y"]
    np.savez_compressed(tmp_path / "bad2.npz", **d)
    with pytest.raises(DataError, match="missing arrays"):
        read_episodes(tmp_path / "bad2.npz")
    save_episodes(ep, tmp_path / "good.npz")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_episodes(tmp_path / "good.npz") == ep
