"""Data layer of the MAMO reference model: parsers, episodes, cache, synthetic data.

Pure numpy/pandas/stdlib (no torch); imports inside the package are relative
because the package is copied under another name by the migration tool.
"""
from .errors import DataError
from .episodes import SCENARIOS, Episodes, Features, RawData, build_episodes
from .movielens import parse_ml1m, parse_ml100k
from .bookcrossing import parse_bookcrossing
from .cache import DATASETS, cache_path, default_cache_dir, load_episodes, read_episodes, save_episodes
from .synthetic import write_raw

__all__ = [
    "DataError", "Features", "RawData", "Episodes", "SCENARIOS", "build_episodes",
    "parse_ml1m", "parse_ml100k", "parse_bookcrossing",
    "load_episodes", "save_episodes", "read_episodes", "cache_path", "default_cache_dir", "DATASETS",
    "write_raw",
]
