#!/bin/sh
# Installs the browser the dashboard's browser tests drive (ui/
# browser_test.go): Debian's chromium, at /usr/bin/chromium. Idempotent
# and quiet: nothing is done, and nothing printed, when /usr/bin/chromium
# exists; otherwise one line, apt's output only if the install fails.
# `apt-get update` runs only when the first install fails. `make test`
# runs it first.
set -eu

[ -x /usr/bin/chromium ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
	echo "install-browser: /usr/bin/chromium is missing and apt-get is not available; install Debian's chromium package" >&2
	exit 1
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
trap 'rm -f "$log"' EXIT
echo "install-browser: installing Debian's chromium (for the dashboard's browser tests)"
if ! { $sudo apt-get install -y -q chromium >"$log" 2>&1 ||
	{ $sudo apt-get update -q >>"$log" 2>&1 && $sudo apt-get install -y -q chromium >>"$log" 2>&1; }; }; then
	cat "$log" >&2
	echo "install-browser: apt-get could not install chromium" >&2
	exit 1
fi
[ -x /usr/bin/chromium ] || { echo "install-browser: chromium installed but /usr/bin/chromium is missing" >&2; exit 1; }
