"""Mirror SRC into DST: convert Python files, copy everything else.

SRC is only read.  DST is built in a temporary directory next to it and moved
into place at the end, so an interrupted run leaves no half-written tree; a
non-empty DST is replaced only with ``force``.  Each Python file is converted
on its own (in worker processes with ``jobs > 1``), so one file that does not
parse is reported and copied unchanged while the others convert.

Exit codes (``RunResult.exit_code``):
  0  every file converted and no site needs a person
  1  some sites are uncertain/unsupported (see the report); with ``check``:
     DST is stale (differs from what would be generated)
  2  some file could not be converted (syntax error, not UTF-8), or a usage
     error (raised as ``UsageError`` before anything is written)
"""

from __future__ import annotations

import concurrent.futures
import difflib
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Optional, Sequence

import libcst as cst

from migrate import helpers
from migrate.codemod import HELPER_MODULE, NEEDS_PERSON, convert_source
from migrate.project import ProjectIndex, build_index
from migrate.spec import Spec, load_spec

SKIP_DIRS = frozenset({"__pycache__", ".git", ".hg", ".svn", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".tox"})
SKIP_SUFFIXES = (".pyc", ".pyo")
PROGRESS_MIN_FILES = 20


class UsageError(Exception):
    """A problem with the arguments; nothing was written."""


@dataclass
class FileResult:
    path: str  # relative to SRC, with "/"
    status: str  # converted | unchanged | copied | failed
    sites: list = field(default_factory=list)
    helpers: set = field(default_factory=set)
    error: Optional[str] = None  # "line:col: message" for failed files
    diff: str = ""
    lines: int = 0

    @property
    def needs_person(self) -> list:
        return [s for s in self.sites if s.kind in NEEDS_PERSON]


@dataclass
class RunResult:
    src: Path
    dst: Path
    files: list
    helpers_written: list
    check: bool = False
    stale: list = field(default_factory=list)  # paths that differ (check mode)
    seconds: float = 0.0

    def sites(self, kind: Optional[str] = None) -> list:
        return [(f.path, s) for f in self.files for s in f.sites if kind is None or s.kind == kind]

    def needs_person(self) -> list:
        """(path, site) of every uncertain or unsupported site, in file order."""
        return [(f.path, s) for f in self.files for s in f.needs_person]

    @property
    def exit_code(self) -> int:
        if any(f.status == "failed" for f in self.files):
            return 2
        if self.check:
            return 1 if self.stale else 0
        return 1 if any(f.needs_person for f in self.files) else 0


# --------------------------------------------------------------------------
# per-file work (runs in worker processes)

_SPEC: Optional[Spec] = None
_PROJECT: Optional[ProjectIndex] = None
_JIT = True


def _init_worker(maps: Sequence[str], project: Optional[ProjectIndex], jit: bool) -> None:
    global _SPEC, _PROJECT, _JIT
    _SPEC = load_spec([Path(m) for m in maps])
    _PROJECT = project
    _JIT = jit


def _syntax_error(code: str, exc: cst.ParserSyntaxError) -> str:
    """``line:col: syntax error: ...``, with Python's own wording when it has one."""
    line, col, message = exc.editor_line, exc.editor_column - 1, exc.message
    try:
        compile(code, "<src>", "exec", dont_inherit=True)
    except SyntaxError as err:
        if err.lineno:
            line, col, message = err.lineno, max((err.offset or 1) - 1, 0), err.msg
    except (ValueError, OverflowError):
        pass
    return f"{line}:{col}: syntax error: {message}"


