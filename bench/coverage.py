"""How much of typical research code the tool converts: each sample project under
bench/research_samples/ (written here in the common idioms: attention, VAE, GCN, CNN, LSTM,
NCF with BPR, a Dataset with a custom collate_fn, checkpoints) is migrated and its sites counted.

    python bench/coverage.py                    # the samples
    python bench/coverage.py --also DIR [DIR]   # and other PyTorch projects (e.g. the MAMO
                                                # authors' release), each as one SRC

Prints, per project: files, converted / uncertain / unsupported sites and the conversion rate,
then the sites that need a person grouped by API.  Nothing is written outside a temporary folder.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from migrate.runner import run  # noqa: E402

SAMPLES = ROOT / "bench" / "research_samples"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--also", type=Path, nargs="*", default=[], metavar="DIR", help="other PyTorch projects")
    args = parser.parse_args(argv)
    projects = sorted(p for p in SAMPLES.iterdir() if p.is_dir()) + list(args.also)
    totals = Counter()
    with tempfile.TemporaryDirectory() as tmp:
        for i, src in enumerate(projects):
            result = run(src, Path(tmp) / f"out{i}", progress=False)
            kinds = Counter(site.kind for _path, site in result.sites())
            n = kinds["converted"] + kinds["uncertain"] + kinds["unsupported"]
            totals.update(kinds)
            print(f"{src.name:>24}: {len(result.files)} files, {kinds['converted']} converted / {kinds['uncertain']} "
                  f"uncertain / {kinds['unsupported']} unsupported = {kinds['converted'] / max(n, 1):.1%}")
            for (rule, kind), count in sorted(Counter((s.rule, s.kind) for _p, s in result.needs_person()).items()):
                print(f"{'':>26}{kind}: {rule} x{count}")
    n = totals["converted"] + totals["uncertain"] + totals["unsupported"]
    print(f"{'all':>24}: {totals['converted']} / {totals['uncertain']} / {totals['unsupported']} = {totals['converted'] / max(n, 1):.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
