#!/usr/bin/env bash
# Installs etcd for the benchmark when it is not on PATH: Debian's
# etcd-server package (etcd 3.4.23 on bookworm). Another build can be used
# with BENCH_FLAGS="-etcd-bin /path/to/etcd".
set -euo pipefail
if command -v etcd >/dev/null 2>&1; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "etcd is not installed and apt-get is not available; install etcd and put it on PATH" >&2
  exit 1
fi
sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get install -y etcd-server || { $sudo apt-get update && $sudo apt-get install -y etcd-server; }
# The package enables a system service on port 2379; the benchmark starts
# its own members on free ports and does not need it.
command -v etcd >/dev/null
etcd --version | head -1
