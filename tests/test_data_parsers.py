"""Parsers: handcrafted tiny files, synthetic files of every layout, and the real files in ../shared/data."""
from __future__ import annotations

import ast
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reference_torch.data import (Features, RawData, build_episodes, parse_bookcrossing, parse_ml1m,
                                  parse_ml100k, write_raw)

PARSERS = {"ml-1m": parse_ml1m, "ml-100k": parse_ml100k, "bookcrossing": parse_bookcrossing}
DATA_PKG = Path(__file__).resolve().parents[1] / "reference_torch" / "data"


def check_raw(raw: RawData, n_classes: int) -> None:
    f = raw.features
    assert isinstance(f, Features)
    assert f.user_x.dtype == np.int64 and f.user_x.shape[1] == len(f.user_vocab)
    assert f.item_x.dtype == np.int64 and f.item_x.shape[1] == len(f.item_vocab)
    assert f.item_multi.dtype == np.uint8 and f.item_multi.shape == (f.n_items, sum(f.item_multihot))
    assert set(np.unique(f.item_multi)) <= {0, 1}
    assert (f.user_x >= 0).all() and (f.user_x < np.array(f.user_vocab)).all()
    assert (f.item_x >= 0).all() and (f.item_x < np.array(f.item_vocab)).all()
    assert f.n_classes == n_classes
    r = raw.ratings
    assert list(r.columns) == ["user", "item", "rating", "timestamp"]
    assert all(r[c].dtype == np.int64 for c in r.columns)
    assert r["user"].between(0, f.n_users - 1).all() and r["item"].between(0, f.n_items - 1).all()
    assert r["rating"].between(1, n_classes).all()


# ------------------------------------------------------------------ package hygiene
def test_data_package_has_no_torch_and_only_relative_imports():
    for py in DATA_PKG.glob("*.py"):
        tree = ast.parse(py.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:  # relative import: fine
                    continue
                names = [node.module or ""]
            else:
                continue
            for n in names:
                assert not n.startswith("torch"), f"{py.name} imports {n}"
                assert not n.startswith("reference_torch"), f"{py.name}: absolute import of {n}"


# ------------------------------------------------------------------ handcrafted tiny files
def test_tiny_ml1m(tiny_raw):
    raw = parse_ml1m(tiny_raw("ml-1m"))
    check_raw(raw, 5)
    f = raw.features
    assert f.user_vocab == (2, 7, 21) and f.item_vocab == (6, 2) and f.item_multihot == (5, 4)
    # users sorted by id: 1 F/1/10, 2 M/56/16, 3 M/25/15
    assert f.user_x.tolist() == [[1, 0, 10], [0, 6, 16], [0, 2, 15]]
    # items sorted by id: 1 (G, 1995), 3 (UNRATED, 1946), 5 (R, 1995); years vocab [1946, 1995]
    assert f.item_x.tolist() == [[4, 1], [1, 0], [5, 1]]
    genre, director = f.item_multi[:, :5], f.item_multi[:, 5:]
    assert genre.tolist() == [[1, 0, 1, 0, 0], [0, 1, 0, 0, 0], [0, 0, 0, 1, 1]]  # N/A -> 'nan'
    # '(co-director)' note stripped, N/A -> 'nan'
    assert director.tolist() == [[0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 1, 1]]
    assert raw.ratings.values.tolist() == [[0, 0, 5, 978300760], [1, 2, 3, 978302109],
                                           [2, 1, 4, 978301968], [0, 2, 1, 978300275]]


def test_tiny_ml1m_latin1_and_note_without_space(tiny_raw):
    movies = ("1::Toy Story::1995::G::x::Comedy::Doris Dörrie(co-director)::W::A::P::P\n"
              "3::B::1946::R::x::Drama::N/A::W::A::P::P\n").encode("latin-1")
    d = tiny_raw("ml-1m", **{"movies_extrainfos.dat": movies,
                             "m_director.txt": "nan\nDoris Dörrie\n".encode("utf-8"),
                             "m_genre.txt": "Comedy\nDrama\n",
                             "ratings.dat": "1::1::5::1\n"})
    f = parse_ml1m(d).features
    assert f.item_multi[:, 2:].tolist() == [[0, 1], [1, 0]]


def test_tiny_ml100k(tiny_raw):
    raw = parse_ml100k(tiny_raw("ml-100k"))
    check_raw(raw, 5)
    f = raw.features
    assert f.user_vocab == (2, 7, 3) and f.item_vocab == (2,) and f.item_multihot == (19,)
    # ages 17 -> group 1 (idx 0), 18 -> 18 (1), 56 -> 56 (6), 50 -> 50 (5); occupation by name
    assert f.user_x.tolist() == [[0, 0, 2], [1, 1, 1], [0, 6, 0], [1, 5, 2]]
    # year vocab [1995, 'unknown']: item 1 -> 1995 (0), item 2 has no release date -> 'unknown' (last)
    assert f.item_x[:, 0].tolist() == [0, 1]
    assert f.item_multi[0].tolist() == [0, 1, 0, 1] + [0] * 15 and f.item_multi[1].tolist() == [1] + [0] * 18
    assert raw.ratings.values.tolist() == [[0, 0, 5, 881250949], [3, 1, 1, 881250950], [1, 0, 3, 881250951]]


def test_ml100k_age_groups(tiny_raw):
    ages = [1, 17, 18, 24, 25, 34, 35, 44, 45, 49, 50, 55, 56, 90]
    users = "".join(f"{k + 1}|{a}|M|doctor|0\n" for k, a in enumerate(ages))
    f = parse_ml100k(tiny_raw("ml-100k", **{"u.user": users, "u.data": "1\t1\t3\t5\n"})).features
    assert f.user_x[:, 1].tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6]


