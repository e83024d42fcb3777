"""Shared pytest fixtures.  Keep this small; append fixtures in their own section."""
from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

# ---------------------------------------------------------------- data fixtures
# ../shared/data relative to the repository root (read-only; never write there)
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SYNTHETIC_SIZES = {  # (n_users, n_items, n_ratings): small but with all four scenarios
    "ml-1m": (120, 300, 4800),
    "ml-100k": (120, 250, 4800),
    "bookcrossing": (120, 400, 4800),
}


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def synthetic_raw(tmp_path_factory):
    """``synthetic_raw(layout)`` -> path of a small synthetic raw dir (written once per session; do not modify)."""
    from reference_torch.data import write_raw

    made: dict[str, Path] = {}

    def make(layout: str) -> Path:
        if layout not in made:
            made[layout] = write_raw(layout, tmp_path_factory.mktemp(f"raw-{layout}"), *SYNTHETIC_SIZES[layout],
                                     seed=7)
        return made[layout]

    return make


TINY_RAW = {  # handcrafted raw files; the expected parses are spelled out in test_data_parsers.py
    "ml-1m": {
        "users.dat": "1::F::1::10::48067\n2::M::56::16::70072\n3::M::25::15::55117\n",
        "movies_extrainfos.dat": (
            "1::Toy Story::1995::G::22 Nov 1995::Animation, Comedy::John Lasseter::W::A::Plot::P\r\n"
            '5::Heat::1995::R::15 Dec 1995::Crime, Drama::Michael Mann, Joe Bloggs (co-director)::W::A::A "plot"::P\r\n'
            "3::Costa Brava::1946::UNRATED::N/A::N/A::N/A::N/A::N/A::N/A::N/A\r\n"),
        "m_rate.txt": "PG-13\r\nUNRATED\r\nNC-17\r\nPG\r\nG\r\nR\r\n",
        "m_genre.txt": "Animation\r\nnan\r\nComedy\r\nCrime\r\nDrama\r\n",
        "m_director.txt": "nan\r\nJohn Lasseter\r\nMichael Mann\r\nJoe Bloggs\r\n",
        "ratings.dat": "1::1::5::978300760\n2::5::3::978302109\n3::3::4::978301968\n1::5::1::978300275\n",
    },
    "ml-100k": {
        "u.occupation": "administrator\nartist\ndoctor\n",
        "u.user": "1|17|M|doctor|11111\n2|18|F|artist|22222\n3|56|M|administrator|33333\n4|50|F|doctor|44444\n",
        "u.item": ("2|B (1990)|||http://b|" + "|".join(["1"] + ["0"] * 18) + "\n"
                   "1|A (1995)|01-Jan-1995||http://a|" + "|".join(["0", "1", "0", "1"] + ["0"] * 15) + "\n"),
        "u.data": "1\t1\t5\t881250949\n4\t2\t1\t881250950\n2\t1\t3\t881250951\n",
    },
    "bookcrossing": {
        "BX-Users.csv": ('"User-ID";"Location";"Age"\n"10";"nyc, new york, usa";NULL\n'
                         '"20";"porto, , Portugal";"34"\n"30";"berlin, germany";"17"\n'),
        "BX-Books.csv": (
            '"ISBN";"Book-Title";"Book-Author";"Year-Of-Publication";"Publisher";"Image-URL-S";"Image-URL-M";"Image-URL-L"\n'
            '"034545104X";"Title; with semicolon";"Author A";"2002";"Pub X";"s";"m";"l"\n'
            '"0155061224";"Other \\"quoted\\"";"Author B";"1999";"Pub Y";"s";"m";"l"\n'
            '"0446520802";"Unrated";"Author C";"2000";"Pub Y";"s";"m";"l"\n'),
        "BX-Book-Ratings.csv": ('"User-ID";"ISBN";"Book-Rating"\n"10";"034545104X";"0"\n"10";"0155061224";"5"\n'
                                '"20";"034545104x";"10"\n"30";"0155061224";"8"\n"20";"0446520802";"0"\n'),
    },
}


@pytest.fixture
def tiny_raw(tmp_path):
    """``tiny_raw(layout, **{file: text or None})`` -> fresh dir with TINY_RAW[layout] (+ overrides, None deletes)."""
    count = [0]

    def make(layout: str, **overrides) -> Path:
        count[0] += 1
        d = tmp_path / f"tiny-{layout}-{count[0]}"
        d.mkdir()
        for name, text in {**TINY_RAW[layout], **overrides}.items():
            if text is not None:
                (d / name).write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
        return d

    return make


# ---------------------------------------------------------------- the helper module converted code imports
@pytest.fixture(scope="module")
def compat(tmp_path_factory):
    """``migrate/helpers/_torch_compat.py`` importable as ``_torch_compat`` (as converted code
    imports it) for the tests of one module; the module itself is the fixture's value."""
    from migrate import helpers

    tmp = tmp_path_factory.mktemp("helpers")
    (tmp / "_torch_compat.py").write_text(helpers.source("_torch_compat"))
    sys.path.insert(0, str(tmp))
    sys.modules.pop("_torch_compat", None)
    yield importlib.import_module("_torch_compat")
    sys.path.remove(str(tmp))
    sys.modules.pop("_torch_compat", None)
