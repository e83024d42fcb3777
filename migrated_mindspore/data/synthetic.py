"""Synthetic raw datasets in the three on-disk layouts, with a learnable signal.

``write_raw(layout, out_dir, n_users, n_items, n_ratings, seed)`` writes the
files the matching parser reads (ML-1M: ``users.dat``, ``ratings.dat``,
``movies_extrainfos.dat`` and the vocabularies ``m_rate.txt``,
``m_genre.txt`` (25 genres incl. ``nan``), ``m_director.txt`` (2,186 names
incl. ``nan``); ML-100K: ``u.data``, ``u.user``, ``u.item``, ``u.occupation``,
``u.genre``; Book-Crossing: the three ``BX-*.csv``) and returns ``out_dir``.
The output is a deterministic function of the arguments.

Ratings.  Every categorical feature value v gets a bias ``b_v`` and a latent
vector ``p_v`` (dim 4); a user's (item's) bias/latent is the sum over its
feature values (mean over the active entries of a multi-hot field).  Then
``rating = clip(round(mu + s * (b_user + b_item + p_user . p_item) + noise), 1, C)``
with C = 5 (``mu`` 3.6, ``s`` 1) or C = 10 for Book-Crossing (``mu`` 7, ``s`` 2),
so a model using the features beats the global mean.

Pairs and time.  Each (user, item) pair occurs at most once.  About 3 % of
the users get fewer than 20 ratings (they are filtered out by the episode
builder); the others get 20 plus a heavy-tailed share of the remaining
budget.  Items are drawn with a Zipf-like popularity (so both warm and cold
items appear).  ~88 % of the users start rating early, ~12 % only near the
end of the time span; with the 80 % time split this yields warm and cold
users, hence all four scenarios.  Rows are written grouped by user in random
order within a user (ML-1M style), except Book-Crossing, whose file order is
the time order (see bookcrossing.py), with ~20 % implicit (0) ratings mixed
in on top of the ``n_ratings`` explicit ones.

Limits: ``n_ratings <= n_users * n_items / 2``.
"""
from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import ML_AGE_GROUPS, age_bucket

__all__ = ["write_raw", "LAYOUTS", "ML1M_RATES", "ML1M_GENRES", "ML100K_OCCUPATIONS", "ML100K_GENRES"]

LAYOUTS = ("ml-1m", "ml-100k", "bookcrossing")
ML1M_RATES = ("PG-13", "UNRATED", "NC-17", "PG", "G", "R")
ML1M_GENRES = ("Animation", "Family", "Romance", "nan", "Documentary", "Action", "Music", "Horror", "Comedy",
               "Adventure", "History", "War", "Short", "Film-Noir", "Adult", "Crime", "Drama", "Thriller",
               "Mystery", "Sport", "Musical", "Sci-Fi", "Biography", "Fantasy", "Western")
ML1M_N_DIRECTORS = 2186
ML100K_OCCUPATIONS = ("administrator", "artist", "doctor", "educator", "engineer", "entertainment", "executive",
                      "healthcare", "homemaker", "lawyer", "librarian", "marketing", "none", "other",
                      "programmer", "retired", "salesman", "scientist", "student", "technician", "writer")
ML100K_GENRES = ("unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary",
                 "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi",
                 "Thriller", "War", "Western")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_T0 = 956_703_932          # 2000-04-25, start of ML-1M
_SPAN = 3 * 365 * 86_400   # three years
_K = 4                     # latent dimension of the signal


# ------------------------------------------------------------------ signal
class _Signal:
    def __init__(self, rng: np.random.Generator, sd_b=0.3, sd_p=0.3):
        self.rng, self.sd_b, self.sd_p = rng, sd_b, sd_p

    def effects(self, n: int, fields, scales=None) -> tuple[np.ndarray, np.ndarray]:
        """fields: list of int codes (n,) or 0/1 matrices (n, w) -> (bias (n,), latent (n, K)).

        ``scales`` optionally multiplies each field's effect size."""
        b, p = np.zeros(n), np.zeros((n, _K))
        for f, sc in zip(fields, scales or [1.0] * len(fields)):
            card = int(f.max()) + 1 if f.ndim == 1 else f.shape[1]
            B = self.rng.normal(0, self.sd_b * sc, card)
            P = self.rng.normal(0, self.sd_p * sc, (card, _K))
            if f.ndim == 1:
                b += B[f]
                p += P[f]
            else:
                w = f / np.maximum(f.sum(1, keepdims=True), 1)
                b += w @ B
                p += w @ P
        return b, p


