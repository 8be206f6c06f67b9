#!/usr/bin/env bash
# Install the Debian packages the suite uses, when missing:
#   python3-venv (to create .venv), curl (serving a case by hand),
#   nghttp2-server (nghttpd: the benchmark's native floor),
#   chromium (the self-tests load report.html in headless Chromium).
set -euo pipefail
need=()
python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)
command -v curl >/dev/null || need+=(curl)
command -v nghttpd >/dev/null || need+=(nghttp2-server)
command -v chromium >/dev/null || need+=(chromium)
[ ${#need[@]} -eq 0 ] && exit 0
echo "setup: installing ${need[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
