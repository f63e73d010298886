#!/bin/sh
# gen-reader-files.sh — turn driver/readers.list into the files that name readers:
#
#   gen-reader-files.sh check LIST                 validate only
#   gen-reader-files.sh plist LIST VERSION         Info.plist of ifd-onshi.bundle on stdout
#   gen-reader-files.sh udev  LIST PCSCD_GROUP     92-onshi-ccid.rules on stdout
#
# The list format and the quirk words are described at the top of
# driver/readers.list and in doc/packaging.md.  POSIX sh and awk only (the
# build must not need Python).  Output depends on nothing but the arguments
# and the list (no dates, no host names), so two builds give identical files.
# A malformed list line makes the script print "LIST:LINE: reason" on stderr
# and exit 1 without writing anything to stdout.
set -eu

usage() {
	echo "usage: $0 check LIST | plist LIST VERSION | udev LIST PCSCD_GROUP" >&2
	exit 2
}

[ $# -ge 2 ] || usage
mode=$1 list=$2 arg=${3-}
case $mode in
check) [ $# -eq 2 ] || usage ;;
plist | udev) if [ $# -ne 3 ] || [ -z "$arg" ]; then usage; fi ;;
*) usage ;;
esac
[ -r "$list" ] || { echo "$0: cannot read $list" >&2; exit 1; }
case $arg in
*[!A-Za-z0-9._+-]*)
	echo "$0: '$arg' is not a plain version or group name" >&2
	exit 1
	;;
esac

