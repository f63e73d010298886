#!/bin/sh
# Install what onshi needs to build and test on Debian 12 (root, or via sudo).
# Idempotent: does nothing when every package is already installed.
set -eu
PKGS="build-essential autoconf automake libtool autoconf-archive pkg-config
 libusb-1.0-0-dev libpcsclite-dev libsystemd-dev libudev-dev libssl-dev openssl udev
 check umockdev libumockdev-dev libglib2.0-dev libopenjp2-tools
 pcscd libccid pcsc-tools opensc dbus systemd
 clang libclang-rt-14-dev
 vsmartcard-vpcd python3 python3-virtualsmartcard python3-pycryptodome
 libxml2-utils python3-gi"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing
