"""Book-Crossing parser (``;``-separated, ``"``-quoted, ``\\``-escaped, latin-1, header line).

Files in ``raw_dir``: ``BX-Users.csv`` (User-ID;Location;Age), ``BX-Books.csv``
(ISBN;Book-Title;Book-Author;Year-Of-Publication;Publisher;... further columns
ignored) and ``BX-Book-Ratings.csv`` (User-ID;ISBN;Book-Rating).

* Only explicit ratings 1..10 are kept (0 = implicit is dropped; anything
  else is a DataError); ``n_classes = 10``, class = rating - 1.
* **Time order.** Book-Crossing has no timestamps.  The row order of
  ``BX-Book-Ratings.csv`` stands in for time: ``timestamp`` = the 0-based data
  row number in that file (counting the dropped implicit rows too, so the
  value is stable).  Consequently ``split_time`` is the row at the 80 %
  position, a user is *warm* iff their first explicit rating appears before
  that row, and each user's support/query sets are their first ratings in
  file order.
* ISBNs are compared after stripping and upper-casing (the raw data mixes
  ``x``/``X`` check digits).  Ratings whose ISBN is not in ``BX-Books.csv`` or
  whose user is not in ``BX-Users.csv`` are dropped with a warning (the real
  dump has many such dangling ISBNs).
* ``BX-Books.csv`` only: a record with the wrong field count is skipped with a
  warning naming file and line (the public dump has a few rows whose title
  ends in ``\\"`` and swallows the author field); its ratings then dangle
  and are dropped as above.  Malformed lines in the other files are errors.
* Users and items are restricted to those with at least one kept rating;
  dense indices follow ascending User-ID / normalised ISBN.
* User features ``[age group, country]``: age bucketed into the ML-1M groups
  (<18, 18-24, 25-34, 35-44, 45-49, 50-55, 56+) plus an 8th "missing" bucket
  for ``NULL``/empty/non-numeric/non-positive ages; country = the last
  comma-separated part of Location, stripped and lower-cased (empty = its own
  category).  Item features ``[author, year, publisher]``: raw stripped
  strings; every vocabulary is built from the kept users/items (sorted).
"""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from .episodes import Features, RawData
from .errors import DataError, age_bucket, check_unique, read_quoted_csv, require_file, to_int, year_sort_key

__all__ = ["parse_bookcrossing", "BX_FILES", "BX_AGE_MISSING"]

BX_FILES = ("BX-Users.csv", "BX-Books.csv", "BX-Book-Ratings.csv")
BX_AGE_MISSING = 7  # index of the "missing age" bucket (after the 7 ML-1M groups)


def _codes(values: pd.Series, key=None) -> tuple[np.ndarray, int]:
    voc = sorted(set(values), key=key)
    return np.asarray(pd.Categorical(values, categories=voc).codes, dtype=np.int64), len(voc)


def parse_bookcrossing(raw_dir) -> RawData:
    """Parse a Book-Crossing raw directory (see the module docstring)."""
    raw_dir = Path(raw_dir)
    for f in BX_FILES:
        require_file(raw_dir / f, "Book-Crossing layout")

    rp = raw_dir / "BX-Book-Ratings.csv"
    rat, rln = read_quoted_csv(rp, ";", ["User-ID", "ISBN", "Book-Rating"])
    r_user = to_int(rp, rat["User-ID"], rln, "User-ID")
    r_val = to_int(rp, rat["Book-Rating"], rln, "Book-Rating")
    bad = (r_val < 0) | (r_val > 10)
    if bad.any():
        i = int(np.argmax(bad))
        raise DataError(rp, f"Book-Rating {int(r_val[i])} outside 0..10", int(rln[i]))
    r_isbn = rat["ISBN"].str.strip().str.upper().to_numpy(dtype=object)
    r_time = np.arange(len(rat), dtype=np.int64)
    explicit = r_val > 0
    if not explicit.any():
        raise DataError(rp, "no explicit ratings (1..10)")

    up = raw_dir / "BX-Users.csv"
    users, uln = read_quoted_csv(up, ";", ["User-ID", "Location", "Age"])
    u_id = to_int(up, users["User-ID"], uln, "User-ID")
    check_unique(up, u_id, uln, "User-ID")

    bp = raw_dir / "BX-Books.csv"
    books, bln = read_quoted_csv(bp, ";", ["ISBN", "Book-Author", "Year-Of-Publication", "Publisher"],
                                 skip_bad=True)
    check_unique(bp, books["ISBN"].to_numpy(dtype=object), bln, "ISBN")
    books = books.assign(ISBN=books["ISBN"].str.strip().str.upper()).drop_duplicates("ISBN", keep="first")

    known = explicit & pd.Series(r_isbn).isin(books["ISBN"]).to_numpy() & np.isin(r_user, u_id)
    dropped = int((explicit & ~known).sum())
    if dropped:
        warnings.warn(f"{rp}: dropped {dropped} explicit ratings whose ISBN/user is not in "
                      f"BX-Books.csv/BX-Users.csv", stacklevel=2)
    if not known.any():
        raise DataError(rp, "no explicit rating refers to a known user and book")
    r_user, r_isbn, r_val, r_time = r_user[known], r_isbn[known], r_val[known], r_time[known]

    user_ids = np.unique(r_user)
    item_ids = np.unique(r_isbn.astype(str))
    users = users.assign(_id=u_id).set_index("_id").loc[user_ids]
    books = books.set_index("ISBN").loc[item_ids]

    age = pd.to_numeric(users["Age"].str.strip(), errors="coerce").to_numpy(dtype=float)
    valid = np.isfinite(age) & (age > 0)
    age_idx = np.where(valid, age_bucket(np.where(valid, age, 0)), BX_AGE_MISSING)
    country = users["Location"].str.rsplit(",", n=1).str[-1].str.strip().str.lower()
    c_codes, n_c = _codes(country)
    a_codes, n_a = _codes(books["Book-Author"].str.strip())
    y_codes, n_y = _codes(books["Year-Of-Publication"].str.strip(), key=year_sort_key)
    p_codes, n_p = _codes(books["Publisher"].str.strip())

    feats = Features(user_vocab=(BX_AGE_MISSING + 1, n_c), item_vocab=(n_a, n_y, n_p), item_multihot=(),
                     user_x=np.stack([age_idx.astype(np.int64), c_codes], axis=1),
                     item_x=np.stack([a_codes, y_codes, p_codes], axis=1),
                     item_multi=np.zeros((len(item_ids), 0), dtype=np.uint8), n_classes=10)
    ratings = pd.DataFrame({
        "user": np.searchsorted(user_ids, r_user).astype(np.int64),
        "item": np.searchsorted(item_ids, r_isbn.astype(str)).astype(np.int64),
        "rating": r_val.astype(np.int64),
        "timestamp": r_time,
    })
    return RawData(features=feats, ratings=ratings, source=str(rp))