# Parse and validate everything first, then print: a bad line at the end of
# the list must not leave half a file behind.
LC_ALL=C awk -v mode="$mode" -v arg="$arg" -v listname="$list" '
function fail(msg) {
	printf "%s:%d: %s\n", listname, NR, msg > "/dev/stderr"
	failed = 1
	exit 1
}
function is_hex4(s) {
	return s ~ /^[0-9A-Fa-f][0-9A-Fa-f][0-9A-Fa-f][0-9A-Fa-f]$/
}
function xml_escape(s) {
	gsub(/&/, "\\&amp;", s)
	gsub(/</, "\\&lt;", s)
	gsub(/>/, "\\&gt;", s)
	return s
}
# One quirk word: a bare name, or name=value for the two that take a value.
function check_quirk(q,    name, value, eq) {
	eq = index(q, "=")
	name = eq ? substr(q, 1, eq - 1) : q
	value = eq ? substr(q, eq + 1) : ""
	if (name == "min-firmware") {
		if (value !~ /^[0-9][0-9]?\.[0-9][0-9]$/)
			fail("min-firmware needs a bcdDevice version like 2.06, got \"" value "\"")
		return
	}
	if (name == "kernel-nfc") {
		if (value !~ /^[a-z][a-z0-9_]*$/)
			fail("kernel-nfc needs a kernel module name, got \"" value "\"")
		return
	}
	if (eq)
		fail("quirk \"" name "\" takes no value")
	if (!(name in known_quirk))
		fail("unknown quirk \"" name "\"")
}
BEGIN {
	split("contactless vendor-class ext-apdu-broken no-interrupt slow-open " \
	      "no-autosuspend udev-only", words, " ")
	for (i in words)
		known_quirk[words[i]] = 1
	n = 0
}
/^[ \t]*(#|$)/ { next }
{
	line = $0
	sub(/[ \t\r]+$/, "", line)
	q1 = index(line, "\"")
	if (q1 == 0 || substr(line, length(line)) != "\"" || q1 == length(line))
		fail("expected: VID PID QUIRKS \"Friendly Name\" (name in double quotes at the end)")
	name = substr(line, q1 + 1, length(line) - q1 - 1)
	if (index(name, "\""))
		fail("the friendly name must not contain a double quote")
	if (name == "" || length(name) > 80)
		fail("the friendly name must be 1 to 80 characters")
	if (name ~ /[^ -~]/)
		fail("the friendly name must be printable ASCII (pcscd builds reader names from it)")
	prefix = substr(line, 1, q1 - 1)
	if (prefix !~ /[ \t]$/)
		fail("the friendly name must be separated from QUIRKS by a blank")
	sub(/^[ \t]+/, "", prefix)
	sub(/[ \t]+$/, "", prefix)
	nf = (prefix == "") ? 0 : split(prefix, f, /[ \t]+/)
	if (nf != 3)
		fail("expected 4 fields (VID PID QUIRKS \"Name\"), found " (nf + 1))
	if (!is_hex4(f[1]))
		fail("vendor ID \"" f[1] "\" is not 4 hex digits")
	if (!is_hex4(f[2]))
		fail("product ID \"" f[2] "\" is not 4 hex digits")
	vid = toupper(f[1]); pid = toupper(f[2])
	if ((vid ":" pid) in seen)
		fail("duplicate entry " vid ":" pid " (first on line " seen[vid ":" pid] ")")
	seen[vid ":" pid] = NR
	quirks = f[3]
	if (quirks != "-") {
		nq = split(quirks, qs, ",")
		if (quirks ~ /^,|,$|,,/)
			fail("empty quirk word in \"" quirks "\"")
		for (i = 1; i <= nq; i++)
			check_quirk(qs[i])
	}
	n++
	V[n] = vid; P[n] = pid; N[n] = name
	Q[n] = (quirks == "-") ? "none" : quirks
}
function has_quirk(i, word) {
	return index("," Q[i] ",", "," word ",") > 0
}
function quirk_value(i, key,    s, p, rest) {
	s = "," Q[i] ","
	p = index(s, "," key "=")
	if (!p)
		return ""
	rest = substr(s, p + length(key) + 2)
	return substr(rest, 1, index(rest, ",") - 1)
}
function emit_plist(    i, order, key, k) {
	print "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
	print "<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">"
	print "<!-- Generated from driver/readers.list by tools/gen-reader-files.sh: edit the list, not this file. -->"
	print "<plist version=\"1.0\">"
	print "<dict>"
	print "\t<key>CFBundleDevelopmentRegion</key>\n\t<string>English</string>"
	print "\t<key>CFBundleExecutable</key>\n\t<string>libifd-onshi.so</string>"
	print "\t<key>CFBundleIdentifier</key>\n\t<string>org.onshi.ifd</string>"
	print "\t<key>CFBundleInfoDictionaryVersion</key>\n\t<string>6.0</string>"
	print "\t<!-- Not CCIDCLASSDRIVER: this bundle claims only the readers listed below,"
	print "\t     and pcscd prefers a VID/PID driver over a class driver such as libccid. -->"
	print "\t<key>CFBundleName</key>\n\t<string>onshi</string>"
	print "\t<key>CFBundlePackageType</key>\n\t<string>BNDL</string>"
	print "\t<key>CFBundleShortVersionString</key>\n\t<string>" arg "</string>"
	print "\t<key>CFBundleSignature</key>\n\t<string>????</string>"
	print "\t<key>CFBundleVersion</key>\n\t<string>" arg "</string>"
	print ""
	print "\t<!-- ifdCapabilities bit 0x01 is IFD_GENERATE_HOTPLUG (libusb hotplug back end only)."
	print "\t     pcscd on Linux uses udev, so no bit is set. -->"
	print "\t<key>ifdCapabilities</key>\n\t<string>0x00000000</string>"
	print "\t<key>ifdProtocolSupport</key>\n\t<string>0x00000001</string>"
	print "\t<key>ifdVersionNumber</key>\n\t<string>0x00000001</string>"
	print "\t<key>ifdManufacturerString</key>\n\t<string>onshi project</string>"
	print "\t<key>ifdProductString</key>\n\t<string>onshi CCID driver for My Number card readers</string>"
	print ""
	print "\t<!-- ifdLogLevel: OR of 0x01 critical, 0x02 info (reader found, slot changes),"
	print "\t     0x04 comm (CCID frames; VERIFY data is always redacted), 0x08 periodic"
	print "\t     (card-presence polling).  Default 0x0003. -->"
	print "\t<key>ifdLogLevel</key>\n\t<string>0x0003</string>"
	print ""
	print "\t<!-- ifdDriverOptions: OR of"
	print "\t     0x0001  allow the vendor escape: SCardControl(IOCTL_SMARTCARD_VENDOR_IFD_EXCHANGE)"
	print "\t             sends PC_to_RDR_Escape to the reader.  Off by default because escape"
	print "\t             commands can reprogram some readers."
	print "\t     Other bits are reserved and must be 0.  Default 0x0000. -->"
	print "\t<key>ifdDriverOptions</key>\n\t<string>0x0000</string>"
	print ""
	print "\t<!-- The four arrays below are parallel: entry i of each describes one reader."
	print "\t     pcscd refuses the bundle if ifdVendorID, ifdProductID and ifdFriendlyName"
	print "\t     differ in length.  ifdOnshiQuirks holds the quirk words of driver/readers.list"
	print "\t     (comma-separated, \"none\" for none); the driver reads it, pcscd ignores it. -->"
	order = "ifdVendorID ifdProductID ifdFriendlyName ifdOnshiQuirks"
	split(order, key, " ")
	for (k = 1; k <= 4; k++) {
		print "\t<key>" key[k] "</key>"
		print "\t<array>"
		for (i = 1; i <= n; i++) {
			if (has_quirk(i, "udev-only"))
				continue
			if (k == 1) v = "0x" V[i]
			else if (k == 2) v = "0x" P[i]
			else if (k == 3) v = xml_escape(N[i])
			else v = Q[i]
			print "\t\t<string>" v "</string>"
		}
		print "\t</array>"
	}
	print ""
	print "\t<key>Copyright</key>\n\t<string>This driver is free software, see the onshi sources.</string>"
	print "</dict>"
	print "</plist>"
}
function udev_id_match(i) {
	return "ATTR{idVendor}==\"" tolower(V[i]) "\", ATTR{idProduct}==\"" tolower(P[i]) "\""
}
function emit_udev(    i, any) {
	print "# 92-onshi-ccid.rules: device permissions and power management for CCID smart-card"
	print "# readers.  Generated from driver/readers.list by tools/gen-reader-files.sh; edit the"
	print "# list, not this file.  See doc/packaging.md for why each rule is here."
	print ""
	print "ACTION!=\"add|change\", GOTO=\"onshi_ccid_end\""
	print "SUBSYSTEM!=\"usb\", GOTO=\"onshi_ccid_end\""
	print "ENV{DEVTYPE}!=\"usb_device\", GOTO=\"onshi_ccid_end\""
	print ""
	print "# Readers whose CCID interface has the vendor class 0xFF instead of 0x0B: the class"
	print "# match below cannot see them, so they are named one by one.  (udev allows comments"
	print "# only on lines of their own, hence the name above each rule.)"
	for (i = 1; i <= n; i++)
		if (has_quirk(i, "vendor-class")) {
			print "# " N[i]
			print udev_id_match(i) ", ENV{ONSHI_CCID}=\"1\""
		}
	print ""
	print "# Every USB device with a CCID interface (class 0x0B, subclass 0, protocol 0)."
	print "ENV{ID_USB_INTERFACES}==\"*:0b0000:*\", ENV{ONSHI_CCID}=\"1\""
	print "ENV{ONSHI_CCID}!=\"1\", GOTO=\"onshi_ccid_end\""
	print ""
	print "# pcscd (which runs as a user of this group since pcsc-lite 2.4) opens the device node."
	print "GROUP=\"" arg "\", MODE=\"0660\""
	print ""
	print "# USB persist would hide a reset across suspend from pcscd and the driver, which then"
	print "# keep a stale card and T=1 state; a reader that lost power must re-enumerate."
	print "TEST==\"power/persist\", ATTR{power/persist}=\"0\""
	print ""
	any = 0
	for (i = 1; i <= n; i++) {
		m = quirk_value(i, "kernel-nfc")
		if (m == "")
			continue
		if (!any) {
			print "# Readers an in-kernel NFC driver also claims.  While that driver is bound, pcscd"
			print "# gets LIBUSB_ERROR_BUSY when it claims the interface.  A rule cannot unbind it"
			print "# reliably, so the admin blacklists the module (see doc/packaging.md):"
			print "#   echo \"blacklist MODULE\" >/etc/modprobe.d/onshi-nfc.conf, then replug the reader."
		}
		any = 1
		print "#   " tolower(V[i]) ":" tolower(P[i]) " " N[i] ": MODULE=" m
	}
	if (any)
		print ""
	print "# Readers that misbehave when autosuspended keep the kernel default (power/control=on)."
	for (i = 1; i <= n; i++)
		if (has_quirk(i, "no-autosuspend")) {
			print "# " N[i]
			print udev_id_match(i) ", GOTO=\"onshi_ccid_end\""
		}
	print "# Every other reader may autosuspend.  The kernel keeps a device awake while a"
	print "# program has it open through usbfs, so this only saves power while pcscd has"
	print "# exited (--auto-exit) or released the reader; libccid does the same."
	print "TEST==\"power/control\", ATTR{power/control}=\"auto\""
	print ""
	print "LABEL=\"onshi_ccid_end\""
}
END {
	if (failed)
		exit 1
	if (n == 0) {
		printf "%s: no reader entries\n", listname > "/dev/stderr"
		exit 1
	}
	if (mode == "plist")
		emit_plist()
	else if (mode == "udev")
		emit_udev()
}
' "$list"
