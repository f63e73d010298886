#!/usr/bin/env bash
# demo-onshid.sh — the main job through the service, with no hardware: build
# if needed, make a virtual My Number card, plug it into the emulated USB CCID
# reader, start a private pcscd, a private system bus and onshid on it, then
# run `onshictl auth --pin` the way the online qualification check does: the
# card holder's PIN (here the card's auth_pin from card.conf, fed on stdin
# to onshictl's terminal agent) unlocks the user-authentication key, which
# signs a challenge.  Prints the status, the result, and checks the signature
# with openssl against the card's certificate.  Everything it starts is
# stopped again.
#
# Usage: tools/demo-onshid.sh [--profile NAME] [--driver onshi|libccid|BUNDLE_DIR] [--builddir DIR]
#   --profile   emulated reader: tpdu-t1 (default), short-apdu, extended-apdu,
#               multi-slot, pinpad (the PIN is then typed on the emulated keypad)
#   --driver    onshi (our ifd-onshi bundle from the build tree, default),
#               libccid (Debian's CCID driver) or a driver bundle directory
#   --builddir  a configured build directory (default: the source tree if it
#               is configured, else _build/demo, configured on first use)
# Exit status 0 only if onshictl auth succeeded and the signature verifies.
set -euo pipefail

me=demo-onshid.sh
driver=onshi
help_lines=2,19p
# shellcheck source=tools/demo-common.sh
. "$(dirname "$0")/demo-common.sh"
demo_parse_args "$@"

# ---- build ---------------------------------------------------------------
demo_build
onshid=$builddir/daemon/onshid
ctl=$builddir/daemon/onshictl
[ "$driver" != onshi ] || driver=$builddir/driver/ifd-onshi.bundle
[ "$driver" = libccid ] || [ -f "$driver/Contents/Info.plist" ] || die "no driver bundle at $driver"

# ---- card, challenge, bus policy -------------------------------------------
work=$(mktemp -d /tmp/onshi-demo.XXXXXX)
trap 'rm -rf "$work"' EXIT
echo "== generating a virtual My Number card (test PKI) in $work/card"
sh "$top/tests/vcard/mkcard.sh" "$work/card" >/dev/null
pin=$(sed -n 's/^auth_pin=//p' "$work/card/card.conf")
[ -n "$pin" ] || die "no auth_pin in $work/card/card.conf"
printf 'onshi demo: qualification check nonce %s\n' "$(date -u +%s)" >"$work/challenge"
# The bus policy the service tests use (root owns the name and may call
# agents; group onshi may call onshid).
policy=$("$python" -c 'import sys; sys.path.insert(0, sys.argv[1]); import onshid_client as c
if c.ensure_groups("onshi", "onshi-personal") is None: sys.exit("cannot create groups")
print(c.write_policy(sys.argv[2]))' "$top/tests/e2e" "$work") || die "cannot write the bus policy"

# ---- the job -------------------------------------------------------------
echo "== reader profile $profile, driver $driver, private pcscd + system bus + onshid"
status=0
"$python" "$top/tests/harness/onshi_testenv.py" --profile "$profile" --driver "$driver" \
	--card "vcard:$work/card" --dbus-policy-file "$policy" -- sh -c '
	set -e
	onshid=$1 ctl=$2 work=$3 pin=$4 profile=$5
	"$onshid" --bus-address "$DBUS_SYSTEM_BUS_ADDRESS" 2>"$work/onshid.log" &
	daemon=$!
	trap "kill \$daemon 2>/dev/null; wait \$daemon 2>/dev/null || true" EXIT
	# wait-card also waits for onshid to take its bus name (no polling).
	"$ctl" wait-card --timeout 30 >/dev/null
	echo "== onshictl status"
	"$ctl" status
	if [ "$profile" = pinpad ]; then
		/usr/bin/python3 -c "import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(b\"keypad %s\n\" % sys.argv[2].encode()); s.recv(64)" "$ONSHI_CONTROL" "$pin"
	fi
	echo "== onshictl auth --pin (the card holder PIN arrives on stdin, never printed)"
	printf "%s\n" "$pin" | "$ctl" auth --pin --challenge-file "$work/challenge" | tee "$work/auth.txt"
	"$ctl" cert auth --der --out "$work/auth.der" >/dev/null
	' demo "$onshid" "$ctl" "$work" "$pin" "$profile" || status=$?
if [ $status -ne 0 ]; then
	echo "demo-onshid.sh: FAILED (status $status; onshid log below)" >&2
	tail -n 20 "$work/onshid.log" >&2 2>/dev/null || true
	exit 1
fi

# ---- check the result like a relying party would -----------------------------
cmp -s "$work/auth.der" "$work/card/auth.der" ||
	die "FAILED: the certificate from onshid differs from the card's"
"$python" -c 'import sys; open(sys.argv[2], "wb").write(bytes.fromhex(next(
    l.split(": ", 1)[1] for l in open(sys.argv[1]) if l.startswith("signature: "))))' \
	"$work/auth.txt" "$work/auth.sig" || die "FAILED: no signature in the output"
openssl x509 -inform DER -in "$work/auth.der" -pubkey -noout -out "$work/pub.pem"
# onshid 0.1.0 signs a SHA-256 DigestInfo of the challenge; the interface
# text also allows the challenge itself to be the signed payload.
if openssl dgst -sha256 -verify "$work/pub.pem" -signature "$work/auth.sig" "$work/challenge" >/dev/null 2>&1; then
	echo "== OK: the signature verifies (RSA PKCS#1 v1.5, SHA-256 over the challenge) with the card's certificate"
elif openssl pkeyutl -verifyrecover -pubin -inkey "$work/pub.pem" -in "$work/auth.sig" 2>/dev/null |
	cmp -s - "$work/challenge"; then
	echo "== OK: the signature verifies (RSA PKCS#1 v1.5 over the challenge bytes) with the card's certificate"
else
	die "FAILED: the signature does not verify with the card's certificate"
fi
