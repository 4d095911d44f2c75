#!/usr/bin/env bash
# Installs exactly the Debian 12 packages strom's build, tests and demo need, when missing.
# Idempotent and quiet when everything is already there. Needs root (or sudo) only to install.
set -euo pipefail

PKGS=(
  build-essential cmake pkg-config   # compiler, build system
  clang libclang-rt-14-dev           # libFuzzer targets and their sanitizer runtime
  libzstd-dev                        # ZSTD column codec (default)
  liblz4-dev                         # LZ4 column codec (fast)
  libxxhash-dev                      # XXH3: bucket hashing, key indexes
  librocksdb-dev                     # state store of primary-key tables (src/kv): an LSM
                                     # with bloom filters, block cache, prefix seeks, multi-get
  libsqlite3-dev                     # SQL engine of `strom sql` (virtual tables over strom tables)
  libedit-dev                        # line editing and history of the `strom sql` shell
  libcmocka-dev                      # unit tests
  redis-server                       # `strom bench kv` measures a private Redis next to
                                     # strom's lookups (own RESP client: no libhiredis)
  redis-tools                        # redis-benchmark: `strom bench server` compares its
                                     # lookups with Redis GET (a dependency of redis-server)
  gnuplot-nox                        # `strom grid analyze`: voltage/current plots as PNG
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root to install: ${missing[*]}" >&2; exit 1; }
  SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
