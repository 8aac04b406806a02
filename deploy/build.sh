#!/usr/bin/env bash
# Build ./build (or $1): the code plus requirements.txt installed for SCF (Linux x86_64, CPython 3.10).
# Binary wheels for that platform only, so compiled packages (pydantic-core, protobuf) match the cloud.
# crcmod (needed by cos-python-sdk-v5) ships only as source: we turn it into a pure-Python wheel
# (it falls back to its pure-Python CRC when its C extension is absent).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-build}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pip=(python3 -m pip --disable-pip-version-check --quiet)
"${pip[@]}" install --target "$tmp/tools" wheel
"${pip[@]}" wheel --no-deps --wheel-dir "$tmp/src" crcmod
PYTHONPATH="$tmp/tools" python3 -m wheel unpack --dest "$tmp/unpacked" "$tmp"/src/crcmod-*.whl
find "$tmp/unpacked" -name "*.so" -delete
sed -i -e 's/^Tag: .*/Tag: py3-none-any/' -e 's/^Root-Is-Purelib: .*/Root-Is-Purelib: true/' \
  "$tmp"/unpacked/crcmod-*/crcmod-*.dist-info/WHEEL
mkdir -p "$tmp/wheels"
PYTHONPATH="$tmp/tools" python3 -m wheel pack --dest-dir "$tmp/wheels" "$tmp"/unpacked/crcmod-*
rm -rf "$out"
mkdir -p "$out"
"${pip[@]}" install --target "$out" --find-links "$tmp/wheels" --platform manylinux2014_x86_64 \
  --implementation cp --python-version 3.10 --only-binary=:all: -r requirements.txt
cp -r index.py scf_bootstrap cssai handlers "$out"/
find "$out" -name "__pycache__" -type d -prune -exec rm -rf {} +
rm -rf "$out"/bin
du -sh "$out"
