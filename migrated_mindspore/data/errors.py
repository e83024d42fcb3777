"""Input errors and the validated low-level readers shared by the parsers.

Every problem with the raw input is reported as :class:`DataError` (a
``ValueError``) whose message starts with ``"<path>:<line>: "`` -- or
``"<path>: "`` when no single line is to blame -- so that a user can jump
straight to the offending place.  The readers below never let a raw pandas
traceback escape: field counts, separators, integers and categories are
checked up front (vectorised, with numpy) and converted into such errors.

Pure numpy/pandas/stdlib: this package must not import torch.
"""
from __future__ import annotations

import csv
import io
import os
import re
import warnings
from array import array
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

__all__ = ["DataError"]


class DataError(ValueError):
    """Bad raw input.  ``str(e)`` is ``"<path>:<line>: <message>"``.

    ``DataError(path, message, line=None)``: ``line`` is 1-based and ``None``
    when not applicable (then the text is ``"<path>: <message>"``); ``path``
    is stored as a string (the offending file or, for whole-dataset problems,
    the file/directory the data came from).  The one-argument form
    ``DataError(text)`` is accepted for callers whose text already names the
    place (CLIs); then ``path`` and ``line`` are ``None`` and ``str(e) == text``.
    """

    def __init__(self, path, message: str | None = None, line: int | None = None):
        if message is None:
            self.path, self.line, self.message = None, None, str(path)
            super().__init__(self.message)
            return
        self.path = str(path)
        self.line = None if line is None else int(line)
        self.message = message
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        super().__init__(f"{where}: {message}")

    def __reduce__(self):  # keep picklable (multiprocessing, pytest-xdist)
        if self.path is None:
            return (type(self), (self.message,))
        return (type(self), (self.path, self.message, self.line))


# --------------------------------------------------------------------------
# helpers used by the parsers (not part of the public API)
# --------------------------------------------------------------------------

_SEP_NAMES = {"::": "'::'", "\t": "tab", "|": "'|'", ";": "';'", ",": "','"}
_CANDIDATE_SEPS = ("::", "\t", "|", ";", ",")
_UNIT_SEP = b"\x1f"


def sep_name(sep: str) -> str:
    return _SEP_NAMES.get(sep, repr(sep))


def require_file(path: Path, what: str = "") -> Path:
    path = Path(path)
    if not path.is_file():
        extra = f" ({what})" if what else ""
        if path.exists():
            raise DataError(path, f"not a regular file{extra}")
        raise DataError(path, f"required file not found{extra}")
    return path


def read_bytes(path: Path) -> bytes:
    require_file(path)
    try:
        data = path.read_bytes()
    except OSError as e:  # permission problems etc.
        raise DataError(path, f"cannot read file: {e.strerror or e}") from None
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    return data


def pick_encoding(data: bytes, encoding: str) -> str:
    """``"auto"``: UTF-8 when the bytes are valid UTF-8, else latin-1."""
    if encoding != "auto":
        return encoding
    try:
        data.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        return "latin-1"


