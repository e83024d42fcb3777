"""MovieLens-1M (IMDb-enriched, as used by MAMO) and MovieLens-100K parsers.

ML-1M (``::``-separated, no quoting) -- files in ``raw_dir``:
``users.dat`` (UserID::Gender::Age::Occupation::Zip), ``ratings.dat``
(UserID::MovieID::Rating::Timestamp), ``movies_extrainfos.dat`` (11 fields:
MovieID::Title::Year::Rate::Released::Genre::Director::Writer::Actors::Plot::Poster)
and the vocabularies ``m_rate.txt``, ``m_genre.txt``, ``m_director.txt`` (one
entry per line).  Features: user ``[gender(M,F), age(1,18,25,35,45,50,56),
occupation(0..20)]``; item categorical ``[rate, year]`` (years = the distinct
``Year`` values of the movie table, ascending) and multi-hot ``[genre,
director]`` in vocabulary-file order.  Genre/Director are comma-separated
lists; a parenthesised note on a director (``"Joe Bloggs (co-director)"``,
also without the space) is removed; a missing value (``N/A``, empty, ``nan``)
maps to the ``nan`` vocabulary entry (an error if the vocabulary has none).

Encoding: mamo.md says latin-1, but the shared ``movies_extrainfos.dat`` and
``m_director.txt`` are UTF-8 (``Doris Dörrie``).  Each file is therefore read
as UTF-8 when it is valid UTF-8 and as latin-1 otherwise, so names match the
vocabulary either way.

ML-100K: ``u.data`` (tab), ``u.user`` / ``u.item`` / ``u.occupation`` (``|``).
Features: user ``[gender, age group (ML-1M groups), occupation (by name, in
u.occupation order)]``; item categorical ``[year]`` (year of the release date;
the vocabulary is the distinct years ascending plus a final ``unknown`` entry
used for a missing date) and multi-hot ``[19 genre flags]``.

Dense indices: users/items are numbered by ascending id over the whole user /
movie table (also those without ratings).  Ratings keep file order;
``rating`` is 1..5 (5 classes), ``timestamp`` is unix seconds.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from .episodes import Features, RawData
from .errors import (ML_AGE_GROUPS, DataError, age_bucket, check_unique, encode, lookup, read_table,
                     read_vocab, require_file, year_sort_key)

__all__ = ["parse_ml1m", "parse_ml100k", "ML1M_FILES", "ML100K_FILES"]

ML1M_FILES = ("users.dat", "ratings.dat", "movies_extrainfos.dat", "m_rate.txt", "m_genre.txt", "m_director.txt")
ML100K_FILES = ("u.data", "u.user", "u.item", "u.occupation")
ML_GENDERS = ("M", "F")
ML1M_OCCUPATIONS = tuple(str(i) for i in range(21))
ML100K_GENRE_COUNT = 19
_MISSING = {"", "n/a", "nan", "none", "null"}
_NOTE = re.compile(r"\([^()]*\)")


def _sorted_ids(path, ids, line_no, what):
    check_unique(path, ids, line_no, what)
    order = np.argsort(ids, kind="stable")
    return ids[order], order


def _ratings(path: Path, sep: str, user_ids, item_ids, users_file, items_file, n_classes=5) -> pd.DataFrame:
    df, ln = read_table(path, sep, 4, ["user", "item", "rating", "timestamp"],
                        int_cols=["user", "item", "rating", "timestamp"])
    rating = df["rating"].to_numpy()
    bad = (rating < 1) | (rating > n_classes)
    if bad.any():
        i = int(np.argmax(bad))
        raise DataError(path, f"rating {int(rating[i])} outside 1..{n_classes}", int(ln[i]))
    return pd.DataFrame({
        "user": lookup(path, df["user"].to_numpy(), user_ids, ln, "user id", users_file),
        "item": lookup(path, df["item"].to_numpy(), item_ids, ln, "item id", items_file),
        "rating": rating.astype(np.int64),
        "timestamp": df["timestamp"].to_numpy(np.int64),
    })


def _multi_hot(path, lists: pd.Series, vocab, line_no, what, clean=None) -> np.ndarray:
    """Comma-separated lists -> (n, len(vocab)) uint8 multi-hot."""
    s = lists.str.split(r"\s*,\s*", regex=True).explode()
    rows = s.index.to_numpy()
    tok = s.astype(str).str.strip()
    if clean is not None:
        tok = clean(tok)
    tok = tok.where(~tok.str.lower().isin(_MISSING), "nan")
    codes = encode(path, tok.to_numpy(dtype=object), vocab, line_no[rows], what)
    out = np.zeros((len(lists), len(vocab)), dtype=np.uint8)
    out[rows, codes] = 1
    return out


def parse_ml1m(raw_dir) -> RawData:
    """Parse an ML-1M raw directory (see the module docstring)."""
    raw_dir = Path(raw_dir)
    for f in ML1M_FILES:
        require_file(raw_dir / f, "ML-1M layout")
    rate_voc = read_vocab(raw_dir / "m_rate.txt", "rate")
    genre_voc = read_vocab(raw_dir / "m_genre.txt", "genre")
    director_voc = read_vocab(raw_dir / "m_director.txt", "director")

    up = raw_dir / "users.dat"
    users, uln = read_table(up, "::", 5, ["id", "gender", "age", "occupation"], int_cols=["id"])
    user_ids, uo = _sorted_ids(up, users["id"].to_numpy(), uln, "user id")
    user_x = np.stack([
        encode(up, users["gender"].str.strip().to_numpy(), ML_GENDERS, uln, "gender"),
        encode(up, users["age"].str.strip().to_numpy(), [str(a) for a in ML_AGE_GROUPS], uln, "age"),
        encode(up, users["occupation"].str.strip().to_numpy(), ML1M_OCCUPATIONS, uln, "occupation"),
    ], axis=1)[uo]

    mp = raw_dir / "movies_extrainfos.dat"
    movies, mln = read_table(mp, "::", 11, ["id", "title", "year", "rate", "released", "genre", "director"],
                             int_cols=["id"])
    item_ids, mo = _sorted_ids(mp, movies["id"].to_numpy(), mln, "movie id")
    year = movies["year"].str.strip()
    year_voc = sorted(set(year), key=year_sort_key)
    rate = movies["rate"].str.strip()
    rate = rate.where(~rate.str.lower().isin(_MISSING), "nan")
    item_x = np.stack([
        encode(mp, rate.to_numpy(), rate_voc, mln, "rate"),
        encode(mp, year.to_numpy(), year_voc, mln, "year"),
    ], axis=1)[mo]
    genre = _multi_hot(mp, movies["genre"], genre_voc, mln, "genre")
    director = _multi_hot(mp, movies["director"], director_voc, mln, "director",
                          clean=lambda s: s.str.replace(_NOTE, "", regex=True).str.strip())
    item_multi = np.concatenate([genre, director], axis=1)[mo]

    feats = Features(user_vocab=(len(ML_GENDERS), len(ML_AGE_GROUPS), len(ML1M_OCCUPATIONS)),
                     item_vocab=(len(rate_voc), len(year_voc)),
                     item_multihot=(len(genre_voc), len(director_voc)),
                     user_x=np.ascontiguousarray(user_x, dtype=np.int64),
                     item_x=np.ascontiguousarray(item_x, dtype=np.int64),
                     item_multi=np.ascontiguousarray(item_multi), n_classes=5)
    rp = raw_dir / "ratings.dat"
    ratings = _ratings(rp, "::", user_ids, item_ids, "users.dat", "movies_extrainfos.dat")
    return RawData(features=feats, ratings=ratings, source=str(rp))


def parse_ml100k(raw_dir) -> RawData:
    """Parse an ML-100K raw directory (see the module docstring)."""
    raw_dir = Path(raw_dir)
    for f in ML100K_FILES:
        require_file(raw_dir / f, "ML-100K layout")
    occ_voc = read_vocab(raw_dir / "u.occupation", "occupation")

    up = raw_dir / "u.user"
    users, uln = read_table(up, "|", 5, ["id", "age", "gender", "occupation"], int_cols=["id", "age"])
    user_ids, uo = _sorted_ids(up, users["id"].to_numpy(), uln, "user id")
    age = users["age"].to_numpy()
    if (age < 0).any():
        i = int(np.argmax(age < 0))
        raise DataError(up, f"negative age {int(age[i])}", int(uln[i]))
    user_x = np.stack([
        encode(up, users["gender"].str.strip().to_numpy(), ML_GENDERS, uln, "gender"),
        age_bucket(age),
        encode(up, users["occupation"].str.strip().to_numpy(), occ_voc, uln, "occupation"),
    ], axis=1)[uo]

    ip = raw_dir / "u.item"
    gcols = [f"g{k}" for k in range(ML100K_GENRE_COUNT)]
    items, iln = read_table(ip, "|", 5 + ML100K_GENRE_COUNT, ["id", "title", "release", "video", "url"] + gcols,
                            int_cols=["id"] + gcols)
    item_ids, io_ = _sorted_ids(ip, items["id"].to_numpy(), iln, "item id")
    rel = items["release"].str.strip()
    yr = rel.str.extract(r"^(?:\d{1,2}-[A-Za-z]{3}-)?(\d{4})$", expand=False)
    bad = yr.isna().to_numpy() & (rel != "").to_numpy()
    if bad.any():
        i = int(np.argmax(bad))
        raise DataError(ip, f"bad release date {rel.iat[i]!r} (expected e.g. 01-Jan-1995)", int(iln[i]))
    yr = yr.fillna("unknown")
    year_voc = sorted(set(yr) - {"unknown"}, key=year_sort_key) + ["unknown"]
    flags = items[gcols].to_numpy()
    badf = (flags != 0) & (flags != 1)
    if badf.any():
        i, j = np.argwhere(badf)[0]
        raise DataError(ip, f"genre flag {j + 1} is {int(flags[i, j])}, expected 0 or 1", int(iln[i]))
    feats = Features(user_vocab=(len(ML_GENDERS), len(ML_AGE_GROUPS), len(occ_voc)),
                     item_vocab=(len(year_voc),), item_multihot=(ML100K_GENRE_COUNT,),
                     user_x=np.ascontiguousarray(user_x, dtype=np.int64),
                     item_x=encode(ip, yr.to_numpy(), year_voc, iln, "year")[io_][:, None].copy(),
                     item_multi=np.ascontiguousarray(flags[io_], dtype=np.uint8), n_classes=5)
    rp = raw_dir / "u.data"
    ratings = _ratings(rp, "\t", user_ids, item_ids, "u.user", "u.item")
    return RawData(features=feats, ratings=ratings, source=str(rp))
