#!/bin/sh
# Installs the browser the dashboard's browser tests drive (ui/
# browser_test.go): Debian's chromium, at /usr/bin/chromium. Idempotent
# and quiet: nothing is done, and nothing printed, when /usr/bin/chromium
# exists; `apt-get update` runs only when the install fails. `make test`
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
echo "install-browser: installing chromium"
$sudo apt-get install -y -q chromium >/dev/null || { $sudo apt-get update -q >/dev/null && $sudo apt-get install -y -q chromium >/dev/null; }
[ -x /usr/bin/chromium ] || { echo "install-browser: chromium installed but /usr/bin/chromium is missing" >&2; exit 1; }
