#!/bin/sh
# test-packaging.sh — the packaging data is what pcscd, udev, dbus-daemon,
# systemd and polkit expect, and "make install" puts it where configure said.
#
# Runs from "make check" (SH_LOG_COMPILER) with ONSHI_TOP_SRCDIR,
# ONSHI_TOP_BUILDDIR and ONSHI_PYTHON set.  Prints one "ok"/"not ok" line per
# check; exits 1 if any failed, 77 if a prerequisite is missing.
set -u

S=${ONSHI_TOP_SRCDIR:?run me from make check}
B=${ONSHI_TOP_BUILDDIR:?run me from make check}
PY=${ONSHI_PYTHON:-/usr/bin/python3}
GEN="$S/tools/gen-reader-files.sh"
LIST="$S/driver/readers.list"
PLIST="$B/driver/ifd-onshi.bundle/Contents/Info.plist"
RULES="$B/udev/92-onshi-ccid.rules"
XML="$S/dbus/org.onshi.Onshi1.xml"
CONF="$B/dbus/org.onshi.Onshi1.conf"
UNIT="$B/dbus/onshid.service"
ACTIVATION="$B/dbus/org.onshi.Onshi1.service"
SYSUSERS="$B/dbus/sysusers.d/onshi.conf"
POLKIT="$B/dbus/50-onshi-pcscd.rules"

"$PY" -c 'import xml.etree.ElementTree' 2>/dev/null || { echo "SKIP: no python3 at $PY"; exit 77; }

T=$(mktemp -d "${TMPDIR:-/tmp}/onshi-pkg.XXXXXX") || exit 1
bus_pid=""
owner_pid=""
cleanup() {
	[ -n "$owner_pid" ] && kill "$owner_pid" 2>/dev/null && wait "$owner_pid" 2>/dev/null
	[ -n "$bus_pid" ] && kill "$bus_pid" 2>/dev/null && wait "$bus_pid" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

n=0 failures=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failures=$((failures + 1)); echo "not ok $n - $1"; }
# check DESCRIPTION COMMAND...: the command's output goes to the log.
check() {
	desc=$1; shift
	if "$@" >"$T/out" 2>&1; then ok "$desc"; else not_ok "$desc"; sed 's/^/#   /' "$T/out"; fi
}

# A value configure gave make, fully expanded (e.g. usbdropdir).
printf 'onshi-print-%%:\n\t@echo $($*)\n' >"$T/print.mk"
make_var() {
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s --no-print-directory -C "$B" \
		-f Makefile -f "$T/print.mk" "onshi-print-$1" | tail -n 1
}
PCSCD_GROUP=$(make_var PCSCD_GROUP)
ONSHI_USER=$(make_var ONSHI_USER)
ONSHI_GROUP=$(make_var ONSHI_GROUP)
ONSHI_PERSONAL_GROUP=$(make_var ONSHI_PERSONAL_GROUP)
libexecdir=$(make_var libexecdir)

# ---------------------------------------------------------------- Info.plist
xml_well_formed() {
	if command -v xmllint >/dev/null 2>&1; then
		xmllint --noout --nonet "$1"
	else
		"$PY" -c 'import sys, xml.etree.ElementTree as E; E.parse(sys.argv[1])' "$1"
	fi
}
check "Info.plist is well-formed XML" xml_well_formed "$PLIST"

