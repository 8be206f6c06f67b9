#!/usr/bin/env bash
# Prepare a build that is a Python package from PyPI, in its own venv:
#   build-venv.sh NAME REQUIREMENT...
# Idempotent: an existing venv with the stamp is left as it is.
set -euo pipefail
name=$1; shift
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="${H2CS_BUILDS:-$root/builds}/$name"
[ -f "$dir/.prepared" ] && [ -x "$dir/venv/bin/python" ] && exit 0
echo "builds: preparing $name ($*)"
rm -rf "$dir"
mkdir -p "$dir"
python3 -m venv "$dir/venv"
"$dir/venv/bin/python" -m pip install -q --disable-pip-version-check "$@"
printf '%s\n' "$@" > "$dir/requirements.txt"
touch "$dir/.prepared"
