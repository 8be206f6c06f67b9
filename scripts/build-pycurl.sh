#!/usr/bin/env bash
# Prepare pycurl compiled from source against a chosen libcurl, in its own venv:
#   build-pycurl.sh NAME DEBIAN_DEV_PACKAGE    e.g. debian-gnutls libcurl4-gnutls-dev
#   build-pycurl.sh NAME --curl-config PATH    any libcurl; also writes builds/NAME/client.toml
# Writes builds/NAME/{venv,build.txt,.prepared}. Idempotent: a build whose stamp names the
# same source and whose pycurl imports is left as it is.
set -euo pipefail
PYCURL="pycurl==7.49.0"   # the version the pycurl-wheel build uses
# Debian's libcurl -dev packages conflict with one another; their runtime libraries do not.
DEV_PACKAGES=(libcurl4-openssl-dev libcurl4-gnutls-dev libcurl4-nss-dev)
LOCK="${TMPDIR:-/tmp}/h2cs-build-pycurl.lock"

usage() {
  echo "usage: $0 NAME DEBIAN_DEV_PACKAGE | $0 NAME --curl-config PATH" >&2
  exit 2
}

fail() {
  echo "build-pycurl: $name: $*" >&2
  exit 1
}

sudo_() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

apt_install() {
  local apt=(env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@")
  compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null || sudo_ apt-get update -qq
  sudo_ "${apt[@]}" >/dev/null || { sudo_ apt-get update -qq && sudo_ "${apt[@]}" >/dev/null; }
}

installed_dev_package() {
  local pkg
  for pkg in "${DEV_PACKAGES[@]}"; do
    [ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null)" = "install ok installed" ] && echo "$pkg"
  done
  return 0
}

restore_dev_package() {
  # With none found at the start, the one just installed stays: nothing needs it gone, and
  # Debian's curl-config then remains for `make build`. The runtime libraries (libcurl4,
  # libcurl3-gnutls) coexist, so every build made here keeps working either way.
  local found=$1
  [ -z "$found" ] || [ "$(installed_dev_package)" = "$found" ] || apt_install "$found"
}

install_debian_dev() {
  local tls_dev found headers=()
  case $dev in
    *openssl*) tls_dev=libssl-dev ;;
    *gnutls*) tls_dev=libgnutls28-dev ;;
    *) fail "unsupported Debian package $dev (libcurl4-openssl-dev or libcurl4-gnutls-dev)" ;;
  esac
  python3 -c 'import os, sys, sysconfig
sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' ||
    headers=(python3-dev)
  found=$(installed_dev_package)
  trap "restore_dev_package '$found'" EXIT
  echo "builds: installing $dev (found: ${found:-none})"
  apt_install "$dev" "$tls_dev" gcc "${headers[@]}"
  origin="$dev $(dpkg-query -W -f='${Version}' "$dev")"
}

libcurl_dir() {
  # Where this libcurl's shared library lives: a -L of curl-config, else under its prefix.
  local flag dir prefix
  for flag in $("$curl_config" --libs); do
    case $flag in -L*) compgen -G "${flag#-L}/libcurl*.so*" >/dev/null && { echo "${flag#-L}"; return; } ;; esac
  done
  prefix=$("$curl_config" --prefix)
  for dir in "$prefix/lib" "$prefix/lib64" "$prefix/lib/$(gcc -dumpmachine 2>/dev/null)"; do
    compgen -G "$dir/libcurl*.so*" >/dev/null && { echo "$dir"; return; }
  done
  fail "no libcurl*.so found for $curl_config (looked in its -L dirs and under $prefix)"
}

tls_backend() {
  # PYCURL_SSL_LIBRARY for this libcurl: its first TLS backend; empty without TLS.
  local names
  "$curl_config" --features | grep -qx SSL || return 0
  names=$("$curl_config" --ssl-backends 2>/dev/null) || names=$("$curl_config" --static-libs)
  case ${names%%,*} in
    *OpenSSL* | *LibreSSL* | *BoringSSL* | *-lssl*) echo openssl ;;
    *GnuTLS* | *-lgnutls*) echo gnutls ;;
    *wolfSSL* | *-lwolfssl*) echo wolfssl ;;
    *mbedTLS* | *-lmbedtls*) echo mbedtls ;;
    *NSS* | *-lnss3*) echo nss ;;
  esac
}

in_venv() {
  (cd "$root" && env "${ld_env[@]}" "$dir/venv/bin/python" "$@")
}