# The list is parsed here independently of the generator (Python, not awk).
cat >"$T/readers.py" <<'EOF'
import re, sys
def readers(path):
    out = []
    for no, line in enumerate(open(path, encoding="utf-8"), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = re.fullmatch(r'(\S+)\s+(\S+)\s+(\S+)\s+"([^"]*)"', line)
        assert m, "line %d unparsable: %r" % (no, line)
        vid, pid, quirks, name = m.groups()
        out.append((vid.upper(), pid.upper(), [] if quirks == "-" else quirks.split(","), name))
    return out
EOF

check "Info.plist: keys, parallel arrays, every listed reader with its quirks" \
	"$PY" - "$PLIST" "$LIST" "$T" <<'EOF'
import sys, xml.etree.ElementTree as E
sys.path.insert(0, sys.argv[3])
from readers import readers
d = E.parse(sys.argv[1]).getroot().find("dict")
kids = list(d)
keys = {}
for k, v in zip(kids[::2], kids[1::2]):
    assert k.tag == "key", k.tag
    keys[k.text] = [s.text for s in v] if v.tag == "array" else v.text
want = {"CFBundleExecutable": "libifd-onshi.so", "CFBundleIdentifier": "org.onshi.ifd",
        "ifdLogLevel": "0x0003", "ifdDriverOptions": "0x0000", "ifdCapabilities": "0x00000000",
        "ifdProtocolSupport": "0x00000001", "ifdVersionNumber": "0x00000001"}
for k, v in want.items():
    assert keys.get(k) == v, "%s = %r, want %r" % (k, keys.get(k), v)
for k in ("ifdManufacturerString", "ifdProductString", "CFBundleVersion"):
    assert keys.get(k), "missing " + k
assert keys["CFBundleName"] != "CCIDCLASSDRIVER", "must not claim to be a class driver"
arrays = ("ifdVendorID", "ifdProductID", "ifdFriendlyName", "ifdOnshiQuirks")
lens = {a: len(keys[a]) for a in arrays}
assert len(set(lens.values())) == 1, "arrays differ in length: %r" % lens
got = list(zip(*(keys[a] for a in arrays)))
exp = [("0x" + v, "0x" + p, n.replace("&amp;", "&"), ",".join(q) or "none")
       for v, p, q, n in readers(sys.argv[2]) if "udev-only" not in q]
got = [(v, p, n, q) for v, p, n, q in got]
assert got == exp, "plist entries differ from readers.list:\n%r\n%r" % (got, exp)
print(len(got), "readers")
EOF

# The readers named in the project brief (ccid.md §3 and the emulator's profiles).
check "readers.list holds the Japan-relevant readers with their VID:PIDs" \
	"$PY" - "$LIST" "$T" <<'EOF'
import sys
sys.path.insert(0, sys.argv[2])
from readers import readers
have = {(v, p): (q, n) for v, p, q, n in readers(sys.argv[1])}
need = {"054C:0DC8": "RC-S300/S", "054C:0DC9": "RC-S300/P", "054C:0D8F": "RC-S660/U",
        "072F:B100": "ACR39U", "072F:223B": "ACR1252 Dual", "072F:223E": "ACR1252",
        "072F:2200": "ACR122U", "04E6:5116": "SCR3310", "04E6:511F": "SCR3310",
        "04E6:511A": "SCR3310-NTTCom", "04E6:5120": "SCR331-DI-NTTCom",
        "04E6:5790": "uTrust 3700 F", "076B:5022": "OMNIKEY 5022", "076B:5422": "OMNIKEY 5422",
        "31AA:3001": "CIR315", "31AA:3002": "CIR315", "31AA:3003": "CIR315",
        "31AA:3000": "CIR315", "04DA:117A": "7A-Smart", "04A4:00C7": "Hitachi",
        "0BF8:1024": "Fujitsu"}
for vp, word in need.items():
    e = have.get(tuple(vp.split(":")))
    assert e, vp + " missing"
    assert word in e[1], "%s is %r, expected %r in the name" % (vp, e[1], word)
    assert "udev-only" not in e[0], vp + " must be driven, not udev-only"
for vp in ("04E6:511A", "04E6:5120"):
    assert "vendor-class" in have[tuple(vp.split(":"))][0], vp + " is vendor class 0xFF"
q = have[("072F", "2200")][0]
assert "min-firmware=2.06" in q and "kernel-nfc=pn533_usb" in q, q
EOF

# The emulated readers of the test bench must be claimed, with the right class.
if [ -f "$S/tests/emu/emu-profile.c" ]; then
	check "readers.list covers every emulator profile (VID:PID, vendor class)" \
		"$PY" - "$LIST" "$T" "$S/tests/emu/emu-profile.c" <<'EOF'
import re, sys
sys.path.insert(0, sys.argv[2])
from readers import readers
have = {(v, p): q for v, p, q, n in readers(sys.argv[1])}
src = open(sys.argv[3], encoding="utf-8").read()
blocks = re.findall(r"static const emu_profile (\w+) = \{(.*?)\n\};", src, re.S)
assert len(blocks) >= 5, "found %d profiles" % len(blocks)
for name, body in blocks:
    vid = re.search(r"\.vid = 0x([0-9A-Fa-f]{4})", body).group(1).upper()
    pid = re.search(r"\.pid = 0x([0-9A-Fa-f]{4})", body).group(1).upper()
    q = have.get((vid, pid))
    assert q is not None, "profile %s %s:%s not in readers.list" % (name, vid, pid)
    assert "udev-only" not in q, name
    vendor = ".interface_class = USB_CLASS_VENDOR" in body or ".interface_class = 0xFF" in body
    assert vendor == ("vendor-class" in q), "profile %s: vendor class %s, list says %r" % (name, vendor, q)
    print(name, vid + ":" + pid, ",".join(q) or "-")
EOF
fi

# ---------------------------------------------------------------- udev rules
check "udev rules: class match, group, persist, autosuspend, every vendor-class reader" \
	"$PY" - "$RULES" "$LIST" "$T" "$PCSCD_GROUP" <<'EOF'
import re, sys
sys.path.insert(0, sys.argv[3])
from readers import readers
text = open(sys.argv[1]).read()
rules = [l for l in text.splitlines() if l.strip() and not l.lstrip().startswith("#")]
# udev syntax: KEY[{attr}] OP "value" pairs separated by commas; no trailing comments.
pair = r'[A-Z_]+(\{[^}]+\})?\s*(==|!=|=|\+=|-=|:=)\s*"[^"]*"'
for l in rules:
    assert re.fullmatch(r'\s*%s(\s*,\s*%s)*\s*' % (pair, pair), l), "bad udev line: " + l
assert 'ENV{ID_USB_INTERFACES}=="*:0b0000:*", ENV{ONSHI_CCID}="1"' in rules
assert 'GROUP="%s", MODE="0660"' % sys.argv[4] in rules
assert 'TEST=="power/persist", ATTR{power/persist}="0"' in rules
assert 'TEST=="power/control", ATTR{power/control}="auto"' in rules
gotos = {m for l in rules for m in re.findall(r'GOTO="([^"]+)"', l)}
labels = {m for l in rules for m in re.findall(r'LABEL="([^"]+)"', l)}
assert gotos and gotos <= labels, (gotos, labels)
def idm(v, p):
    return 'ATTR{idVendor}=="%s", ATTR{idProduct}=="%s"' % (v.lower(), p.lower())
vendor = 0
for v, p, q, n in readers(sys.argv[2]):
    if "vendor-class" in q:
        vendor += 1
        assert idm(v, p) + ', ENV{ONSHI_CCID}="1"' in rules, "no vendor-class rule for " + n
    if "no-autosuspend" in q:
        line = idm(v, p) + ', GOTO="onshi_ccid_end"'
        assert rules.index(line) < rules.index('TEST=="power/control", ATTR{power/control}="auto"')
    for kq in q:
        if kq.startswith("kernel-nfc="):
            assert "%s:%s %s: MODULE=%s" % (v.lower(), p.lower(), n, kq.split("=")[1]) in text
assert vendor >= 2
# Vendor-class lines must come before the gate that drops non-CCID devices.
gate = rules.index('ENV{ONSHI_CCID}!="1", GOTO="onshi_ccid_end"')
assert all(rules.index(l) < gate for l in rules if 'ENV{ONSHI_CCID}="1"' in l)
EOF

# Run the rules through udev itself: udevadm test on emulated USB devices
# (umockdev), in a private mount namespace where the only rules are ours plus
# the usb_id import that sets ID_USB_INTERFACES.
# udev_device FILE VID PID DEVNUM INTERFACE_CLASSES...: a umockdev device file.
udev_device() {
	dev_file=$1 dev_vid=$2 dev_pid=$3 dev_num=$4; shift 4
	le() { echo "$1" | sed 's/\(..\)\(..\)/\2\1/'; }
	dev_ifs="" dev_nif=0
	for dev_cls in "$@"; do
		# interface descriptor, then one bulk endpoint (usb_id needs bytes after it)
		dev_ifs="${dev_ifs}0904$(printf %02x $dev_nif)0001${dev_cls}000000"
		dev_ifs="${dev_ifs}0705$(printf %02x $((dev_nif + 1)))02400000"
		dev_nif=$((dev_nif + 1))
	done
	# device descriptor (18 bytes), configuration descriptor (9), interfaces
	cat >"$dev_file" <<-EOF
	P: /devices/pci0000:00/0000:00:14.0/usb1/1-$dev_num
	N: bus/usb/001/00$dev_num
	E: DEVNAME=/dev/bus/usb/001/00$dev_num
	E: DEVTYPE=usb_device
	E: SUBSYSTEM=usb
	A: idVendor=$dev_vid
	A: idProduct=$dev_pid
	A: busnum=1
	A: devnum=$dev_num
	A: power/control=on
	A: power/persist=1
	H: descriptors=1201000200000040$(le "$dev_vid")$(le "$dev_pid")000101020001$(printf 09022000%02x01008032 $dev_nif)$dev_ifs
	EOF
}
# udev_run DEVFILE DEVNUM: udevadm test output for that device, our rules only.
udev_run() {
	mkdir -p "$T/udev"
	cp "$RULES" "$T/udev/"
	echo 'SUBSYSTEM=="usb", ENV{DEVTYPE}=="usb_device", IMPORT{builtin}="usb_id"' >"$T/udev/50-usb-id.rules"
	cat >"$T/udev/run.sh" <<-EOF
	set -e
	mount -t tmpfs onshi-test /run
	mkdir -p /run/udev/rules.d
	for d in /etc/udev/rules.d /lib/udev/rules.d /usr/lib/udev/rules.d; do
	  [ -d "\$d" ] && mount -t tmpfs onshi-test "\$d"
	done
	cp "$T/udev/"*.rules /run/udev/rules.d/
	exec umockdev-run --device "$1" -- udevadm test --action=add /sys/devices/pci0000:00/0000:00:14.0/usb1/1-$2
	EOF
	unshare -m --propagation private sh "$T/udev/run.sh" 2>&1
}
udev_runtime() {
	rules_name=$(basename "$RULES")
	# expect NAME DEVNUM VID PID "CLASSES" CCID(yes|no) AUTOSUSPEND(yes|no)
	expect() {
		udev_device "$T/dev-$1" "$3" "$4" "$2" $5
		out=$(udev_run "$T/dev-$1" "$2")
		bad=$(echo "$out" | grep "$rules_name:[0-9]" | grep -v "ATTR '.*' writing\|Unknown group") &&
			{ echo "$1: udev complained: $bad"; return 1; }
		echo "$out" | grep -q '^ID_USB_INTERFACES=' || { echo "$1: usb_id found no interfaces"; echo "$out" | tail -n 30; return 1; }
		persist=no control=no ccid=no
		echo "$out" | grep -q "$rules_name:[0-9]* ATTR '.*/power/persist' writing '0'" && persist=yes
		echo "$out" | grep -q "$rules_name:[0-9]* ATTR '.*/power/control' writing 'auto'" && control=yes
		echo "$out" | grep -qx 'ONSHI_CCID=1' && ccid=yes
		[ "$ccid" = "$6" ] && [ "$persist" = "$6" ] && [ "$control" = "$7" ] || {
			echo "$1 ($3:$4 classes $5): reader=$ccid persist-off=$persist autosuspend=$control," \
				"expected reader=$6 persist-off=$6 autosuspend=$7"; return 1; }
		echo "$1: $(echo "$out" | grep '^ID_USB_INTERFACES=') reader=$ccid autosuspend=$control"
	}
	expect acr39u 2 072f b100 "0b" yes yes &&
	expect nttcom-vendor-class 3 04e6 511a "ff" yes yes &&
	expect composite-hid-ccid 4 1234 0001 "03 0b" yes yes &&
	expect au9520-no-autosuspend 5 058f 9520 "0b" yes no &&
	expect unknown-vendor-class 6 1234 0002 "ff" no no &&
	expect hid-keyboard 7 046d c31c "03" no no
}
if [ "$(id -u)" = 0 ] && command -v umockdev-run >/dev/null && command -v udevadm >/dev/null &&
	unshare -m --propagation private true 2>/dev/null; then
	check "udevadm test applies the rules to emulated readers (class, vendor class, exceptions)" udev_runtime
	sed -n 's/^\(.*ID_USB_INTERFACES=.*\)/# \1/p' "$T/out"
else
	echo "# skipped the udevadm check (needs root, unshare, umockdev-run, udevadm)"
fi

# ---------------------------------------------------------------- generator
check "generator is deterministic and matches the built files" sh -c '
	sh "$1" plist "$2" "$(sed -n "s/^PACKAGE_VERSION = //p" "$4/Makefile")" >"$3/p1" &&
	sh "$1" plist "$2" "$(sed -n "s/^PACKAGE_VERSION = //p" "$4/Makefile")" >"$3/p2" &&
	cmp "$3/p1" "$3/p2" && cmp "$3/p1" "$5" &&
	sh "$1" udev "$2" "$6" >"$3/u1" && cmp "$3/u1" "$7"' - \
	"$GEN" "$LIST" "$T" "$B" "$PLIST" "$PCSCD_GROUP" "$RULES"

# bad_list NAME LINE_TEXT EXPECTED_MESSAGE: the bad line is line 3 of a small list.
bad_list() {
	printf '# test list\n054C 0DC8 contactless "Good Reader"\n%s\n072F B100 - "Another"\n' "$2" >"$T/bad-$1.list"
	for mode in check plist; do
		if [ "$mode" = plist ]; then set -- "$1" "$2" "$3" 1.0; else set -- "$1" "$2" "$3"; fi
		if sh "$GEN" "$mode" "$T/bad-$1.list" ${4:+"$4"} >"$T/bad.out" 2>"$T/bad.err"; then
			echo "$mode accepted: $2"; return 1
		fi
		[ ! -s "$T/bad.out" ] || { echo "$mode wrote output for a bad list"; return 1; }
		grep -q "bad-$1.list:3: .*$3" "$T/bad.err" || { echo "stderr was:"; cat "$T/bad.err"; return 1; }
	done
}
check "generator rejects a missing field, with the line number" bad_list fields '054C 0DC9 "No Quirks Field"' 'expected 4 fields'
check "generator rejects an extra field" bad_list extra '054C 0DC9 - x "Extra"' 'expected 4 fields'
check "generator rejects a bad vendor ID" bad_list vid '54C 0DC9 - "Short VID"' 'vendor ID'
check "generator rejects non-hex product ID" bad_list pid '054C 0DXG - "Bad PID"' 'product ID'
check "generator rejects an unknown quirk" bad_list quirk '054C 0DC9 fast "Quirk"' 'unknown quirk'
check "generator rejects a bad quirk value" bad_list qval '054C 0DC9 min-firmware=2 "Quirk"' 'min-firmware'
check "generator rejects a duplicate VID:PID" bad_list dup '054c 0dc8 - "Again"' 'duplicate entry 054C:0DC8'
check "generator rejects an unquoted name" bad_list quote '054C 0DC9 - Unquoted Name' 'double quotes'
check "generator rejects a non-ASCII name" bad_list ascii '054C 0DC9 - "Sony ソニー"' 'printable ASCII'
# The make rule itself: a bad list fails the build and leaves no target behind.
build_rule_bad_list() {
	printf '054C 0DC8 - "A"\nZZZZ 0001 - "B"\n' >"$T/rule.list"
	rel=$("$PY" -c 'import os, sys; print(os.path.relpath(sys.argv[1], sys.argv[2]))' "$T/rule.list" "$S")
	target="$T/rule/Info.plist"
	if env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s --no-print-directory -C "$B" \
		READERS_LIST="$rel" IFD_BUNDLE_PLIST="$target" "$target" 2>"$T/rule.err"; then
		echo "make accepted a bad list"; return 1
	fi
	grep -q "rule.list:2: vendor ID" "$T/rule.err" || { cat "$T/rule.err"; return 1; }
	[ ! -e "$target" ] && [ ! -e "$target.tmp" ]
}
check "the build fails on a bad list line and leaves no Info.plist behind" build_rule_bad_list

# pcscd's own parser: a private pcscd (mount namespace: its drop directory
# holds this bundle and libccid's, /run is private) sees emulated readers
# (umockdev) and must pick this bundle's library for listed readers, with the
# friendly name from Info.plist, and leave other readers to libccid.
# usb_record FILE VID PID DEVNUM CLASS: a usb_device with one interface record.
usb_record() {
	udev_device "$1" "$2" "$3" "$4" "$5"
	cat >>"$1" <<-EOF

	P: /devices/pci0000:00/0000:00:14.0/usb1/1-$4/1-$4:1.0
	E: DEVTYPE=usb_interface
	E: SUBSYSTEM=usb
	A: bInterfaceNumber=00
	A: bInterfaceClass=$5

	EOF
}
pcscd_runtime() {
	: >"$T/pcscd.devices"
	usb_record "$T/pd1" 054c 0dc9 2 0b && cat "$T/pd1" >>"$T/pcscd.devices"
	usb_record "$T/pd2" 31aa 3000 3 0b && cat "$T/pd2" >>"$T/pcscd.devices"
	usb_record "$T/pd3" 04e6 511a 4 ff && cat "$T/pd3" >>"$T/pcscd.devices"
	usb_record "$T/pd4" 08e6 3437 5 0b && cat "$T/pd4" >>"$T/pcscd.devices"
	mkdir -p "$T/pcscd.conf" "$T/drop"
	cp -r "$B/driver/ifd-onshi.bundle" "$T/drop/"
	[ -d /usr/lib/pcsc/drivers/ifd-ccid.bundle ] && cp -r /usr/lib/pcsc/drivers/ifd-ccid.bundle "$T/drop/"
	cat >"$T/pcscd.sh" <<-EOF
	set -e
	mount -t tmpfs onshi-test /usr/lib/pcsc/drivers
	cp -r "$T/drop/"* /usr/lib/pcsc/drivers/
	mount -t tmpfs onshi-test /run
	mkdir -p /run/pcscd
	: >"$T/pcscd.log"
	exec umockdev-run --device "$T/pcscd.devices" -- sh -c '
	  pcscd -f -d -c "$T/pcscd.conf" >>"$T/pcscd.log" 2>&1 & p=\$!
	  i=0
	  while [ \$i -lt 100 ] && [ "\$(grep -c "Attempting startup" "$T/pcscd.log")" -lt 4 ]; do
	    sleep 0.1; i=\$((i + 1)); done
	  kill \$p; wait \$p || :'
	EOF
	unshare -m --propagation private sh "$T/pcscd.sh" || return 1
	ours=/usr/lib/pcsc/drivers/ifd-onshi.bundle/Contents/Linux/libifd-onshi.so
	for want in "Sony FeliCa RC-S300/P (PaSoRi 4.0)" "Circle CIR315 Dual & 1S" \
		"NTT Communications SCR3310-NTTCom USB SmartCard Reader"; do
		# pcscd tries the VID:PID driver first and, as the .so is absent
		# here, then falls back to libccid: the first attempt must be ours.
		grep -F "Attempting startup of $want" "$T/pcscd.log" | head -n 1 | grep -qF "using $ours" ||
			{ echo "pcscd did not pick onshi for $want:"; cat "$T/pcscd.log"; return 1; }
	done
	if [ -d /usr/lib/pcsc/drivers/ifd-ccid.bundle ]; then
		grep "Attempting startup of Gemalto PC Twin" "$T/pcscd.log" | grep -qF ifd-ccid.bundle &&
			! grep "Attempting startup of Gemalto PC Twin" "$T/pcscd.log" | grep -qF ifd-onshi.bundle ||
			{ echo "an unlisted reader must stay with libccid:"; cat "$T/pcscd.log"; return 1; }
	fi
	grep "Attempting startup" "$T/pcscd.log" | sed 's/.*Attempting startup of //'
}
if [ "$(id -u)" = 0 ] && command -v pcscd >/dev/null && command -v umockdev-run >/dev/null &&
	unshare -m --propagation private true 2>/dev/null; then
	check "pcscd 1.9 reads the bundle: listed readers get onshi's driver and name, others libccid" pcscd_runtime
	sed -n 's/^\(.* using .*\)/# \1/p' "$T/out"
else
	echo "# skipped the pcscd check (needs root, unshare, pcscd, umockdev-run)"
fi

# ---------------------------------------------------------------- D-Bus interface
check "interface XML is well-formed" xml_well_formed "$XML"
check "interface XML declares exactly the v1 API (names, signatures, directions)" \
	"$PY" - "$XML" <<'EOF'
import sys, xml.etree.ElementTree as E
root = E.parse(sys.argv[1]).getroot()
# name -> (in args "name:type", out types) for methods; types for signals/properties.
api = {
 "org.onshi.Onshi1.Manager": {
  "methods": {"ListReaders": ([], ["ao"]),
              "RegisterAgent": (["agent:o", "capabilities:as"], []),
              "UnregisterAgent": (["agent:o"], []),
              "RequestDefaultAgent": (["agent:o"], [])},
  "signals": {"ReaderAdded": ["o"], "ReaderRemoved": ["o"]},
  "properties": {"Version": "s"}},
 "org.onshi.Onshi1.Reader": {
  "methods": {"ReadCertificate": (["which:s"], ["ay", "a{sv}"]),
              "GetPinStatus": ([], ["a{sv}"]),
              "Authenticate": (["mode:s", "challenge:ay", "options:a{sv}"], ["a{sv}"]),
              "Sign": (["key:s", "hash:s", "digest:ay"], ["ay"]),
              "Cancel": ([], [])},
  "signals": {},
  "properties": {"Name": "s", "CardPresent": "b", "CardType": "s", "Atr": "ay",
                 "Contactless": "b", "PinPad": "b"}},
 "org.onshi.Onshi1.Agent": {
  "methods": {"RequestPin": (["reader:o", "kind:s", "tries_left:u"], ["s"]),
              "DisplayPinPadPrompt": (["reader:o", "kind:s", "tries_left:u"], []),
              "RequestCollationNumberB": (["reader:o"], ["s"]),
              "MatchFace": (["reader:o", "photo:ay", "info:a{sv}"], ["b", "d"]),
              "Cancel": (["reason:s"], [])},
  "signals": {}, "properties": {}},
}
got_ifaces = {i.get("name"): i for i in root.findall("interface")}
assert set(got_ifaces) == set(api), sorted(got_ifaces)
for iname, spec in api.items():
    i = got_ifaces[iname]
    ms = {}
    for m in i.findall("method"):
        ins = ["%s:%s" % (a.get("name"), a.get("type")) for a in m.findall("arg") if a.get("direction", "in") == "in"]
        outs = [a.get("type") for a in m.findall("arg") if a.get("direction") == "out"]
        assert all(a.get("name") for a in m.findall("arg")), "unnamed arg in " + m.get("name")
        ms[m.get("name")] = (ins, outs)
    assert ms == spec["methods"], "%s methods:\n%r\n%r" % (iname, ms, spec["methods"])
    ss = {s.get("name"): [a.get("type") for a in s.findall("arg")] for s in i.findall("signal")}
    assert ss == spec["signals"], "%s signals: %r" % (iname, ss)
    ps = {p.get("name"): p.get("type") for p in i.findall("property")}
    assert ps == spec["properties"], "%s properties: %r" % (iname, ps)
    assert all(p.get("access") == "read" for p in i.findall("property")), iname + ": properties are read-only"
# Every error name of the API is documented, and the timeout warning is there.
text = open(sys.argv[1], encoding="utf-8").read()
for e in ("NoCard", "UnsupportedCard", "PinIncorrect", "PinBlocked", "LastTryRefused", "Cancelled",
          "NoAgent", "AgentFailed", "NotAuthorized", "CardRemoved", "Busy", "ReaderError", "Timeout"):
    assert "org.onshi.Onshi1.Error." + e + " " in text, e
assert "org.freedesktop.DBus.Error.InvalidArgs" in text and "25 s" in text
EOF

if "$PY" -c 'from gi.repository import Gio' 2>/dev/null; then
	check "GDBus accepts the interface XML" "$PY" -c '
import sys
from gi.repository import Gio
info = Gio.DBusNodeInfo.new_for_xml(open(sys.argv[1]).read())
assert [i.name for i in info.interfaces] == ["org.onshi.Onshi1.Manager", "org.onshi.Onshi1.Reader", "org.onshi.Onshi1.Agent"]' "$XML"
fi

# ---------------------------------------------------------------- bus policy
check "bus policy is well-formed XML" xml_well_formed "$CONF"
check "bus policy names the configured group and service user" sh -c '
	grep -q "<policy group=\"$2\">" "$1" && grep -q "<policy user=\"$3\">" "$1" &&
	grep -q "<allow own=\"org.onshi.Onshi1\"/>" "$1"' - "$CONF" "$ONSHI_GROUP" "$ONSHI_USER"

# Enforce the policy for real: a private system-type bus with the installed
# policy (accounts swapped for ones that exist here), a service owning the
# name, and callers of different uids and groups.
policy_runtime() {
	tgroup=users tuser=daemon
	tgid=$(getent group "$tgroup" | cut -d: -f3) && tuid=$(id -u "$tuser") || return 1
	chmod 0711 "$T"   # the callers run as other users and must reach $T/bus
	sed -e "s|group=\"$ONSHI_GROUP\"|group=\"$tgroup\"|" -e "s|user=\"$ONSHI_USER\"|user=\"$tuser\"|" \
		"$CONF" >"$T/policy.conf"
	cat >"$T/bus.conf" <<-EOF
	<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
	 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
	<busconfig>
	  <type>system</type>
	  <listen>unix:path=$T/bus</listen>
	  <auth>EXTERNAL</auth>
	  <policy context="default">
	    <allow user="*"/>
	    <deny own="*"/>
	    <deny send_type="method_call"/>
	    <allow send_type="signal"/>
	    <allow send_requested_reply="true" send_type="method_return"/>
	    <allow send_requested_reply="true" send_type="error"/>
	    <allow receive_type="method_call"/>
	    <allow receive_type="method_return"/>
	    <allow receive_type="error"/>
	    <allow receive_type="signal"/>
	    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
	    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Introspectable"/>
	  </policy>
	  <include>$T/policy.conf</include>
	</busconfig>
	EOF
	# Not --fork: as our own child it is killed and reaped by cleanup().
	dbus-daemon --config-file="$T/bus.conf" --nofork --nopidfile --print-address=1 >"$T/bus.addr" &
	bus_pid=$!
	i=0; while [ ! -s "$T/bus.addr" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	[ -s "$T/bus.addr" ] || { echo "dbus-daemon did not start"; return 1; }
	addr="unix:path=$T/bus"
	# The service: root owns org.onshi.Onshi1, exports the Manager and an Agent.
	"$PY" - "$addr" "$XML" "$T/owner.ready" >"$T/owner.log" 2>&1 <<-'EOF' &
	import sys
	from gi.repository import Gio, GLib
	addr, xml, ready = sys.argv[1:]
	node = Gio.DBusNodeInfo.new_for_xml(open(xml).read())
	bus = Gio.DBusConnection.new_for_address_sync(addr,
	    Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)
	def call(conn, sender, path, iface, method, params, inv):
	    inv.return_value(GLib.Variant("(ao)", ([],)) if method == "ListReaders" else None)
	def prop(conn, sender, path, iface, name):
	    return GLib.Variant("s", "policy-test")
	bus.register_object("/org/onshi/Onshi1", node.lookup_interface("org.onshi.Onshi1.Manager"), call, prop, None)
	bus.register_object("/agent", node.lookup_interface("org.onshi.Onshi1.Agent"), call)
	r = bus.call_sync("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "RequestName",
	    GLib.Variant("(su)", ("org.onshi.Onshi1", 4)), None, 0, 5000, None)
	assert r.unpack()[0] == 1, r
	open(ready, "w").write(bus.get_unique_name())
	GLib.MainLoop().run()
	EOF
	owner_pid=$!
	i=0; while [ ! -s "$T/owner.ready" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	[ -s "$T/owner.ready" ] || { cat "$T/owner.log"; return 1; }
	unique=$(cat "$T/owner.ready")
	# call_as UID GROUPS DEST PATH METHOD ARGS...: gdbus call under another identity.
	call_as() {
		uid=$1 groups=$2 dest=$3 path=$4 method=$5; shift 5
		setpriv --reuid="$uid" --regid=65534 --groups="$groups" -- \
			gdbus call --address "$addr" --timeout 5 --dest "$dest" --object-path "$path" --method "$method" "$@" 2>&1
	}
	denied() { case $1 in *AccessDenied*) return 0 ;; esac; echo "not denied: $1"; return 1; }
	allowed() { case $1 in *Error*) echo "refused: $1"; return 1 ;; esac; return 0; }
	out=$(call_as 65534 "$tgid" org.onshi.Onshi1 /org/onshi/Onshi1 org.onshi.Onshi1.Manager.ListReaders)
	[ "$out" = "(@ao [],)" ] || { echo "group member ListReaders: $out"; return 1; }
	allowed "$(call_as 65534 "$tgid" org.onshi.Onshi1 /org/onshi/Onshi1 org.freedesktop.DBus.Properties.Get org.onshi.Onshi1.Manager Version)" || return 1
	allowed "$(call_as 65534 "$tgid" org.onshi.Onshi1 /org/onshi/Onshi1 org.freedesktop.DBus.Peer.Ping)" || return 1
	denied "$(call_as 65534 65534 org.onshi.Onshi1 /org/onshi/Onshi1 org.onshi.Onshi1.Manager.ListReaders)" || return 1
	denied "$(call_as 65534 65534 org.onshi.Onshi1 /org/onshi/Onshi1 org.freedesktop.DBus.Properties.GetAll org.onshi.Onshi1.Manager)" || return 1
	denied "$(call_as 65534 "$tgid" org.onshi.Onshi1 /agent org.onshi.Onshi1.Agent.Cancel x)" || return 1
	denied "$(call_as 65534 "$tgid" org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus.RequestName org.onshi.Onshi1 0)" || return 1
	# The service account may call agents on any connection, and queue for the name.
	allowed "$(call_as "$tuid" 65534 "$unique" /agent org.onshi.Onshi1.Agent.Cancel "done")" || return 1
	out=$(call_as "$tuid" 65534 org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus.RequestName org.onshi.Onshi1 0)
	[ "$out" = "(uint32 2,)" ] || { echo "service account RequestName: $out"; return 1; }
}
if [ "$(id -u)" = 0 ] && command -v dbus-daemon >/dev/null && command -v gdbus >/dev/null &&
	command -v setpriv >/dev/null && "$PY" -c 'from gi.repository import Gio' 2>/dev/null; then
	check "dbus-daemon enforces the policy: group may call, others and agents-by-clients denied" policy_runtime
else
	echo "# skipped the live bus-policy check (needs root, dbus-daemon, gdbus, setpriv, python3-gi)"
fi

# ---------------------------------------------------------------- systemd, sysusers, polkit
check "generated files carry no @placeholders@ and expanded paths" sh -c '
	! grep -n "@[A-Za-z_]*@\|\\\${" "$@" && grep -qx "Exec=$0/onshid" "$2" && grep -qx "ExecStart=$0/onshid" "$3"' \
	"$libexecdir" "$CONF" "$ACTIVATION" "$UNIT" "$SYSUSERS" "$POLKIT" "$RULES"
check "activation file names the unit, user and bus name" sh -c '
	grep -qx "Name=org.onshi.Onshi1" "$1" && grep -qx "SystemdService=onshid.service" "$1" &&
	grep -qx "User=$2" "$1" && grep -qx "BusName=org.onshi.Onshi1" "$3" && grep -qx "Type=dbus" "$3" &&
	grep -qx "User=$2" "$3" && grep -qx "LimitCORE=0" "$3" && grep -qx "RestrictAddressFamilies=AF_UNIX" "$3"' \
	- "$ACTIVATION" "$ONSHI_USER" "$UNIT"
check "polkit rule grants both pcsc-lite actions to the service user only" sh -c '
	grep -q "\"org.debian.pcsc-lite.access_pcsc\"" "$1" && grep -q "\"org.debian.pcsc-lite.access_card\"" "$1" &&
	grep -q "subject.user == \"$2\"" "$1" && [ "$(grep -c "polkit.Result.YES" "$1")" = 1 ]' - "$POLKIT" "$ONSHI_USER"

if command -v systemd-sysusers >/dev/null; then
	check "systemd-sysusers creates the service user and both groups" sh -c '
		mkdir -p "$1/root/etc" && : >"$1/root/etc/passwd" && : >"$1/root/etc/group" &&
		systemd-sysusers --root="$1/root" - <"$2" &&
		grep -q "^$3:x:[0-9]*:[0-9]*:[^:]*:/:/usr/sbin/nologin$" "$1/root/etc/passwd" &&
		grep -q "^$4:x:" "$1/root/etc/group" && grep -q "^$5:x:" "$1/root/etc/group"' \
		- "$T" "$SYSUSERS" "$ONSHI_USER" "$ONSHI_GROUP" "$ONSHI_PERSONAL_GROUP"
fi

if command -v systemd-analyze >/dev/null && systemd-analyze security --help 2>&1 | grep -q -- --offline; then
	# verify needs ExecStart= to exist: point a copy at a real executable.
	mkdir -p "$T/unit"
	cp /bin/true "$T/unit/onshid"
	sed "s|^ExecStart=.*|ExecStart=$T/unit/onshid|" "$UNIT" >"$T/unit/onshid.service"
	check "systemd-analyze verify accepts onshid.service" systemd-analyze verify "$T/unit/onshid.service"
	check "systemd-analyze security rates onshid.service SAFE or better" sh -c '
		systemd-analyze security --offline=true --no-pager "$1" >"$2/sec" 2>&1
		line=$(grep "Overall exposure level for onshid.service:" "$2/sec") || { cat "$2/sec"; exit 1; }
		echo "$line"
		score=$(echo "$line" | sed -n "s/.*: \([0-9.]*\) \([A-Z]*\).*/\1/p")
		rating=$(echo "$line" | sed -n "s/.*: \([0-9.]*\) \([A-Z]*\).*/\2/p")
		case $rating in SAFE|PERFECT) ;; *) exit 1 ;; esac
		awk -v s="$score" "BEGIN { exit !(s != \"\" && s + 0 < 2.0) }"' - "$UNIT" "$T"
	echo "# measured: $(grep -o 'onshid.service: .*' "$T/sec" 2>/dev/null)"
