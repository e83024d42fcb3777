"""What changed, what could not, where: a text summary, JSON and Markdown.

The conversion rate is converted / (converted + uncertain + unsupported): a
site the tool did not dare to touch counts against it, and code that is not
torch's (numpy's ``a.sum(axis=0)``) counts nowhere.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from migrate.runner import RunResult

KINDS = ("converted", "uncertain", "unsupported")
#: a Cell's construct compiled with mindspore.jit, or left in PyNative (not torch sites: no rate)
GRAPH_KINDS = ("graph", "pynative")


def counts(run: RunResult) -> dict:
    sites = Counter(s.kind for _, s in run.sites())
    files = Counter(f.status for f in run.files)
    total = sum(sites[k] for k in KINDS)
    return {
        "files": {k: files.get(k, 0) for k in ("converted", "unchanged", "copied", "failed")},
        "sites": {k: sites.get(k, 0) for k in KINDS},
        "conversion_rate": (sites["converted"] / total) if total else 1.0,
        "graph": {k: sites.get(k, 0) for k in GRAPH_KINDS},
        "lines": sum(f.lines for f in run.files),
    }


def per_rule(run: RunResult) -> list[dict]:
    table: dict[str, Counter] = {}
    notes: dict[str, str] = {}
    for _, site in run.sites():
        if site.kind not in KINDS:
            continue
        table.setdefault(site.rule, Counter())[site.kind] += 1
        if site.kind == "converted" and site.reason:
            notes.setdefault(site.rule, site.reason)
    rows = []
    for rule in sorted(table, key=lambda r: (-sum(table[r].values()), r)):
        row = {"rule": rule, **{k: table[rule].get(k, 0) for k in KINDS}}
        if rule in notes:
            row["note"] = notes[rule]
        rows.append(row)
    return rows


def _site_line(path: str, site) -> str:
    return f"{path}:{site.line}:{site.col}: {site.kind}: {site.rule} — {site.reason}"


def text_summary(run: RunResult) -> str:
    c = counts(run)
    f, s = c["files"], c["sites"]
    python = f["converted"] + f["unchanged"]
    lines = [
        f"files: {python} Python ({f['converted']} changed, {f['unchanged']} unchanged), "
        f"{f['copied']} copied, {f['failed']} failed"
        + (f"; helper written: {', '.join(run.helpers_written)}" if run.helpers_written else ""),
        f"call sites: {s['converted']} converted, {s['uncertain']} uncertain, {s['unsupported']} unsupported"
        f" — conversion rate {c['conversion_rate']:.1%}"
        f" ({s['converted']}/{sum(s.values())})",
    ]
    g = c["graph"]
    if g["graph"] or g["pynative"]:
        lines.append(f"graph mode: {g['graph']} construct(s) or training step(s) compiled with mindspore.jit, "
                     f"{g['pynative']} left in PyNative")
        lines.extend("  " + _site_line(p, site) for p, site in run.sites("pynative"))
    failed = [fr for fr in run.files if fr.status == "failed"]
    if failed:
        lines.append("failed (copied unchanged):")
        lines.extend(f"  {fr.path}:{fr.error}" for fr in failed)
    todo = run.needs_person()
    if todo:
        lines.append(f"needs a person ({len(todo)}):")
        lines.extend("  " + _site_line(p, site) for p, site in todo)
    if run.check:
        if run.stale:
            lines.append(f"stale: {len(run.stale)} file(s) in {run.dst} differ from what would be generated:")
            lines.extend(f"  {p}" for p in run.stale)
        else:
            lines.append(f"up to date: {run.dst} matches what would be generated")
    return "\n".join(lines) + "\n"


def to_json(run: RunResult) -> dict:
    return {
        "src": str(run.src),
        "dst": str(run.dst),
        "summary": counts(run),
        "exit_code": run.exit_code,
        "helpers_written": run.helpers_written,
        "files": [
            {
                "path": f.path,
                "status": f.status,
                **({"error": f.error} if f.error else {}),
                "sites": {k: sum(1 for s in f.sites if s.kind == k) for k in KINDS + GRAPH_KINDS},
            }
            for f in run.files
        ],
        "rules": per_rule(run),
        "sites": [site.as_dict(path) for path, site in run.sites()],
        **({"stale": run.stale} if run.check else {}),
    }


def _md(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def to_markdown(run: RunResult) -> str:
    c = counts(run)
    s = c["sites"]
    out = [
        "# Migration report",
        "",
        f"`{run.src}` → `{run.dst}`",
        "",
        f"- Files: {c['files']['converted']} changed, {c['files']['unchanged']} unchanged, "
        f"{c['files']['copied']} copied, {c['files']['failed']} failed",
        f"- Call sites: **{s['converted']} converted**, {s['uncertain']} uncertain, {s['unsupported']} unsupported",
        f"- Conversion rate: **{c['conversion_rate']:.1%}** (converted / all torch sites found)",
    ]
    if run.helpers_written:
        out.append(f"- Helper modules written: {', '.join(f'`{h}`' for h in run.helpers_written)}")
    todo = run.needs_person()
    out += ["", f"## Sites that need a person ({len(todo)})", ""]
    if todo:
        out += ["| Where | Kind | API | Reason |", "|---|---|---|---|"]
        out += [f"| `{p}:{site.line}:{site.col}` | {site.kind} | `{site.rule}` | {_md(site.reason)} |" for p, site in todo]
    else:
        out.append("None.")
    graph = [(p, site) for p, site in run.sites() if site.kind in GRAPH_KINDS]
    if graph:
        out += ["", "## Graph mode (`mindspore.jit`)", "",
                "A construct compiles once per instance and input shapes (a class made anew for every call runs in PyNative after its first instances); `MS_JIT=0` runs everything in PyNative.", "",
                "| Where | Mode | Why |", "|---|---|---|"]
        out += [f"| `{p}:{site.line}:{site.col}` | {site.kind} | {_md(site.reason)} |" for p, site in graph]
    failed = [f for f in run.files if f.status == "failed"]
    if failed:
        out += ["", "## Files that failed (copied unchanged)", ""]
        out += [f"- `{f.path}:{f.error}`" for f in failed]
    out += ["", "## Per file", "", "| File | Status | Converted | Uncertain | Unsupported |", "|---|---|---:|---:|---:|"]
    for f in run.files:
        if f.status == "copied":
            continue
        k = Counter(site.kind for site in f.sites)
        out.append(f"| `{f.path}` | {f.status} | {k['converted']} | {k['uncertain']} | {k['unsupported']} |")
    copied = sum(1 for f in run.files if f.status == "copied")
    if copied:
        out.append(f"\n{copied} non-Python file(s) copied unchanged.")
    out += ["", "## Per API", "", "| API | Converted | Uncertain | Unsupported | Note |", "|---|---:|---:|---:|---|"]
    for row in per_rule(run):
        out.append(
            f"| `{row['rule']}` | {row['converted']} | {row['uncertain']} | {row['unsupported']} | {_md(row.get('note', ''))} |"
        )
    return "\n".join(out) + "\n"


def write_report(run: RunResult, path: Path) -> None:
    path = Path(path)
    if path.suffix == ".json":
        text = json.dumps(to_json(run), indent=2, ensure_ascii=False) + "\n"
    elif path.suffix in (".md", ".markdown"):
        text = to_markdown(run)
    else:
        raise ValueError(f"--report {path}: use a .json or .md file name")
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
