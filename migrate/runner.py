"""Mirror SRC into DST: convert Python files, copy everything else.

SRC is only read.  DST is built in a temporary directory next to it and moved
into place at the end, so an interrupted run leaves no half-written tree; a
non-empty DST is replaced only with ``force``.  Two passes over the Python files:
first their calls, returns and attributes are read (``callsites.py``; again for the
files whose facts changed, until none do), then each file is converted on its own,
so one file that does not parse is reported and copied unchanged while the others
convert (a file that does not parse turns the call-site types off: its calls are
unseen).  With ``jobs > 1`` each worker process owns a fixed share of the files for
both passes; every file is parsed once.

Exit codes (``RunResult.exit_code``):
  0  every file converted and no site needs a person
  1  some sites are uncertain/unsupported (see the report); with ``check``:
     DST is stale (differs from what would be generated)
  2  some file could not be converted (syntax error, not UTF-8), or a usage
     error (raised as ``UsageError`` before anything is written)
"""

from __future__ import annotations

import difflib
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Optional, Sequence

import libcst as cst

from migrate import callsites, helpers
from migrate.codemod import HELPER_MODULE, NEEDS_PERSON, Parsed, analyse, convert_source, identifiers, parse, torch_names_source
from migrate.project import ProjectIndex, build_index, module_name
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


#: files parsed in this process (relpath -> Parsed): the call-site pass and the conversion
#: read each file once.  Bounded by lines, so a huge tree parses twice instead of filling memory.
_PARSED: dict = {}
_PARSED_LINES = [0]
CACHE_LINES = 400_000


def _parsed(rel: str, code: str) -> Parsed:
    hit = _PARSED.get(rel)
    if hit is not None and hit.code == code:
        return hit
    parsed = parse(code, rel, _PROJECT)  # raises ParserSyntaxError
    lines = code.count("\n")
    if _PARSED_LINES[0] + lines <= CACHE_LINES:
        _PARSED[rel] = parsed
        _PARSED_LINES[0] += lines
    return parsed


def _forget_parsed() -> None:
    _PARSED.clear()
    _PARSED_LINES[0] = 0


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
        outcome = convert_source(code, _SPEC, rel, level, _PROJECT, jit=_JIT, parsed=_parsed(rel, code))
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

            # two passes over the files: their calls (parameter types), then the conversion
            bar = tqdm(total=2 * len(tasks), unit="file", file=sys.stderr, desc="migrate")
        _forget_parsed()
        pool = _Pool(tasks, jobs, maps, spec)
        try:
            _PROJECT = _infer_parameters(tasks, pool, bar)
            for result, code in pool.map("convert", _PROJECT, tasks):
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
        finally:
            pool.close()
            _forget_parsed()
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
            if "torch_getattr" in needed:  # getattr(nn, name): the table's entries, for the run-time lookup
                text += torch_names_source(_SPEC)
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


def collect_file(task: tuple) -> tuple:
    """(relpath, absolute src path, ...) -> (relpath, its call-site facts, or None when it
    cannot be read or parsed)."""
    rel, path = task[0], task[1]
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            code = fh.read()
        if not _mentions_project_names(code):
            return rel, callsites.Facts()  # defines, calls and names none of them
        analysis = analyse(code, _SPEC, rel, _PROJECT, every_file=True, parsed=_parsed(rel, code))
        mod, is_package = module_name(rel)
        facts = callsites.collect(analysis, mod, is_package, _PROJECT)
        facts.consulted = dict(analysis.types.consulted)
        return rel, facts
    except Exception:  # reported when the file is converted
        return rel, None


def _mentions_project_names(code: str) -> bool:
    """Does ``code`` contain, as a word, the name of one of the project's functions, classes or
    methods (a call ``obj.fit()`` on an unknown receiver keeps every ``fit`` untyped)?"""
    words = identifiers(code)
    return not (_PROJECT.short_names.isdisjoint(words) and _PROJECT.method_names.isdisjoint(words))