else
	echo "# skipped systemd-analyze checks (no systemd-analyze with --offline)"
fi

# ---------------------------------------------------------------- make install
check "make install DESTDIR puts every file at its configured path, uninstall removes them" sh -c '
	T=$1 B=$2; shift 2
	m() { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s --no-print-directory -C "$B" "$@"; }
	v() { m -f Makefile -f "$T/print.mk" "onshi-print-$1"; }
	m install DESTDIR="$T/dest" >"$T/install.log" 2>&1 || { cat "$T/install.log"; exit 1; }
	while [ $# -gt 0 ]; do
		dir=$(v "$1") rel=$2 built=$3; shift 3
		case $dir in /*) ;; *) echo "$1 is not absolute: $dir"; exit 1 ;; esac
		cmp "$built" "$T/dest$dir/$rel" || { echo "missing or different: $T/dest$dir/$rel"; exit 1; }
	done
	m uninstall DESTDIR="$T/dest" >"$T/uninstall.log" 2>&1 || { cat "$T/uninstall.log"; exit 1; }
	left=$(find "$T/dest" -type f -o -type l) && [ -z "$left" ] || { echo "left after uninstall: $left"; exit 1; }' - \
	"$T" "$B" \
	usbdropdir ifd-onshi.bundle/Contents/Info.plist "$PLIST" \
	udevrulesdir 92-onshi-ccid.rules "$RULES" \
	systemdsystemunitdir onshid.service "$UNIT" \
	sysusersdir onshi.conf "$SYSUSERS" \
	dbussystemservicedir org.onshi.Onshi1.service "$ACTIVATION" \
	dbuspolicydir org.onshi.Onshi1.conf "$CONF" \
	dbusinterfacesdir org.onshi.Onshi1.xml "$XML" \
	polkitrulesdir 50-onshi-pcscd.rules "$POLKIT" \
	docdir packaging.md "$S/doc/packaging.md"

echo "1..$n"
echo "# $((n - failures)) passed, $failures failed"
[ "$failures" -eq 0 ]
