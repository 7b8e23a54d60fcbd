"""Do two trees of minewatch give the same outputs? The sample night and the labelled evaluation.

    python benchmarks/same_outputs.py --base REV [--out DIR] [--config configs/sample.yaml]
        [--date 2026-11-20] [--scenarios DIR]

For the tree at git revision REV (checked out into a temporary worktree) and for this
working tree, in fresh processes with that tree's `src/` first on the path, it runs:

- the sample night (`minewatch run --config C --date D --out DIR/<tree>/night`), and
  hashes every file of the run folder (the `state/` folder is the night's cache, not an
  output, and is left out);
- the labelled evaluation (`evaluate.prepare` + `evaluate.evaluate`), whose full result is
  dumped as sorted JSON.

It prints every file that differs (or is only in one tree) and exits 1 if any does, 0 when
both trees give byte-identical outputs. Both trees use this tree's config, sample files and
catalogue, so only the code differs: start the catalogue and load the sample first
(`minewatch catalog up`, `minewatch catalog load`).
Used for refactorings that must not change behaviour (issue 12).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

EVAL_SNIPPET = """
import json, sys
from pathlib import Path
from minewatch import evaluate
from minewatch.config import load_settings
root, s = evaluate.prepare(Path(sys.argv[1]), load_settings(sys.argv[2]))
r = evaluate.evaluate(root, s)
Path(sys.argv[3]).write_text(json.dumps(r, sort_keys=True, ensure_ascii=False, indent=1, default=str))
"""


def _env(tree: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = f"{tree / 'src'}{os.pathsep}{tree}"
    return env


def run_tree(tree: Path, out: Path, config: Path, run_date: str, scenarios: Path) -> dict[str, str]:
    """The tree's outputs as {relative path: sha256}."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    night = out / "night"
    subprocess.run([sys.executable, "-m", "minewatch.cli", "run", "--config", str(config), "--date", run_date,
                    "--out", str(night)], cwd=tree, env=_env(tree), check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    subprocess.run([sys.executable, "-c", EVAL_SNIPPET, str(scenarios), str(config), str(out / "eval.json")],
                   cwd=tree, env=_env(tree), check=True, stdout=subprocess.DEVNULL)
    run_dir = night / run_date
    files = {f"night/{p.relative_to(run_dir)}": p for p in sorted(run_dir.rglob("*")) if p.is_file()}
    files["eval.json"] = out / "eval.json"
    return {k: hashlib.sha256(p.read_bytes()).hexdigest() for k, p in files.items()}


def compare(a: dict[str, str], b: dict[str, str]) -> list[str]:
    return [f"{k}: {'only in base' if k not in b else 'only in this tree' if k not in a else 'differs'}"
            for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", required=True, help="git revision to compare with (e.g. main before a change)")
    ap.add_argument("--out", default=None, help="where both trees' outputs go (default: a temporary folder)")
    ap.add_argument("--config", default="configs/sample.yaml")
    ap.add_argument("--date", default="2026-11-20")
    ap.add_argument("--scenarios", default=None, help="labelled scenarios (generated on first use)")
    a = ap.parse_args(argv)
    out = Path(a.out or tempfile.mkdtemp(prefix="mw-same-"))
    scenarios = Path(a.scenarios or out / "scenarios")
    base_tree = out / "base-tree"
    if base_tree.exists():
        subprocess.run(["git", "worktree", "remove", "--force", str(base_tree)], cwd=ROOT, check=False)
    subprocess.run(["git", "worktree", "add", "--detach", str(base_tree), a.base], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)
    try:
        # one config, registry, plans and catalogue for both: only the code differs
        config = (ROOT / a.config).resolve()
        base = run_tree(base_tree, out / "base", config, a.date, scenarios)
        this = run_tree(ROOT, out / "this", config, a.date, scenarios)
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(base_tree)], cwd=ROOT, check=False)
    diff = compare(base, this)
    for line in diff:
        print(line)
    print(json.dumps({"base": a.base, "files": len(this), "differ": len(diff), "out": str(out)}))
    return 1 if diff else 0


if __name__ == "__main__":
    raise SystemExit(main())
