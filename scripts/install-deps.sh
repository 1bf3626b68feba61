#!/bin/sh
# Installs the named Debian packages that are missing; the Swift toolchain must be on PATH.
set -eu
command -v swift >/dev/null 2>&1 || {
    echo "install-deps: no swift on PATH: install the Swift 6 toolchain from swift.org first" >&2
    exit 1
}
missing=""
for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing="$missing $package"
done
[ -z "$missing" ] && exit 0
echo "install-deps: installing:$missing"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
