#!/usr/bin/env bash
# Build ./build (or $1): the code plus the lock requirements.txt installed for SCF (Linux x86_64, CPython 3.10).
# Binary wheels for that platform only, so compiled packages (pydantic-core, protobuf) match the cloud.
# crcmod (needed by cos-python-sdk-v5) ships only as source: we turn it into a pure-Python wheel
# (it falls back to its pure-Python CRC when its C extension is absent).
# The packaging tools run from a fresh virtual environment of their own, so nothing from the
# machine's global site-packages can leak into the package.
# Before building for a deploy it checks the settings the deploy will read (the environment, else .env):
# - every ${env:X} of serverless.yml must be set: the deploy CLI drops an unset whole-value reference
#   (an unset REGION deploys to ap-guangzhou, an unset variable is missing from the function) and
#   turns one inside a longer value into the string "undefined";
# - CSS_CALLBACK_KEYS or CALLBACK_URL_TOKENS must be set: with neither every callback is refused;
# - no placeholder of deploy/env.example may be left (REPLACE-ME, the sample appid 1250000000).
# CHECK_DEPLOY_ENV=0 skips that check (the size benchmark builds without a .env); CHECK_ONLY=1 runs it alone.
# The package ships compiled bytecode for Python 3.10: SCF's code folder is read-only, so without it
# every cold start compiles the SDKs again (the CLS SDK's models.py alone is 2 MB of source: about
# +400 ms and +50 MB of peak memory per cold start, measured). It needs a Python 3.10 (pyenv's, or
# python3.10 on the PATH) and says so loudly when there is none.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-build}

value_of() {  # value_of NAME: the environment's value, else the last NAME= line of .env (quotes removed)
  if [[ -n "${!1+set}" ]]; then printf '%s' "${!1}"; return 0; fi
  [[ -f .env ]] || return 1
  local line
  line=$(grep -E "^(export[[:space:]]+)?$1=" .env | tail -1) || return 1
  line=${line#*=}
  line=${line%\"}; line=${line#\"}; line=${line%\'}; line=${line#\'}
  printf '%s' "$line"
}

if [[ "${CHECK_DEPLOY_ENV:-1}" == "1" ]]; then
  problems=()
  for name in $(grep -v '^[[:space:]]*#' serverless.yml | grep -o '\${env:[A-Za-z_][A-Za-z0-9_]*}' | sed 's/^\${env:\(.*\)}$/\1/' | sort -u); do
    if ! value=$(value_of "$name"); then
      problems+=("$name is not set: the deploy CLI would drop it (or deploy \"undefined\" inside a longer value)")
    elif [[ "$value" == *REPLACE-ME* || "$value" == *1250000000* ]]; then
      problems+=("$name is still the placeholder of deploy/env.example ($value)")
    elif [[ "$value" == "undefined" ]]; then
      problems+=("$name is the string \"undefined\"")
    fi
  done
  keys=$(value_of CSS_CALLBACK_KEYS || true)
  tokens=$(value_of CALLBACK_URL_TOKENS || true)
  if [[ -z "${keys// /}" && -z "${tokens// /}" ]]; then
    problems+=("neither CSS_CALLBACK_KEYS nor CALLBACK_URL_TOKENS is set: the function would refuse every callback (401)")
  fi
  if (( ${#problems[@]} )); then
    echo "deploy/build.sh: this package would not work once deployed:" >&2
    printf '  - %s\n' "${problems[@]}" >&2
    echo "  Copy deploy/env.example to .env and fill it in (python index.py setup prints the COS and CLS lines)." >&2
    exit 2
  fi
fi
if [[ "${CHECK_ONLY:-0}" == "1" ]]; then  # the settings check alone (tests/test_deploy_config.py)
  echo "deploy/build.sh: the settings are complete"
  exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -m venv "$tmp/venv"
export PYTHONNOUSERSITE=1
pip=("$tmp/venv/bin/python" -m pip --disable-pip-version-check --quiet)
"${pip[@]}" install wheel
# requirements.txt is the lock (exact versions, sha256 of every file): what CI tested is what ships.
# crcmod's block is split off: its source, checked against the lock's hash, becomes the local wheel below.
awk '/^crcmod==/{skip=1; print > "'"$tmp"'/crcmod.txt"; next} skip && /^[[:space:]]/{print > "'"$tmp"'/crcmod.txt"; next}
     {skip=0; print}' requirements.txt > "$tmp/ship.txt"
"${pip[@]}" wheel --no-deps --require-hashes --wheel-dir "$tmp/src" -r "$tmp/crcmod.txt"
"$tmp/venv/bin/python" -m wheel unpack --dest "$tmp/unpacked" "$tmp"/src/crcmod-*.whl
find "$tmp/unpacked" -name "*.so" -delete
sed -i -e 's/^Tag: .*/Tag: py3-none-any/' -e 's/^Root-Is-Purelib: .*/Root-Is-Purelib: true/' \
  "$tmp"/unpacked/crcmod-*/crcmod-*.dist-info/WHEEL
mkdir -p "$tmp/wheels"
"$tmp/venv/bin/python" -m wheel pack --dest-dir "$tmp/wheels" "$tmp"/unpacked/crcmod-*
rm -rf "$out"
mkdir -p "$out"
"${pip[@]}" install --target "$out" --require-hashes --no-deps --platform manylinux2014_x86_64 \
  --implementation cp --python-version 3.10 --only-binary=:all: -r "$tmp/ship.txt"
"${pip[@]}" install --target "$out" --no-deps --no-index "$tmp"/wheels/crcmod-*.whl
cp -r index.py scf_bootstrap cssai handlers "$out"/
find "$out" -name "__pycache__" -type d -prune -exec rm -rf {} +
rm -rf "$out"/bin
py310=""
if command -v pyenv >/dev/null 2>&1; then
  py310=$(ls -d "$(pyenv root)"/versions/3.10*/bin/python 2>/dev/null | sort -V | tail -1 || true)
fi
py310=${py310:-$(command -v python3.10 || true)}
if [[ -n "$py310" ]]; then
  # unchecked-hash: valid whatever modification times the unzipped package gets
  PYTHONDONTWRITEBYTECODE= "$py310" -m compileall -q -j 0 --invalidation-mode unchecked-hash "$out" >/dev/null
else
  echo "deploy/build.sh: WARNING: no Python 3.10 here: the package has no bytecode, so every cold start" >&2
  echo "  compiles the SDKs (about +400 ms and +50 MB). Install Python 3.10 and build again." >&2
fi
du -sh "$out"
