#!/usr/bin/env bash
# Installs the Debian packages mediaapp needs beyond PyPI wheels.
#   packaging/system-deps.sh run    Qt's X11 (xcb) platform libraries, to open the window
#   packaging/system-deps.sh test   nothing extra today (tests run Qt offscreen); kept as the one place to add some
# Installs only what is missing; needs root (or sudo) and apt-get, otherwise prints what to install.
set -euo pipefail
what=${1:-run}
case "$what" in
  run)  pkgs=(libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libxcb-shape0
              libxcb-randr0 libxcb-xfixes0 libxcb-xinerama0 libxcb-xkb1 libxkbcommon-x11-0 libxkbcommon0
              libegl1 libgl1 libfontconfig1 libdbus-1-3 fonts-dejavu-core) ;;
  test) pkgs=() ;;
  *) echo "usage: $0 run|test" >&2; exit 2 ;;
esac
[ ${#pkgs[@]} -eq 0 ] && exit 0
command -v dpkg-query >/dev/null 2>&1 || { echo "not a Debian-like system: install the equivalents of: ${pkgs[*]}" >&2; exit 0; }
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ]; then sudo=""; elif command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
  echo "please install: apt-get install ${missing[*]}" >&2; exit 0; fi
echo "installing Debian packages: ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