def test_tiny_bookcrossing(tiny_raw):
    raw = parse_bookcrossing(tiny_raw("bookcrossing"))
    check_raw(raw, 10)
    f = raw.features
    # implicit (0) rows dropped; ISBN compared upper-cased; timestamp = 0-based row number in the file
    assert raw.ratings.values.tolist() == [[0, 0, 5, 1], [1, 1, 10, 2], [2, 0, 8, 3]]
    # items: only books with an explicit rating, sorted ISBN: 0155061224, 034545104X
    assert f.n_items == 2 and f.item_multihot == () and f.item_multi.shape == (2, 0)
    assert f.item_vocab == (2, 2, 2)
    assert f.item_x.tolist() == [[1, 0, 1], [0, 1, 0]]
    # users: age NULL -> missing bucket 7, 34 -> 25-34 (2), 17 -> <18 (0); countries sorted germany, portugal, usa
    assert f.user_vocab == (8, 3)
    assert f.user_x.tolist() == [[7, 2], [2, 1], [0, 0]]


def test_bookcrossing_dangling_isbn_dropped_with_warning(tiny_raw):
    ratings = '"User-ID";"ISBN";"Book-Rating"\n"10";"0155061224";"5"\n"20";"9999999999";"7"\n'
    with pytest.warns(UserWarning, match="dropped 1 explicit"):
        raw = parse_bookcrossing(tiny_raw("bookcrossing", **{"BX-Book-Ratings.csv": ratings}))
    assert raw.ratings.values.tolist() == [[0, 0, 5, 0]]


# ------------------------------------------------------------------ synthetic files, every layout
@pytest.mark.parametrize("layout", sorted(PARSERS))
def test_parse_synthetic(layout, synthetic_raw):
    d = synthetic_raw(layout)
    raw = PARSERS[layout](d)
    check_raw(raw, 10 if layout == "bookcrossing" else 5)
    n_users, n_items, n_ratings = {"ml-1m": (120, 300, 4800), "ml-100k": (120, 250, 4800),
                                   "bookcrossing": (120, 400, 4800)}[layout]
    assert len(raw.ratings) == n_ratings
    assert not raw.ratings.duplicated(["user", "item"]).any()
    f = raw.features
    if layout == "ml-1m":
        assert f.n_users == n_users and f.n_items == n_items
        assert f.user_vocab == (2, 7, 21) and f.item_vocab[0] == 6 and f.item_multihot == (25, 2186)
        assert (f.item_multi[:, :25].sum(1) >= 1).all() and (f.item_multi[:, 25:].sum(1) >= 1).all()
    elif layout == "ml-100k":
        assert f.n_users == n_users and f.n_items == n_items
        assert f.user_vocab == (2, 7, 21) and f.item_multihot == (19,)
    else:
        assert f.n_users <= n_users and f.n_items <= n_items and f.user_vocab[0] == 8
    ep = build_episodes(raw, layout)
    assert len(ep) > 50


# ------------------------------------------------------------------ real files in ../shared/data
@pytest.mark.shared
def test_real_ml100k(shared_data_dir):
    d = shared_data_dir / "ml-100k"
    if not (d / "u.data").is_file():
        pytest.skip("ml-100k not available")
    raw = parse_ml100k(d)
    check_raw(raw, 5)
    f = raw.features
    assert (f.n_users, f.n_items, len(raw.ratings)) == (943, 1682, 100_000)
    assert f.user_vocab == (2, 7, 21) and f.item_multihot == (19,)
    assert f.item_vocab == (72,)  # 71 release years + 'unknown'
    assert f.user_x[0].tolist() == [0, 1, 19]  # user 1: M, 24 -> 18-24, technician
    assert f.item_x[266, 0] == 71  # item 267 has no release date
    assert raw.ratings.iloc[0].tolist() == [195, 241, 3, 881250949]
    ep = build_episodes(raw, "ml-100k")
    s = ep.summary()
    assert s["users"] == 943  # every ML-100K user has >= 20 ratings
    assert s["meta_test_users"] == 189 and s["meta_train_users"] == 754
    assert s["warm_users"] + s["cold_users"] == 943 and 0 < s["cold_users"] < 943
    assert all(v > 0 for v in s["query_pairs_by_scenario"].values())