def _infer_parameters(tasks: list, pool: "_Pool", bar=None) -> ProjectIndex:
    """The project index with the parameter, return and attribute types read from SRC's
    files (callsites.py).  A file that cannot be read might call anything: then no
    parameter gets a type from calls."""
    global _PROJECT
    project = _PROJECT
    facts = {}
    for rel, found in pool.map("facts", project, tasks):
        facts[rel] = found
        if bar is not None:
            bar.update(1)
    if any(f is None for f in facts.values()):
        return project

    def infer() -> tuple:
        return (callsites.parameter_types(facts.values()), *callsites.return_and_attribute_types(facts.values()))

    found = infer()
    for _ in range(callsites.MAX_ROUNDS - 1):
        old = callsites.inferred(project)
        if found == old:
            break
        params, old_params = found[0], old[0]
        changed = {name for name in set(params) | set(old_params) if params.get(name) != old_params.get(name)}
        project = _PROJECT = callsites.with_types(project, found)
        # files to read again: those defining a function whose parameter types changed, and
        # those whose type inference read a fact that changed (the others would find the same)
        redo = [task for task in tasks if changed & set(facts[task[0]].defs) or _stale(facts[task[0]], project)]
        facts.update(pool.map("facts", project, redo))
        if any(f is None for f in facts.values()):
            return callsites.with_types(project, ({}, {}, {}))
        found = infer()
    else:  # no fixpoint within MAX_ROUNDS: keep what the last two rounds agree on
        found = tuple(_agreed(new, old) for new, old in zip(found, callsites.inferred(project)))
    return callsites.with_types(project, found)


def _stale(facts: "callsites.Facts", project: ProjectIndex) -> bool:
    return any(project.fact(kind, key) != value for (kind, key), value in facts.consulted.items())


def _agreed(new: dict, old: dict) -> dict:
    out = {}
    for name, value in new.items():
        if isinstance(value, dict):
            same = {k: v for k, v in value.items() if old.get(name, {}).get(k) == v}
            if same:
                out[name] = same
        elif old.get(name) == value:
            out[name] = value
    return out


_WORK = {"facts": collect_file, "convert": convert_file}


def _serve(conn, maps: Sequence[str], spec: Optional[Spec], jit: bool) -> None:
    """A worker process: runs the jobs it is sent on its own share of the files until told to
    stop, keeping its parses between jobs."""
    global _SPEC, _PROJECT, _JIT
    _SPEC = spec if spec is not None else load_spec([Path(m) for m in maps])
    _JIT = jit
    _forget_parsed()
    while True:
        message = conn.recv()
        if message is None:
            break
        kind, project, tasks = message
        _PROJECT = project
        for task in tasks:
            conn.send(_WORK[kind](task))
        conn.send(None)
    conn.close()


class _Pool:
    """Runs the call-site pass and the conversion, in this process (jobs=1) or in ``jobs``
    worker processes that each own a fixed share of the files for the whole run, so that
    every file is parsed once whichever pass reads it."""

    def __init__(self, tasks: list, jobs: int, maps: Sequence[str], spec: Optional[Spec]) -> None:
        self.workers = []  # (process, connection, relpaths it owns)
        self.owner: dict[str, int] = {}
        if jobs == 1 or len(tasks) < 2:
            return
        import multiprocessing

        context = multiprocessing.get_context("fork") if sys.platform.startswith("linux") else None
        if spec is not None and context is None:
            raise UsageError("--jobs > 1 with an in-memory spec needs the fork start method")
        context = context or multiprocessing.get_context()
        loads = [0] * min(jobs, len(tasks))
        for task in sorted(tasks, key=lambda t: -_size(t[1])):  # biggest first, to the least loaded
            worker = loads.index(min(loads))
            self.owner[task[0]] = worker
            loads[worker] += _size(task[1]) or 1
        for _ in loads:
            mine, theirs = context.Pipe()
            process = context.Process(target=_serve, args=(theirs, list(maps), spec if context.get_start_method() == "fork" else None, _JIT), daemon=True)
            process.start()
            theirs.close()
            self.workers.append((process, mine))

    def map(self, kind: str, project: ProjectIndex, tasks: list) -> Iterable:
        """Results of job ``kind`` for ``tasks`` (in the order they finish when in workers)."""
        if not self.workers:
            global _PROJECT
            _PROJECT = project
            for task in tasks:
                yield _WORK[kind](task)
            return
        from multiprocessing.connection import wait

        shares = [[] for _ in self.workers]
        for task in tasks:
            shares[self.owner[task[0]]].append(task)
        busy = {}
        for (process, conn), share in zip(self.workers, shares):
            conn.send((kind, project, share))
            busy[conn] = process
        while busy:
            for conn in wait(list(busy)):
                try:
                    result = conn.recv()
                except EOFError:
                    raise RuntimeError(f"a migrate worker process died (exit code {busy[conn].exitcode})") from None
                if result is None:
                    del busy[conn]
                else:
                    yield result

    def close(self) -> None:
        for process, conn in self.workers:
            try:
                conn.send(None)
            except (BrokenPipeError, OSError):
                pass
        for process, conn in self.workers:
            process.join(timeout=5)
            if process.is_alive():
                process.kill()
            conn.close()
        self.workers = []


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def lines_of(results: Iterable[FileResult]) -> int:
    return sum(r.lines for r in results)