already_prepared() {
  [ "$(cat "$dir/.prepared" 2>/dev/null)" = "$stamp" ] && in_venv -c 'import pycurl' 2>/dev/null
}

compile_pycurl() {
  local ssl
  ssl=$(tls_backend)
  echo "builds: preparing $name ($PYCURL from source against $curl_config, TLS: ${ssl:-none})"
  rm -rf "$dir"
  mkdir -p "$dir"
  python3 -m venv "$dir/venv"
  env PYCURL_CURL_CONFIG="$curl_config" ${ssl:+PYCURL_SSL_LIBRARY=$ssl} \
    "$dir/venv/bin/python" -m pip install -q --disable-pip-version-check \
    --no-cache-dir --no-binary pycurl "$PYCURL"
}

verify_and_record() {
  # The built pycurl must load this libcurl (ldd, version string) and say so in its hello.
  local curl_version version so linked path hello
  curl_version=$("$curl_config" --version)
  version=$(in_venv -c 'import pycurl; print(pycurl.version)')
  so=$(find "$dir/venv/lib" -name '*pycurl*.so' | head -n1)
  linked=$(grep -m1 libcurl <<<"$(env "${ld_env[@]}" ldd "$so")") || fail "ldd shows no libcurl in $so"
  hello=$(in_venv -m conformance.clients.pycurl_adapter </dev/null)
  [[ $version == *" libcurl/${curl_version#libcurl }"* ]] || fail "built against $curl_version, loads: $version"
  [ -z "$tls_label" ] || [[ $version == *" $tls_label/"* ]] || fail "expected a $tls_label libcurl, loads: $version"
  [[ $linked != *"not found"* ]] || fail "ldd: $linked"
  path=${linked#*=> }
  path=${path% (*}
  if [ -n "$libdir" ] && [ "$(realpath "$(dirname "$path")")" != "$(realpath "$libdir")" ]; then
    fail "loads libcurl from outside $libdir: $linked"
  fi
  [[ $hello == *"\"version\": \"$version\""* ]] || fail "adapter hello does not report $version: $hello"
  {
    echo "built: $(date -u +%FT%TZ) by scripts/build-pycurl.sh"
    echo "source: $origin"
    echo "curl-config: $curl_config ($curl_version)"
    echo "pycurl: $PYCURL, compiled from the PyPI sdist"
    echo "linked: ${linked#"${linked%%[![:space:]]*}"}"
    [ -z "$libdir" ] || echo "LD_LIBRARY_PATH: $libdir"
    echo "pycurl.version: $version"
  } >"$dir/build.txt"
}

toml_string() {
  local s=${1//\\/\\\\}
  printf '"%s"' "${s//\"/\\\"}"
}

write_client_toml() {
  {
    echo "[$name]"
    echo "description = $(toml_string "pycurl built against $("$curl_config" --version) from $curl_config")"
    echo "command = [\"{builds}/$name/venv/bin/python\", \"-m\", \"conformance.clients.pycurl_adapter\"]"
    echo "env = { LD_LIBRARY_PATH = $(toml_string "$libdir") }"
    echo "matrix = true"
  } >"$dir/client.toml"
}

[ $# -ge 2 ] || usage
name=$1
[[ $name =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ ]] || fail "a build name is letters, digits, '.', '_', '-'"
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="${H2CS_BUILDS:-$root/builds}/$name"
libdir=""
ld_env=()
tls_label=""   # the TLS library a Debian package names
if [ "$2" = --curl-config ]; then
  [ $# -eq 3 ] || usage
  ! grep -qxF "[$name]" "$root/clients.toml" || fail "the name is taken by clients.toml"
  curl_config=$(realpath -s "$3")
  [ -x "$curl_config" ] || fail "$curl_config is not an executable curl-config"
  stamp="curl-config $curl_config"
  origin=$stamp
  libdir=$(libcurl_dir)
  ld_env=(LD_LIBRARY_PATH="$libdir")
  already_prepared && exit 0
else
  [ $# -eq 2 ] || usage
  dev=$2
  curl_config=/usr/bin/curl-config
  stamp=$dev
  case $dev in *openssl*) tls_label=OpenSSL ;; *gnutls*) tls_label=GnuTLS ;; esac
  already_prepared && exit 0
  exec 9>"$LOCK"
  flock 9   # one -dev package at a time on this machine
  install_debian_dev
fi
compile_pycurl
verify_and_record
[ -z "$libdir" ] || write_client_toml
echo "$stamp" >"$dir/.prepared"
echo "builds: $name ready: $(tail -n1 "$dir/build.txt")"