def _line_bounds(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start/end offsets of every line ('\\n' excluded) of a byte array."""
    ends = np.flatnonzero(arr == 10)
    if len(arr) and (len(ends) == 0 or ends[-1] != len(arr) - 1):
        ends = np.append(ends, len(arr))
    starts = np.empty_like(ends)
    if len(ends):
        starts[0] = 0
        starts[1:] = ends[:-1] + 1
    return starts, ends


def _other_seps(line: bytes, sep: str) -> list[str]:
    return [s for s in _CANDIDATE_SEPS if s != sep and s not in sep and s.encode() in line]


def _bad_fields_message(line: bytes, sep: str, expected: str, found: int) -> str:
    others = _other_seps(line, sep)
    if found == 1 and others:
        return (f"wrong separator: expected fields separated by {sep_name(sep)}, "
                f"but the line uses {', '.join(sep_name(s) for s in others)}")
    return f"malformed line: expected {expected} fields separated by {sep_name(sep)}, found {found}"


def read_table(path: Path, sep: str, ncols: int | tuple[int, int], names: Sequence[str],
               *, int_cols: Iterable[str] = (), encoding: str = "auto"
               ) -> tuple[pd.DataFrame, np.ndarray]:
    """Read an unquoted, header-less, separator-delimited text table.

    ``ncols`` is the exact field count (or an inclusive ``(min, max)``); only
    the first ``len(names)`` fields are returned, as strings, except
    ``int_cols`` which come back as int64.  Blank lines are skipped.  Returns
    the frame and the 1-based file line number of each row.  Raises
    :class:`DataError` for a missing file, a wrong separator, a wrong field
    count, a non-integer value in an int column, or an empty table.
    """
    path = Path(path)
    data = read_bytes(path)
    lo, hi = (ncols, ncols) if isinstance(ncols, int) else ncols
    expected = str(lo) if lo == hi else f"{lo}..{hi}"
    sepb = sep.encode()
    if len(sepb) > 1:
        if _UNIT_SEP in data:
            line = data[: data.index(_UNIT_SEP)].count(b"\n") + 1
            raise DataError(path, "unexpected control character \\x1f", line)
        data = data.replace(sepb, _UNIT_SEP)
        sepb = _UNIT_SEP
    arr = np.frombuffer(data, dtype=np.uint8)
    starts, ends = _line_bounds(arr)
    lengths = ends - starts
    nsep = np.bincount(np.searchsorted(ends, np.flatnonzero(arr == sepb[0])),
                       minlength=len(ends))[: len(ends)]
    nonblank = lengths > 0
    nfields = nsep + 1
    bad = nonblank & ((nfields < lo) | (nfields > hi))
    if bad.any():
        i = int(np.argmax(bad))
        raw_line = data[starts[i]:ends[i]].replace(_UNIT_SEP, sep.encode())
        raise DataError(path, _bad_fields_message(raw_line, sep, expected, int(nfields[i])), i + 1)
    line_no = np.flatnonzero(nonblank) + 1
    if len(line_no) == 0:
        raise DataError(path, "file is empty (no data lines)")
    enc = pick_encoding(data, encoding)
    int_cols = list(int_cols)
    usecols = list(range(len(names)))
    dtype = {n: str for n in names if n not in int_cols}
    kw = dict(sep=sepb.decode("latin-1"), header=None, names=list(names) + [f"_x{k}" for k in range(hi - len(names))],
              usecols=usecols, quoting=csv.QUOTE_NONE, na_filter=False, encoding=enc,
              engine="c", skip_blank_lines=True)
    try:
        df = pd.read_csv(io.BytesIO(data), dtype=dtype, **kw)
    except (ValueError, UnicodeDecodeError) as e:  # pragma: no cover - guarded by the checks above
        raise DataError(path, f"cannot parse table: {e}") from None
    if len(df) != len(line_no):  # pragma: no cover - defensive
        raise DataError(path, f"internal: parsed {len(df)} rows for {len(line_no)} lines")
    for c in int_cols:
        if df[c].dtype.kind not in "iu":
            vals = pd.read_csv(io.BytesIO(data), dtype=str, **kw)[c]
            ok = vals.str.fullmatch(r"\s*[+-]?\d{1,18}\s*").to_numpy(dtype=bool)  # 18 digits: fits int64
            if ok.all():  # pragma: no cover - pandas disagreed with the regex
                raise DataError(path, f"{c}: not an integer column")
            i = int(np.argmax(~ok))
            raise DataError(path, f"{c}: expected an integer, found {vals.iat[i]!r}", int(line_no[i]))
        df[c] = df[c].astype(np.int64)
    return df, line_no


def read_quoted_csv(path: Path, sep: str, columns: Sequence[str], *, encoding: str = "latin-1",
                    skip_bad: bool = False) -> tuple[pd.DataFrame, np.ndarray]:
    """Read a quoted CSV with a header line (Book-Crossing dialect).

    Checks the separator (on the header), that the header holds ``columns``,
    and that every record has as many fields as the header (quote-aware, with
    exact line numbers).  Returns the ``columns`` as strings and the 1-based
    line number of each record (the line on which it ends).  With
    ``skip_bad`` a record with the wrong field count is skipped with a
    warning naming the file and line(s) instead of raising.
    """
    path = Path(path)
    data = read_bytes(path)
    text = data.decode(encoding)
    first = text.split("\n", 1)[0]
    if not first.strip():
        raise DataError(path, "file is empty (no header line)", 1 if text else None)
    if sep not in first:
        others = _other_seps(first.encode(encoding, "replace"), sep)
        if others:
            raise DataError(path, f"wrong separator: expected fields separated by {sep_name(sep)}, "
                                  f"but the header uses {', '.join(sep_name(s) for s in others)}", 1)
    dialect = dict(delimiter=sep, quotechar='"', escapechar="\\", doublequote=True)
    reader = csv.reader(io.StringIO(text, newline=""), **dialect)
    try:
        header = [h.strip() for h in next(reader)]
    except (StopIteration, csv.Error) as e:
        raise DataError(path, f"cannot read header: {e}", 1) from None
    missing = [c for c in columns if c not in header]
    if missing:
        raise DataError(path, f"header lacks column(s) {', '.join(missing)}; found {header}", 1)
    n = len(header)
    lines = array("q")
    skipped: list[int] = []
    single_line = True
    try:
        prev = reader.line_num
        for row in reader:
            single_line &= reader.line_num == prev + 1
            prev = reader.line_num
            if not row:  # blank line
                continue
            if len(row) != n:
                if skip_bad:
                    skipped.append(reader.line_num)
                    continue
                raise DataError(path, _bad_fields_message(sep.join(row).encode(encoding, "replace"), sep,
                                                          str(n), len(row)), reader.line_num)
            lines.append(reader.line_num)
    except csv.Error as e:
        raise DataError(path, f"malformed line: {e}", reader.line_num) from None
    if skipped:
        if not single_line:
            raise DataError(path, f"malformed line: expected {n} fields", skipped[0])
        shown = ", ".join(map(str, skipped[:10])) + (", ..." if len(skipped) > 10 else "")
        warnings.warn(f"{path}: skipped {len(skipped)} malformed line(s) (expected {n} fields): line(s) {shown}",
                      stacklevel=3)
    if not len(lines):
        raise DataError(path, "file has no data lines")
    try:
        df = pd.read_csv(io.StringIO(text), sep=sep, quotechar='"', escapechar="\\", doublequote=True,
                         header=0, dtype=str, keep_default_na=False, na_filter=False,
                         skiprows=[k - 1 for k in skipped] or None,
                         usecols=list(columns), engine="c", skip_blank_lines=True)
    except (ValueError, pd.errors.ParserError) as e:  # pragma: no cover - csv pass agrees
        raise DataError(path, f"cannot parse table: {e}") from None
    if len(df) != len(lines):  # pragma: no cover - dialect mismatch, defensive
        raise DataError(path, f"internal: csv found {len(lines)} records, pandas {len(df)}")
    return df[list(columns)], np.frombuffer(lines, dtype=np.int64).copy()


def to_int(path: Path, values: pd.Series, line_no: np.ndarray, what: str) -> np.ndarray:
    """Convert a string column to int64; DataError naming the first bad row."""
    s = values.astype(str).str.strip()
    ok = s.str.fullmatch(r"[+-]?\d{1,18}").to_numpy(dtype=bool)
    if not ok.all():
        i = int(np.argmax(~ok))
        raise DataError(path, f"{what}: expected an integer, found {values.iat[i]!r}", int(line_no[i]))
    return s.astype(np.int64).to_numpy()


def encode(path: Path, values, vocab: Sequence, line_no: np.ndarray, what: str) -> np.ndarray:
    """Map values to their index in ``vocab``; DataError on the first unknown."""
    cat = pd.Categorical(values, categories=list(vocab))
    codes = np.asarray(cat.codes, dtype=np.int64)
    if (codes < 0).any():
        i = int(np.argmax(codes < 0))
        shown = ", ".join(str(v) for v in list(vocab)[:25]) + (", ..." if len(vocab) > 25 else "")
        raise DataError(path, f"unknown {what} {np.asarray(values, dtype=object)[i]!r} "
                              f"(expected one of {shown})", int(line_no[i]))
    return codes


def check_unique(path: Path, ids: np.ndarray, line_no: np.ndarray, what: str) -> None:
    dup = pd.Series(ids).duplicated().to_numpy()
    if dup.any():
        i = int(np.argmax(dup))
        raise DataError(path, f"duplicate {what} {ids[i]!r}", int(line_no[i]))


def lookup(path: Path, ids: np.ndarray, table_ids: np.ndarray, line_no: np.ndarray, what: str,
           table_name: str) -> np.ndarray:
    """Dense index of ``ids`` in the sorted-unique ``table_ids``; DataError if absent."""
    pos = np.searchsorted(table_ids, ids)
    pos_c = np.minimum(pos, max(len(table_ids) - 1, 0))
    found = (pos < len(table_ids)) & (table_ids[pos_c] == ids) if len(table_ids) else np.zeros(len(ids), bool)
    if not found.all():
        i = int(np.argmax(~found))
        raise DataError(path, f"unknown {what} {ids[i]!r} (not in {table_name})", int(line_no[i]))
    return pos_c.astype(np.int64)


def read_vocab(path: Path, what: str) -> list[str]:
    """One entry per line (stripped, blank lines ignored); UTF-8 or latin-1."""
    data = read_bytes(Path(path))
    text = data.decode(pick_encoding(data, "auto"))
    entries, line_no = [], []
    for k, raw in enumerate(text.split("\n"), start=1):
        v = raw.strip()
        if v:
            entries.append(v)
            line_no.append(k)
    if not entries:
        raise DataError(path, f"empty {what} vocabulary")
    check_unique(path, np.array(entries, dtype=object), np.array(line_no), f"{what} vocabulary entry")
    return entries


_AGE_BINS = np.array([18, 25, 35, 45, 50, 56])
ML_AGE_GROUPS = (1, 18, 25, 35, 45, 50, 56)


def age_bucket(age: np.ndarray) -> np.ndarray:
    """ML-1M age groups: <18->0 (1), 18-24->1 (18), ..., 50-55->5 (50), 56+->6 (56)."""
    return np.searchsorted(_AGE_BINS, np.asarray(age), side="right").astype(np.int64)


def year_sort_key(v: str):
    v = str(v)
    return (0, int(v), "") if re.fullmatch(r"\d+", v) else (1, 0, v)


def file_signature(paths: Iterable[Path]) -> list[tuple[str, int, int]]:
    out = []
    for p in paths:
        st = os.stat(p)
        out.append((Path(p).name, st.st_size, st.st_mtime_ns))
    return out