def convert_file(task: tuple) -> tuple:
    """(relpath, absolute src path, helper level, want diff) -> (FileResult, code or None)."""
    rel, path, level, want_diff = task
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            code = fh.read()
    except UnicodeDecodeError as exc:
        return FileResult(rel, "failed", error=f"1:0: not UTF-8 ({exc.reason})"), None
    lines = code.count("\n") + (0 if code.endswith("\n") or not code else 1)
    try:
        outcome = convert_source(code, _SPEC, rel, level, _PROJECT, jit=_JIT)
    except cst.ParserSyntaxError as exc:
        return FileResult(rel, "failed", error=_syntax_error(code, exc), lines=lines), None
    except RecursionError:
        return FileResult(rel, "failed", error="1:0: nested too deeply to convert", lines=lines), None
    except Exception as exc:  # an engine bug must not take the other files down
        return FileResult(rel, "failed", error=f"1:0: internal error: {type(exc).__name__}: {exc}", lines=lines), None
    diff = ""
    if want_diff and outcome.changed:
        diff = "".join(
            difflib.unified_diff(
                code.splitlines(keepends=True), outcome.code.splitlines(keepends=True), f"a/{rel}", f"b/{rel}"
            )
        )
    status = "converted" if outcome.changed else "unchanged"
    return FileResult(rel, status, outcome.sites, outcome.helpers, diff=diff, lines=lines), outcome.code


# --------------------------------------------------------------------------
# the tree


def _walk(src: Path) -> tuple[list[str], list[str]]:
    """Relative directories and files of SRC, sorted, without caches/VCS folders."""
    dirs, files = [], []
    for root, dirnames, filenames in os.walk(src):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
        rel_root = Path(root).relative_to(src)
        for d in dirnames:
            dirs.append((rel_root / d).as_posix())
        for name in sorted(filenames):
            if not name.endswith(SKIP_SUFFIXES):
                files.append((rel_root / name).as_posix())
    return dirs, files


def _helper_level(src: Path, rel: str) -> int:
    """0: import the helper absolutely; n: ``from .{n-1 dots}`` when every folder up to
    SRC's root is a package (so DST's root is one too)."""
    parts = rel.split("/")[:-1]
    if not (src / "__init__.py").is_file():
        return 0
    here = src
    for part in parts:
        here = here / part
        if not (here / "__init__.py").is_file():
            return 0
    return len(parts) + 1


def _inside(child: Path, parent: Path) -> bool:
    try:
        child.relative_to(parent)
        return True
    except ValueError:
        return False


def _check_paths(src: Path, dst: Path, force: bool, check: bool) -> None:
    if not src.exists():
        raise UsageError(f"SRC {src} does not exist")
    if not src.is_dir():
        raise UsageError(f"SRC {src} is not a directory")
    if _inside(dst, src):
        raise UsageError(f"DST {dst} is inside SRC {src}; the tool never writes into SRC")
    if _inside(src, dst):
        raise UsageError(f"SRC {src} is inside DST {dst}; choose a DST outside SRC")
    if dst.exists() and not dst.is_dir():
        raise UsageError(f"DST {dst} exists and is not a directory")
    if check:
        if not dst.is_dir():
            raise UsageError(f"--check: DST {dst} does not exist")
        return
    if dst.is_dir() and any(dst.iterdir()) and not force:
        raise UsageError(f"DST {dst} is not empty; pass --force to replace its contents")


def _same_tree(built: Path, dst: Path) -> list[str]:
    """Relative paths that differ between the freshly built tree and DST."""
    def listing(root: Path) -> set[str]:
        out = set()
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS]
            for name in filenames:
                if not name.endswith(SKIP_SUFFIXES):
                    out.add((Path(dirpath) / name).relative_to(root).as_posix())
        return out

    a, b = listing(built), listing(dst)
    differ = sorted(a ^ b)
    for rel in sorted(a & b):
        if (built / rel).read_bytes() != (dst / rel).read_bytes():
            differ.append(rel)
    return sorted(differ)


def _replace_tree(built: Path, dst: Path) -> None:
    if dst.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{dst.name}.old-", dir=dst.parent))
        os.rename(dst, old / dst.name)
        try:
            os.rename(built, dst)
        except BaseException:
            os.rename(old / dst.name, dst)
            raise
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(built, dst)


