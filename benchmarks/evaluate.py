"""Evaluation benchmark: all labelled scenarios, optionally repeated with other seeds' weather.

    PYTHONPATH=src:. python benchmarks/evaluate.py --scenarios /tmp/mw-eval [--config configs/sample.yaml]
        [--ablate-reference]

Needs the local catalogue of the config (`minewatch catalog up`, started if down). Prints the
per-type table and one JSON line; with --ablate-reference it also runs without the reference
ring, to show what the normalisation buys (drought and late-spring scenarios).
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from minewatch import evaluate
from minewatch.config import load_settings


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenarios", required=True)
    ap.add_argument("--config", default="configs/sample.yaml")
    ap.add_argument("--ablate-reference", action="store_true")
    a = ap.parse_args()
    s = load_settings(a.config)
    t0 = time.time()
    root, s = evaluate.prepare(Path(a.scenarios), s)
    t_gen = time.time() - t0
    t1 = time.time()
    r = evaluate.evaluate(root, s)
    t_eval = time.time() - t1
    evaluate.print_report(r)
    out = {"generate_s": round(t_gen, 1), "evaluate_s": round(t_eval, 1), "precision": r["precision"],
           "recall": r["recall"], "cloud_only_flags": r["cloud_only_flags"]}
    if a.ablate_reference:
        s2 = s.model_copy(update={"assess": s.assess.model_copy(
            update={"reference": s.assess.reference.model_copy(update={"enabled": False})})})
        r2 = evaluate.evaluate(root, s2)
        print("without the reference ring:")
        evaluate.print_report(r2)
        out["without_reference"] = {"precision": r2["precision"], "recall": r2["recall"]}
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
