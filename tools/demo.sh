#!/usr/bin/env bash
# demo.sh — the main job, with no hardware: build if needed, make a virtual
# My Number card, plug it into the emulated USB CCID reader, start a private
# pcscd with the chosen driver, read the card's JPKI user-authentication
# certificate (利用者証明用電子証明書, EF 000A) through PC/SC and print its
# subject, serial and validity.  Everything it starts is stopped again.
#
# Usage: tools/demo.sh [--profile NAME] [--driver libccid|BUNDLE_DIR] [--builddir DIR]
#   --profile   emulated reader: tpdu-t1 (default), short-apdu, extended-apdu,
#               multi-slot, pinpad
#   --driver    libccid (Debian's CCID driver, default) or a driver bundle
#   --builddir  a configured build directory (default: the source tree if it
#               is configured, else _build/demo, configured on first use)
# Exit status 0 only if the certificate was read and matches the card's.
set -euo pipefail

me=demo.sh
driver=libccid
help_lines=2,15p
# shellcheck source=tools/demo-common.sh
. "$(dirname "$0")/demo-common.sh"
demo_parse_args "$@"

# ---- build ---------------------------------------------------------------
demo_build
probe=$builddir/tests/tools/onshi-pcsc-probe

# ---- card ----------------------------------------------------------------
work=$(mktemp -d /tmp/onshi-demo.XXXXXX)
trap 'rm -rf "$work"' EXIT
echo "== generating a virtual My Number card (test PKI) in $work/card"
sh "$top/tests/vcard/mkcard.sh" "$work/card" >/dev/null

# ---- the job -------------------------------------------------------------
echo "== reader profile $profile, driver $driver, private pcscd"
status=0
# shellcheck disable=SC2016 # $1/$2 expand in the inner shell
"$python" "$top/tests/harness/onshi_testenv.py" --profile "$profile" --driver "$driver" \
	--card "vcard:$work/card" -- sh -c '
	set -e
	"$1" --timeout 15000 wait-card >/dev/null
	"$1" list | sed -n "1s/^0: /reader: /p"
	"$1" atr | sed -n "s/^ATR=/card ATR: /p"
	"$1" read-cert auth --out "$2/auth.der"
	"$1" info "$2/auth.der"
	' demo "$probe" "$work" || status=$?
if [ $status -ne 0 ]; then
	echo "demo.sh: FAILED (status $status)" >&2
	exit 1
fi
if ! cmp -s "$work/auth.der" "$work/card/auth.der"; then
	echo "demo.sh: FAILED: the certificate read through pcscd differs from the card's" >&2
	exit 1
fi
echo "== OK: the certificate read through pcscd is byte-identical to the card's EF 000A"
