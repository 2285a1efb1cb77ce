#!/usr/bin/env bash
# Installs the Debian packages mediaapp needs beyond PyPI wheels.
#   packaging/system-deps.sh run    Qt's X11 (xcb) platform libraries, to open the window
#   packaging/system-deps.sh test   the validators of the .desktop entry and the AppStream metainfo (tests/packaging),
#                                   and exiftool, which writes the XMP sidecars and IPTC the metadata tests read
#   packaging/system-deps.sh dist   what `make dist` needs: binutils (PyInstaller's objdump/objcopy) and the run set,
#                                   whose libraries PyInstaller resolves and the smoke script's GUI start loads
#   packaging/system-deps.sh icons  rsvg-convert, to render resources/icons/mediaapp.png from the SVG (`make icons`)
# Installs only what is missing; needs root (or sudo) and apt-get, otherwise prints what to install.
set -euo pipefail
what=${1:-run}
run_pkgs=(libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libxcb-shape0
          libxcb-randr0 libxcb-xfixes0 libxcb-xinerama0 libxcb-xkb1 libxkbcommon-x11-0 libxkbcommon0
          libegl1 libgl1 libfontconfig1 libdbus-1-3 fonts-dejavu-core)
case "$what" in
  run)   pkgs=("${run_pkgs[@]}") ;;
  test)  pkgs=(desktop-file-utils appstream libimage-exiftool-perl) ;;
  dist)  pkgs=(binutils "${run_pkgs[@]}") ;;
  icons) pkgs=(librsvg2-bin) ;;
  *) echo "usage: $0 run|test|dist|icons" >&2; exit 2 ;;
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
