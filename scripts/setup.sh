#!/usr/bin/env bash
# Installs what minewatch needs on a fresh Debian/Ubuntu machine: PostgreSQL 15 + PostGIS
# (the local STAC catalogue), then a fresh virtual environment in .venv with the pinned
# Python stack. Idempotent; run as root or with sudo available.
set -euo pipefail
cd "$(dirname "$0")/.."

debs=(postgresql-15 postgresql-15-postgis-3 gdal-bin python3-gdal fonts-noto-cjk chromium chromium-driver poppler-utils python3-qgis)
missing=()
for d in "${debs[@]}"; do dpkg -s "$d" >/dev/null 2>&1 || missing+=("$d"); done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi

PY=${PYTHON:-python3}
if [ "${MINEWATCH_FRESH_VENV:-0}" = 1 ]; then rm -rf .venv; fi
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -c requirements.lock -e ".[test]"
echo "setup done: $(.venv/bin/python -c 'import minewatch; print("minewatch", minewatch.__version__)')"
