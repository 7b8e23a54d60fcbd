#!/usr/bin/env bash
# The main job on the bundled sample, from a fresh clone: set up, start the local STAC
# catalogue, generate the sample scenes (first use), load them, run the nightly flow
# once, list the outputs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
MW=.venv/bin/minewatch
CFG=configs/sample.yaml
$MW catalog up --config $CFG
catalog_dir=$($MW sample --dir sample_scenes | tail -n 1)
$MW catalog load "$catalog_dir" --config $CFG
$MW run --config $CFG --date "${MINEWATCH_DATE:-2026-11-20}"