def run(
    src: Path,
    dst: Path,
    *,
    maps: Sequence[str] = (),
    jobs: int = 1,
    force: bool = False,
    check: bool = False,
    diff: bool = False,
    progress: Optional[bool] = None,
    spec: Optional[Spec] = None,
    jit: bool = True,
) -> RunResult:
    """Convert SRC into DST (see the module docstring for the contract)."""
    import time

    started = time.perf_counter()
    src, dst = Path(src).resolve(), Path(dst).resolve()
    _check_paths(src, dst, force, check)
    if jobs < 1:
        raise UsageError("--jobs must be at least 1")
    global _SPEC, _PROJECT, _JIT
    _JIT = jit
    _SPEC = spec if spec is not None else load_spec([Path(m) for m in maps])

    dirs, files = _walk(src)
    py_files = [f for f in files if f.endswith(".py")]
    prefix = src.name if (src / "__init__.py").is_file() else None
    _PROJECT = build_index(src, py_files, prefix)
    other_files = [f for f in files if not f.endswith(".py")]
    dst.parent.mkdir(parents=True, exist_ok=True)
    built = Path(tempfile.mkdtemp(prefix=f".{dst.name}.new-", dir=dst.parent))
    try:
        for d in dirs:
            (built / d).mkdir(parents=True, exist_ok=True)
        tasks = [(rel, str(src / rel), _helper_level(src, rel), diff) for rel in py_files]
        results: list[FileResult] = []
        show = progress if progress is not None else (sys.stderr.isatty() and len(tasks) >= PROGRESS_MIN_FILES)
        bar = None
        if show:
            from tqdm import tqdm

            bar = tqdm(total=len(tasks), unit="file", file=sys.stderr, desc="migrate")
        for result, code in _convert_all(tasks, jobs, maps, spec):
            target = built / result.path
            if code is None:
                shutil.copyfile(src / result.path, target)
            else:
                with open(target, "w", encoding="utf-8", newline="") as fh:
                    fh.write(code)
            shutil.copymode(src / result.path, target)
            results.append(result)
            if bar is not None:
                bar.update(1)
        if bar is not None:
            bar.close()
        for rel in other_files:
            shutil.copy2(src / rel, built / rel)
            results.append(FileResult(rel, "copied"))
        needed = sorted(set().union(*(r.helpers for r in results)) if results else set())
        written = []
        if needed:
            helper_file = f"{HELPER_MODULE}.py"
            text = helpers.source(HELPER_MODULE)
            existing = src / helper_file
            if existing.exists() and existing.read_text(encoding="utf-8", errors="replace") != text:
                raise UsageError(f"SRC already has a {helper_file} of its own; the tool needs that name for its helpers")
            (built / helper_file).write_text(text, encoding="utf-8")
            written.append(helper_file)
        results.sort(key=lambda r: r.path)
        outcome = RunResult(src, dst, results, written, check=check)
        if check:
            outcome.stale = _same_tree(built, dst)
            shutil.rmtree(built, ignore_errors=True)
        else:
            _replace_tree(built, dst)
    except BaseException:
        shutil.rmtree(built, ignore_errors=True)
        raise
    outcome.seconds = time.perf_counter() - started
    return outcome


def _convert_all(tasks: list, jobs: int, maps: Sequence[str], spec: Optional[Spec]) -> Iterable[tuple]:
    if jobs == 1 or len(tasks) < 2:
        for task in tasks:
            yield convert_file(task)
        return
    import multiprocessing

    context = multiprocessing.get_context("fork") if sys.platform.startswith("linux") else None
    if spec is not None and context is None:
        raise UsageError("--jobs > 1 with an in-memory spec needs the fork start method")
    init, initargs = (None, ()) if (spec is not None or context is not None) else (_init_worker, (list(maps), _PROJECT, _JIT))
    chunk = max(1, min(16, len(tasks) // (jobs * 4)))
    with concurrent.futures.ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=init, initargs=initargs) as pool:
        yield from pool.map(convert_file, tasks, chunksize=chunk)


def lines_of(results: Iterable[FileResult]) -> int:
    return sum(r.lines for r in results)
