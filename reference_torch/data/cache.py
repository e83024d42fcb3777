"""Episode cache: one compressed, pickle-free ``.npz`` per dataset.

* File name ``<name>-<key>.npz``; ``key`` = first 16 hex digits of a SHA-256
  over the dataset name, the cache format version, the resolved raw
  directory, the (file name, size, mtime_ns) of each raw file the parser
  reads, and the build kwargs.  Touching/replacing a raw file or changing a
  kwarg therefore selects a new cache file.
* Writes are atomic: the archive is written to a temporary file in the same
  directory, flushed and fsync'ed, then ``os.replace``'d over the target.
* Reads use ``np.load(..., allow_pickle=False)`` and validate every array
  (shapes, dtypes, index ranges).
* **Corruption policy.** :func:`read_episodes` raises :class:`DataError`
  naming the file for a corrupt, truncated or inconsistent cache file.
  :func:`load_episodes` catches that, emits a ``RuntimeWarning`` naming the
  file, rebuilds from the raw files and atomically overwrites the bad cache
  (a cache is a disposable copy; raw-data problems are still raised).
* Default cache directory: ``<raw_dir>/.cache`` when ``raw_dir`` is writable
  -- judged by its permission bits *and* ``os.access`` (root ignores
  permission bits, and ``../shared`` is ``r-x`` on purpose) -- else
  ``$MAMO_CACHE_DIR``, else ``$XDG_CACHE_HOME/mamo_reference``, else
  ``~/.cache/mamo_reference``.  ``cache_dir=False`` disables caching.
"""
from __future__ import annotations

import hashlib
import json
import os
import stat
import tempfile
import warnings
import zipfile
import zlib
from pathlib import Path

import numpy as np

from .bookcrossing import BX_FILES, parse_bookcrossing
from .episodes import Episodes, Features, build_episodes
from .errors import DataError, file_signature, require_file
from .movielens import ML1M_FILES, ML100K_FILES, parse_ml1m, parse_ml100k

__all__ = ["save_episodes", "read_episodes", "load_episodes", "cache_path", "default_cache_dir",
           "DATASETS", "CACHE_FORMAT"]

CACHE_FORMAT = 1
DATASETS = {
    "ml-1m": (parse_ml1m, ML1M_FILES),
    "ml-100k": (parse_ml100k, ML100K_FILES),
    "bookcrossing": (parse_bookcrossing, BX_FILES),
}
_FEATURE_ARRAYS = ("user_x", "item_x", "item_multi")
_EPISODE_ARRAYS = ("user_index", "support_items", "support_y", "query_items", "query_y", "support_scenario",
                   "query_scenario", "user_warm", "item_warm", "is_train")


def save_episodes(ep: Episodes, path) -> Path:
    """Write ``ep`` to ``path`` (compressed npz, no pickle) atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    f = ep.features
    arrays = {k: getattr(ep, k) for k in _EPISODE_ARRAYS}
    arrays.update({f"f_{k}": getattr(f, k) for k in _FEATURE_ARRAYS})
    arrays.update(
        format=np.int64(CACHE_FORMAT), name=np.str_(ep.name), split_time=np.int64(ep.split_time),
        f_user_vocab=np.asarray(f.user_vocab, np.int64), f_item_vocab=np.asarray(f.item_vocab, np.int64),
        f_item_multihot=np.asarray(f.item_multihot, np.int64), f_n_classes=np.int64(f.n_classes))
    return write_npz_atomic(path, arrays, compressed=True)


def write_npz_atomic(path, arrays: dict, compressed: bool = False) -> Path:
    """Write ``arrays`` as an ``.npz`` at ``path``: a temp file in the same folder, synced,
    then renamed over ``path``, so a reader never sees half a file."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            (np.savez_compressed if compressed else np.savez)(fh, **arrays)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path