def _ratings(rng, sig_u, sig_i, u, i, mu, scale, n_classes, noise=0.6):
    bu, pu = sig_u
    bi, pi = sig_i
    s = mu + scale * (bu[u] + bi[i] + np.einsum("nk,nk->n", pu[u], pi[i]) + rng.normal(0, noise, len(u)))
    return np.clip(np.rint(s), 1, n_classes).astype(np.int64)


# ------------------------------------------------------------------ pairs & time
def _pairs(rng, n_users, n_items, n_ratings, min_per_user=20):
    """Unique (user, item) pairs, exactly n_ratings of them; user-major order."""
    if n_users < 1 or n_items < 1 or n_ratings < 1:
        raise ValueError("n_users, n_items and n_ratings must be positive")
    if n_ratings > n_users * n_items // 2:
        raise ValueError(f"n_ratings={n_ratings} exceeds n_users*n_items/2={n_users * n_items // 2}")
    cap = max(n_items // 2, 1)
    counts = np.zeros(n_users, np.int64)
    few = rng.random(n_users) < 0.03
    base = np.where(few, rng.integers(1, min_per_user, n_users), min(min_per_user, cap))
    if base.sum() > n_ratings:  # small budget: scale the floor down
        base = np.maximum((base * (n_ratings / base.sum())).astype(np.int64), 0)
    counts += base
    w = rng.lognormal(0.0, 1.0, n_users)
    w[few] = 0.0
    if w.sum() == 0:
        w[:] = 1.0
    rest = n_ratings - counts.sum()
    while rest > 0:
        room = cap - counts
        ww = np.where(room > 0, w, 0.0)
        if ww.sum() == 0:
            ww = (room > 0).astype(float)
        add = rng.multinomial(rest, ww / ww.sum())
        counts += np.minimum(add, room)
        rest = n_ratings - counts.sum()
    pop = (1.0 + rng.permutation(n_items)) ** -1.1
    pop /= pop.sum()
    keys = np.empty(0, np.int64)
    need = counts.copy()
    for rnd in range(200):
        if need.sum() == 0:
            break
        uu = np.repeat(np.arange(n_users), need)
        # mostly popularity draws; after 8 rounds the (small) remainder is drawn uniformly so
        # that heavy users fill up in a few rounds
        flat = rng.random(len(uu)) < (0.03 if rnd < 8 else 1.0)
        ii = np.where(flat, rng.integers(0, n_items, len(uu)), rng.choice(n_items, len(uu), p=pop))
        keys = np.unique(np.concatenate([keys, uu * n_items + ii]))
        have = np.bincount(keys // n_items, minlength=n_users)
        if (have > counts).any():  # trim overshoot (duplicates resolved)
            ku = keys // n_items
            first = np.concatenate(([0], np.cumsum(have)[:-1]))
            rank = np.arange(len(keys)) - first[ku]
            keys = keys[rank < counts[ku]]
            have = np.minimum(have, counts)
        need = counts - have
    else:  # pragma: no cover
        raise RuntimeError("could not draw unique pairs")
    return (keys // n_items).astype(np.int64), (keys % n_items).astype(np.int64)


def _times(rng, u, n_users):
    """Per-rating unix timestamps: early starters (warm) and late starters (cold)."""
    late = rng.random(n_users) < 0.12
    start = np.where(late, rng.uniform(0.86, 0.97, n_users), rng.uniform(0.0, 0.7, n_users)) * _SPAN
    scale = np.where(late, 0.01, rng.uniform(0.005, 0.08, n_users)) * _SPAN
    t = start[u] + rng.exponential(1.0, len(u)) * scale[u]
    return (_T0 + np.minimum(t, _SPAN)).astype(np.int64)


def _shuffle_within_user(rng, u):
    return np.lexsort((rng.random(len(u)), u))


# ------------------------------------------------------------------ writers
def _write_text(path: Path, text: str, encoding="utf-8"):
    path.write_bytes(text.encode(encoding))


def _join(df: pd.DataFrame, sep: str) -> str:
    """Join string-able columns with ``sep`` (no quoting), one line per row."""
    buf = io.StringIO()
    df.to_csv(buf, sep="\x1f", header=False, index=False, quoting=csv.QUOTE_NONE, lineterminator="\n")
    return buf.getvalue().replace("\x1f", sep)


def _write_ml1m(rng, out, n_users, n_items, n_ratings):
    sig = _Signal(rng)
    gender = rng.integers(0, 2, n_users)
    age = rng.choice(7, n_users, p=[0.04, 0.18, 0.35, 0.2, 0.09, 0.08, 0.06])
    occ = rng.integers(0, 21, n_users)
    users = pd.DataFrame({"id": np.arange(1, n_users + 1), "g": np.array(["M", "F"])[gender],
                          "a": np.array(ML_AGE_GROUPS)[age], "o": occ,
                          "z": rng.integers(10000, 99999, n_users)})
    _write_text(out / "users.dat", _join(users, "::"))

    directors = ["nan"] + [f"Director {k:04d}" for k in range(1, ML1M_N_DIRECTORS)]
    directors[7] = "Doris Dörrie"  # non-ASCII, UTF-8 like the real vocabulary
    genres = [g for g in ML1M_GENRES if g != "nan"]
    item_ids = np.sort(rng.choice(np.arange(1, 2 * n_items + 1), n_items, replace=False))
    rate = rng.choice(6, n_items, p=[0.15, 0.2, 0.01, 0.16, 0.05, 0.43])
    year = 2000 - np.minimum(rng.geometric(0.07, n_items) - 1, 81)
    ng = rng.choice([1, 2, 3], n_items, p=[0.4, 0.4, 0.2])
    gm = np.zeros((n_items, len(genres)), np.uint8)
    for k in range(3):
        rows = np.flatnonzero(ng > k)
        gm[rows, rng.integers(0, len(genres), len(rows))] = 1
    gsel = [", ".join(np.array(genres)[r.astype(bool)]) for r in gm]
    d1 = rng.integers(1, ML1M_N_DIRECTORS, n_items)
    d2 = rng.integers(1, ML1M_N_DIRECTORS, n_items)
    two = rng.random(n_items) < 0.1
    note = rng.choice(["", " (co-director)", "(co-director)"], n_items, p=[0.6, 0.2, 0.2])
    dnames = np.array(directors, dtype=object)
    dirs = np.where(two, dnames[d1] + ", " + dnames[d2] + note, dnames[d1])
    na_g = rng.random(n_items) < 0.005
    na_d = rng.random(n_items) < 0.005
    gsel = np.where(na_g, "N/A", np.array(gsel, dtype=object))
    dirs = np.where(na_d, "N/A", dirs)
    movies = pd.DataFrame({
        "id": item_ids, "title": [f"Movie {k}" for k in item_ids], "year": year,
        "rate": np.array(ML1M_RATES)[rate], "released": [f"01 Jan {y}" for y in year], "genre": gsel,
        "director": dirs, "writer": "N/A", "actors": "N/A", "plot": 'A "synthetic" plot: nothing happens.',
        "poster": "N/A"})
    _write_text(out / "movies_extrainfos.dat", _join(movies, "::").replace("\n", "\r\n"))
    _write_text(out / "m_rate.txt", "\r\n".join(ML1M_RATES) + "\r\n")
    _write_text(out / "m_genre.txt", "\r\n".join(ML1M_GENRES) + "\r\n")
    _write_text(out / "m_director.txt", "\r\n".join(directors) + "\r\n")

    gm_na = np.where(na_g[:, None], 0, gm)
    s_u = sig.effects(n_users, [gender, age, occ])
    s_i = sig.effects(n_items, [rate, year - year.min(), gm_na, np.where(na_d, 0, d1)])
    u, i = _pairs(rng, n_users, n_items, n_ratings)
    y = _ratings(rng, s_u, s_i, u, i, 3.6, 1.0, 5)
    t = _times(rng, u, n_users)
    o = _shuffle_within_user(rng, u)
    ratings = pd.DataFrame({"u": u[o] + 1, "i": item_ids[i[o]], "r": y[o], "t": t[o]})
    _write_text(out / "ratings.dat", _join(ratings, "::"))


def _write_ml100k(rng, out, n_users, n_items, n_ratings):
    sig = _Signal(rng)
    gender = rng.integers(0, 2, n_users)
    age = rng.integers(7, 74, n_users)
    occ = rng.integers(0, len(ML100K_OCCUPATIONS), n_users)
    users = pd.DataFrame({"id": np.arange(1, n_users + 1), "age": age, "g": np.array(["M", "F"])[gender],
                          "o": np.array(ML100K_OCCUPATIONS)[occ], "z": rng.integers(10000, 99999, n_users)})
    _write_text(out / "u.user", _join(users, "|"))
    _write_text(out / "u.occupation", "\n".join(ML100K_OCCUPATIONS) + "\n")
    _write_text(out / "u.genre", "".join(f"{g}|{k}\n" for k, g in enumerate(ML100K_GENRES)) + "\n")

    year = 1998 - np.minimum(rng.geometric(0.08, n_items) - 1, 76)
    day, mon = rng.integers(1, 29, n_items), rng.integers(0, 12, n_items)
    missing = rng.random(n_items) < 0.01
    date = np.where(missing, "", [f"{d:02d}-{_MONTHS[m]}-{y}" for d, m, y in zip(day, mon, year)])
    flags = (rng.random((n_items, len(ML100K_GENRES))) < 0.12).astype(np.uint8)
    flags[flags.sum(1) == 0, 0] = 1
    items = pd.DataFrame({"id": np.arange(1, n_items + 1), "title": [f"Movie {k} (1990)" for k in range(n_items)],
                          "date": date, "video": "", "url": "http://example.invalid/movie"})
    items = pd.concat([items, pd.DataFrame(flags, columns=[f"g{k}" for k in range(len(ML100K_GENRES))])], axis=1)
    _write_text(out / "u.item", _join(items, "|"), encoding="latin-1")

    s_u = sig.effects(n_users, [gender, age_bucket(age), occ])
    s_i = sig.effects(n_items, [np.where(missing, 0, year - year.min() + 1), flags])
    u, i = _pairs(rng, n_users, n_items, n_ratings)
    y = _ratings(rng, s_u, s_i, u, i, 3.6, 1.0, 5)
    t = _times(rng, u, n_users) - 76_000_000  # ML-100K era (1997-98)
    o = rng.permutation(len(u))  # u.data is unordered
    _write_text(out / "u.data", _join(pd.DataFrame({"u": u[o] + 1, "i": i[o] + 1, "r": y[o], "t": t[o]}), "\t"))


def _bx_csv(df: pd.DataFrame) -> str:
    buf = io.StringIO()
    df.to_csv(buf, sep=";", index=False, quoting=csv.QUOTE_ALL, escapechar="\\", doublequote=False,
              lineterminator="\n")
    return buf.getvalue()


def _write_bookcrossing(rng, out, n_users, n_items, n_ratings):
    sig = _Signal(rng)
    countries = np.array(["usa", "canada", "germany", "spain", "united kingdom", "australia", "france",
                          "italy", "portugal", "netherlands", "switzerland", "new zealand", "austria", ""])
    cty = rng.choice(len(countries), n_users, p=np.r_[np.full(13, 0.99 / 13), 0.01])
    age = rng.integers(10, 80, n_users)
    null_age = rng.random(n_users) < 0.3
    user_ids = np.sort(rng.choice(np.arange(1, 3 * n_users + 1), n_users, replace=False))
    loc = np.char.add(np.char.add([f"city{k % 97}, state{k % 13}, " for k in range(n_users)], countries[cty]), "")
    users = pd.DataFrame({"User-ID": user_ids, "Location": loc,
                          "Age": np.where(null_age, "NULL", age.astype(str))})
    text = _bx_csv(users).replace('"NULL"', "NULL")
    _write_text(out / "BX-Users.csv", text, encoding="latin-1")

    n_auth, n_pub = max(n_items // 3, 1), max(n_items // 10, 1)
    auth = rng.integers(0, n_auth, n_items)
    pub = rng.integers(0, n_pub, n_items)
    year = 2004 - np.minimum(rng.geometric(0.1, n_items) - 1, 54)
    year = np.where(rng.random(n_items) < 0.01, 0, year)
    isbn = np.array([f"{k:09d}{'X' if k % 11 == 0 else k % 10}" for k in
                     rng.choice(10 ** 9 - 1, n_items, replace=False) + 1])
    titles = np.array([f"Book {k}" for k in range(n_items)], dtype=object)
    titles[:: 17] = titles[:: 17] + "; a novel"
    titles[5:: 31] = titles[5:: 31] + ' "quoted"'
    books = pd.DataFrame({"ISBN": isbn, "Book-Title": titles, "Book-Author": [f"Author {a}" for a in auth],
                          "Year-Of-Publication": year, "Publisher": [f"Publisher {p}" for p in pub],
                          "Image-URL-S": "http://example.invalid/s.jpg", "Image-URL-M": "http://example.invalid/m.jpg",
                          "Image-URL-L": "http://example.invalid/l.jpg"})
    _write_text(out / "BX-Books.csv", _bx_csv(books), encoding="latin-1")

    null_bucket = np.where(null_age, 7, age_bucket(age))
    # low-cardinality fields carry most of the signal (authors/publishers are sparse)
    s_u = sig.effects(n_users, [null_bucket, cty], [1.4, 1.4])
    s_i = sig.effects(n_items, [auth, np.where(year == 0, 0, year - 1949), pub], [0.8, 1.4, 1.0])
    u, i = _pairs(rng, n_users, n_items, n_ratings)
    y = _ratings(rng, s_u, s_i, u, i, 7.0, 2.0, 10, noise=0.5)
    t = _times(rng, u, n_users)
    n_imp = n_ratings // 4
    iu = rng.integers(0, n_users, n_imp)
    ii = rng.integers(0, n_items, n_imp)
    it = _T0 + rng.integers(0, _SPAN, n_imp)
    U, I, Y, T = (np.concatenate(a) for a in ((u, iu), (i, ii), (y, np.zeros(n_imp, np.int64)), (t, it)))
    o = np.argsort(T, kind="stable")  # file order = time order
    r_isbn = isbn[I[o]].astype(object)
    lower = (rng.random(len(o)) < 0.05)
    r_isbn[lower] = np.char.lower(r_isbn[lower].astype(str))
    ratings = pd.DataFrame({"User-ID": user_ids[U[o]], "ISBN": r_isbn, "Book-Rating": Y[o]})
    _write_text(out / "BX-Book-Ratings.csv", _bx_csv(ratings), encoding="latin-1")


def write_raw(layout: str, out_dir, n_users: int, n_items: int, n_ratings: int, seed: int = 0) -> Path:
    """Write a synthetic raw directory in ``layout``; returns ``out_dir``."""
    writers = {"ml-1m": _write_ml1m, "ml-100k": _write_ml100k, "bookcrossing": _write_bookcrossing}
    if layout not in writers:
        raise ValueError(f"unknown layout {layout!r}; expected one of {LAYOUTS}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    writers[layout](np.random.default_rng(seed), out, int(n_users), int(n_items), int(n_ratings))
    return out
