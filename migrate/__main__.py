"""Command line: ``python -m migrate SRC DST [options]``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional, Sequence

DESCRIPTION = """\
Rewrite a PyTorch project into MindSpore 2.x code.

SRC is mirrored into DST: Python files are converted with the mapping table
(migrate/api_map.yaml, plus --map files) and the structural rewrites in
migrate/transforms/; every other file is copied.  SRC is never written to.
Code the tool does not need to touch keeps its formatting and comments.
Whatever it cannot convert stays valid Python, marked on the line above with
  # MIGRATE(uncertain|unsupported): <torch API> — <reason>
and listed in the summary as file:line:col.  Helper code MindSpore lacks
(e.g. a torch-formula Adam) is written to DST/_torch_compat.py when used.

A tensor method is converted only where the receiver is known to be a tensor.
Types come from annotations, the table, what functions return, and the
project's own calls: SRC is read once for its calls first (a parameter every
call in SRC passes a tensor or a device has that type), so the whole of SRC
should be given, not single files."""

EPILOG = """\
exit status:
  0  all files converted, no site needs a person
  1  some sites are uncertain or unsupported (listed in the summary);
     with --check: DST is stale (differs from what would be generated)
  2  some file failed to convert (e.g. a syntax error; it is copied
     unchanged), or a usage error (nothing was written)

examples:
  python -m migrate reference_torch migrated_mindspore --force --report report.md
  python -m migrate src out --diff --jobs 2
  python -m migrate reference_torch migrated_mindspore --check   # CI staleness check"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m migrate",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("src", metavar="SRC", type=Path, help="the PyTorch project (a directory; only read)")
    parser.add_argument("dst", metavar="DST", type=Path, help="where the MindSpore project is written (a directory)")
    parser.add_argument("--diff", action="store_true", help="print a unified diff of every changed Python file")
    parser.add_argument(
        "--report", metavar="FILE", type=Path,
        help="also write the full report to FILE: .json (machine-readable) or .md (for a person)",
    )
    parser.add_argument(
        "--map", metavar="EXTRA.yaml", action="append", default=[], type=Path,
        help="extra mapping entries (same format as api_map.yaml); they add to or replace entries "
        "by torch name. May be repeated.",
    )
    parser.add_argument(
        "--check", action="store_true",
        help="dry run: write nothing; exit 1 if DST differs from what would be generated",
    )
    parser.add_argument("--jobs", "-j", metavar="N", type=int, default=1, help="convert files in N processes (default 1)")
    parser.add_argument("--force", action="store_true", help="replace the contents of a non-empty DST")
    parser.add_argument(
        "--no-jit", dest="jit", action="store_false",
        help="never compile: no @jit_construct (mindspore.jit) on a converted construct and no compiled training step "
        "(_torch_compat.compiled_value_and_grad); by default both are emitted where a conservative check "
        "finds nothing that would stop the code running as a graph, and every decision is reported; "
        "MS_JIT=0 also turns them off at run time",
    )
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    if args.report is not None and args.report.suffix not in (".json", ".md", ".markdown"):
        parser.error(f"--report {args.report}: use a .json or .md file name")
    for extra in args.map:
        if not extra.is_file():
            parser.error(f"--map {extra}: no such file")

    from migrate.report import text_summary, write_report
    from migrate.runner import UsageError, run
    from migrate.spec import SpecError

    try:
        result = run(args.src, args.dst, maps=[str(m) for m in args.map], jobs=args.jobs,
                     force=args.force, check=args.check, diff=args.diff, jit=args.jit)
    except (UsageError, SpecError) as exc:
        print(f"migrate: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("migrate: interrupted; nothing was written", file=sys.stderr)
        return 130
    except OSError as exc:
        print(f"migrate: error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), file=sys.stderr)
        return 2

    out = sys.stdout
    if args.diff:
        for f in result.files:
            if f.diff:
                out.write(f.diff)
    out.write(text_summary(result))
    if args.report is not None:
        try:
            write_report(result, args.report)
        except OSError as exc:
            print(f"migrate: error: cannot write report {args.report}: {exc.strerror}", file=sys.stderr)
            return 2
        out.write(f"report written to {args.report}\n")
    return result.exit_code


if __name__ == "__main__":
    sys.exit(main())