def read_episodes(path) -> Episodes:
    """Read a file written by :func:`save_episodes`; DataError if corrupt."""
    path = Path(path)
    require_file(path, "episode cache")
    try:
        with np.load(path, allow_pickle=False) as z:
            d = {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error, RuntimeError) as e:
        raise DataError(path, f"corrupt or truncated episode cache ({type(e).__name__}: {e})") from None
    missing = [k for k in ("format", "name", "split_time", "f_user_vocab", "f_item_vocab", "f_item_multihot",
                           "f_n_classes", *(f"f_{k}" for k in _FEATURE_ARRAYS), *_EPISODE_ARRAYS) if k not in d]
    if missing:
        raise DataError(path, f"corrupt episode cache: missing arrays {missing}")
    if int(d["format"]) != CACHE_FORMAT:
        raise DataError(path, f"episode cache format {int(d['format'])}, expected {CACHE_FORMAT}")
    try:
        feats = Features(user_vocab=tuple(int(v) for v in d["f_user_vocab"]),
                         item_vocab=tuple(int(v) for v in d["f_item_vocab"]),
                         item_multihot=tuple(int(v) for v in d["f_item_multihot"]),
                         user_x=d["f_user_x"], item_x=d["f_item_x"], item_multi=d["f_item_multi"],
                         n_classes=int(d["f_n_classes"]))
        ep = Episodes(name=str(d["name"]), features=feats, split_time=int(d["split_time"]),
                      **{k: d[k] for k in _EPISODE_ARRAYS})
    except (TypeError, ValueError) as e:
        raise DataError(path, f"corrupt episode cache: {e}") from None
    ep.validate(str(path))
    return ep


def _writable(d: Path) -> bool:
    try:
        st = d.stat()
    except OSError:
        return False
    return bool(st.st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)) and os.access(d, os.W_OK | os.X_OK)


def _user_cache_dir() -> Path:
    if os.environ.get("MAMO_CACHE_DIR"):
        return Path(os.environ["MAMO_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "mamo_reference"


def default_cache_dir(raw_dir) -> Path:
    """``<raw_dir>/.cache`` if usable, else the user cache dir (module docstring)."""
    raw_dir = Path(raw_dir)
    local = raw_dir / ".cache"
    if local.is_dir() and _writable(local):
        return local
    if not local.exists() and _writable(raw_dir):
        try:
            local.mkdir()
            return local
        except OSError:
            pass
    return _user_cache_dir()


def _kwargs_defaults(build_kwargs: dict) -> dict:
    import inspect
    sig = inspect.signature(build_episodes)
    params = {k: p.default for k, p in sig.parameters.items() if p.default is not inspect.Parameter.empty}
    unknown = set(build_kwargs) - set(params)
    if unknown:
        raise TypeError(f"unknown build_episodes arguments: {sorted(unknown)}")
    params.update(build_kwargs)
    return params


def cache_path(name: str, raw_dir, cache_dir, **build_kwargs) -> Path:
    """Path of the cache file for this dataset, raw files and build kwargs."""
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; expected one of {sorted(DATASETS)}")
    raw_dir = Path(raw_dir)
    files = [require_file(raw_dir / f, f"{name} layout") for f in DATASETS[name][1]]
    blob = json.dumps({"name": name, "format": CACHE_FORMAT, "raw_dir": str(raw_dir.resolve()),
                       "files": file_signature(files), "kwargs": _kwargs_defaults(build_kwargs)},
                      sort_keys=True, default=str)
    key = hashlib.sha256(blob.encode()).hexdigest()[:16]
    return Path(cache_dir) / f"{name}-{key}.npz"


def load_episodes(name: str, raw_dir, cache_dir=None, **build_kwargs) -> Episodes:
    """Episodes of dataset ``name`` from ``raw_dir``, through the cache.

    ``cache_dir=None`` -> :func:`default_cache_dir`; ``False`` -> no cache.
    A corrupt cache file is rebuilt with a ``RuntimeWarning``.
    """
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; expected one of {sorted(DATASETS)}")
    parse = DATASETS[name][0]
    if cache_dir is False:
        return build_episodes(parse(raw_dir), name, **build_kwargs)
    if cache_dir is None:
        cache_dir = default_cache_dir(raw_dir)
    path = cache_path(name, raw_dir, cache_dir, **build_kwargs)
    if path.exists():
        try:
            return read_episodes(path)
        except DataError as e:
            warnings.warn(f"{e}; rebuilding it from {raw_dir}", RuntimeWarning, stacklevel=2)
    ep = build_episodes(parse(raw_dir), name, **build_kwargs)
    try:
        save_episodes(ep, path)
    except OSError as e:
        warnings.warn(f"{path}: could not write episode cache ({e})", RuntimeWarning, stacklevel=2)
    return ep