@pytest.mark.shared
def test_real_ml1m_tables_with_synthetic_ratings(shared_data_dir, tmp_path):
    src = shared_data_dir / "ml-1m"
    if not (src / "movies_extrainfos.dat").is_file():
        pytest.skip("ml-1m not available")
    d = tmp_path / "ml-1m"
    d.mkdir()
    for name in ("users.dat", "movies_extrainfos.dat", "m_rate.txt", "m_genre.txt", "m_director.txt"):
        shutil.copyfile(src / name, d / name)
    # synthetic ratings over the real ids (users 1..6040; movie ids from the real table)
    movie_ids = np.sort(np.array([int(l.split(b"::", 1)[0]) for l in (src / "movies_extrainfos.dat")
                                 .read_bytes().splitlines() if l.strip()]))
    syn = write_raw("ml-1m", tmp_path / "syn", 6040, len(movie_ids), 6040 * 21, seed=1)
    r = pd.read_csv(syn / "ratings.dat", sep=":", header=None, usecols=[0, 2, 4, 6])
    syn_ids = np.sort(pd.read_csv(syn / "movies_extrainfos.dat", sep=":", header=None, usecols=[0])[0].to_numpy())
    r[2] = movie_ids[np.searchsorted(syn_ids, r[2])]
    (d / "ratings.dat").write_text("\n".join("::".join(map(str, row)) for row in r.to_numpy().tolist()) + "\n")

    raw = parse_ml1m(d)
    check_raw(raw, 5)
    f = raw.features
    assert (f.n_users, f.n_items) == (6040, 3881)
    assert f.user_vocab == (2, 7, 21) and f.item_vocab == (6, 81) and f.item_multihot == (25, 2186)
    genre, director = f.item_multi[:, :25], f.item_multi[:, 25:]
    assert (genre.sum(1) >= 1).all() and (director.sum(1) >= 1).all()
    genres = (src / "m_genre.txt").read_text(encoding="utf-8").split()
    assert genre[:, genres.index("nan")].sum() == 5  # the five N/A genre rows
    directors = [l.strip() for l in (src / "m_director.txt").read_text(encoding="utf-8").splitlines()]
    # Toy Story (id 1, row 0): G, 1995, Animation/Adventure/Comedy, John Lasseter
    assert f.item_x[0, 0] == ["PG-13", "UNRATED", "NC-17", "PG", "G", "R"].index("G")
    assert {genres[k] for k in np.flatnonzero(genre[0])} == {"Animation", "Adventure", "Comedy"}
    assert [directors[k] for k in np.flatnonzero(director[0])] == ["John Lasseter"]
    assert f.user_x[0].tolist() == [1, 0, 10]  # user 1: F, 1, occupation 10
    ep = build_episodes(raw, "ml-1m")
    assert set(np.unique(ep.query_scenario)) == {0, 1, 2, 3}


def test_bookcrossing_malformed_book_row_is_skipped_with_warning(tiny_raw):
    books = ('"ISBN";"Book-Title";"Book-Author";"Year-Of-Publication";"Publisher";"Image-URL-S";"Image-URL-M";"Image-URL-L"\n'
             '"034545104X";"Title";"Author A";"2002";"Pub X";"s";"m";"l"\n'
             '\n'
             '"0155061224";"Swallowed (Level 4)\\";Author B";"1999";"Pub Y";"s";"m";"l"\n'
             '"0446520802";"Fine";"Author C";"2000";"Pub Y";"s";"m";"l"\n')
    d = tiny_raw("bookcrossing", **{"BX-Books.csv": books})
    with pytest.warns(UserWarning) as rec:
        raw = parse_bookcrossing(d)
    msgs = [str(w.message) for w in rec]
    assert any(m.startswith(f"{d / 'BX-Books.csv'}: skipped 1 malformed line(s)") and "line(s) 4" in m for m in msgs)
    assert any("dropped 2 explicit ratings" in m for m in msgs)  # the two ratings of 0155061224
    assert raw.ratings.values.tolist() == [[0, 0, 10, 2]]
    assert raw.features.item_x.tolist() == [[0, 0, 0]]
