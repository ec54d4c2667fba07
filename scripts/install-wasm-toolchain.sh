#!/bin/sh
# Installs what `make wasm` needs to build the example modules
# (examples/modules): wat2wasm (Debian's wabt) for the WAT counters,
# clang and wasm-ld (Debian's clang and lld) for the C ones. The Go ones
# need only the Go toolchain. Idempotent: a tool already on PATH is not
# installed again; `apt-get update` runs only when an install fails.
# `make test` needs none of these (the tests use the committed .wasm).
set -eu

missing=""
command -v wat2wasm >/dev/null 2>&1 || missing="$missing wabt"
command -v clang >/dev/null 2>&1 || missing="$missing clang"
command -v wasm-ld >/dev/null 2>&1 || missing="$missing lld"
[ -z "$missing" ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "install-wasm-toolchain: installing$missing"
# shellcheck disable=SC2086
$sudo apt-get install -y $missing || { $sudo apt-get update && $sudo apt-get install -y $missing; }
