#!/usr/bin/python3
"""onshi's IFD handler seen through SCardControl and SCardGetAttrib (a small
ctypes client of Debian's libpcsclite, run in the test environment).

pinpad (SPR532 profile): GET_FEATURE_REQUEST lists VERIFY_PIN_DIRECT,
MODIFY_PIN_DIRECT, IFD_PIN_PROPERTIES and GET_TLV_PROPERTIES with pcsc-lite's
IOCTL numbers and no CCID_ESC_COMMAND; GET_TLV_PROPERTIES carries the USB IDs
and dwMaxAPDUDataSize 0x10000 (TPDU reader); IFD_PIN_PROPERTIES is 4 bytes;
the vendor escape is refused (SCARD_E_UNSUPPORTED_FEATURE) while Info.plist
ifdDriverOptions is 0.  extended-apdu (RC-S300 profile, no PIN pad):
only GET_TLV_PROPERTIES; VERIFY_PIN_DIRECT is refused.  tpdu-t1 with a bundle
copy whose Info.plist sets ifdDriverOptions 0x0001: CCID_ESC_COMMAND is listed
and the escape reaches the reader (its firmware-version answer).  Attributes:
vendor name, IFD version (bcdDevice << 16), max input (dwMaxCCIDMessageLength
- 10), channel id (0x0020 << 16 | bus << 8 | address), ATR.
"""
import ctypes
import json
import os
import re
import shutil
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2elib  # noqa: E402
from e2elib import TestEnv, EnvError  # noqa: E402


def ctl_code(code):
    return 0x42000000 + code


def feature_ioctl(tag):
    return ctl_code(0x330000 + tag)


GET_FEATURE_REQUEST = ctl_code(3400)
VENDOR_ESCAPE = ctl_code(1)
SCARD_E_UNSUPPORTED_FEATURE = 0x8010001F
ATTR = {"vendor": 0x10100, "version": 0x10102, "channel": 0x20110, "maxinput": 0x7A007,
        "atr": 0x90303}
ESCAPE_GET_FIRMWARE = bytes.fromhex("E000001800")


# ---- client side (runs in a child with PCSCLITE_CSOCK_NAME set) ----------------

def client(requests):
    lib = ctypes.CDLL("libpcsclite.so.1")
    DWORD = ctypes.c_ulong
    ctx = ctypes.c_long()
    rv = lib.SCardEstablishContext(DWORD(2), None, None, ctypes.byref(ctx)) & 0xFFFFFFFF
    if rv:
        return {"error": "establish %08X" % rv}
    size = DWORD(0)
    lib.SCardListReaders(ctx, None, None, ctypes.byref(size))
    names = ctypes.create_string_buffer(size.value)
    lib.SCardListReaders(ctx, None, names, ctypes.byref(size))
    reader = names.raw.split(b"\0")[0]
    card = ctypes.c_long()
    proto = DWORD()
    rv = lib.SCardConnect(ctx, reader, DWORD(2), DWORD(3), ctypes.byref(card),
                          ctypes.byref(proto)) & 0xFFFFFFFF
    if rv:
        return {"error": "connect %08X" % rv}
    out = {}
    for name, kind, code, data in requests:
        buf = ctypes.create_string_buffer(1024)
        if kind == "control":
            inp = bytes.fromhex(data)
            got = DWORD(0)
            rv = lib.SCardControl(card, DWORD(code), inp, DWORD(len(inp)), buf, DWORD(1024),
                                  ctypes.byref(got)) & 0xFFFFFFFF
        else:
            got = DWORD(264)   # pcsc-lite's MAX_BUFFER_SIZE: larger is refused
            rv = lib.SCardGetAttrib(card, DWORD(code), buf, ctypes.byref(got)) & 0xFFFFFFFF
        out[name] = {"rv": rv, "data": buf.raw[:got.value].hex() if rv == 0 else ""}
    lib.SCardDisconnect(card, DWORD(0))
    lib.SCardReleaseContext(ctx)
    return out


def run_client(env, requests):
    r = subprocess.run([sys.executable, os.path.abspath(__file__), "--client",
                        json.dumps(requests)], env=env.env(), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=60)
    try:
        return json.loads(r.stdout)
    except ValueError:
        return {"error": "client failed: %s %s" % (r.stdout, r.stderr)}


# ---- checks ------------------------------------------------------------------------

def features(hexdata):
    """GET_FEATURE_REQUEST TLVs → {tag: ioctl}."""
    data = bytes.fromhex(hexdata)
    out = {}
    while len(data) >= 6 and data[1] == 4:
        out[data[0]] = int.from_bytes(data[2:6], "big")
        data = data[6:]
    return out if not data else None


def tlv_properties(hexdata):
    data = bytes.fromhex(hexdata)
    out = {}
    while len(data) >= 2 and len(data) >= 2 + data[1]:
        out[data[0]] = int.from_bytes(data[2:2 + data[1]], "little")
        data = data[2 + data[1]:]
    return out if not data else None


def bundle_path():
    return os.path.join(e2elib.onshi_testenv.top_builddir(), "driver", "ifd-onshi.bundle")


def escape_bundle(work):
    """A copy of the build-tree bundle with ifdDriverOptions 0x0001."""
    dst = os.path.join(work, "escape", "ifd-onshi.bundle")
    os.makedirs(os.path.join(dst, "Contents", "Linux"))
    src = bundle_path()
    shutil.copy(os.path.join(src, "Contents", "Linux", "libifd-onshi.so"),
                os.path.join(dst, "Contents", "Linux", "libifd-onshi.so"))
    with open(os.path.join(src, "Contents", "Info.plist")) as f:
        plist = f.read()
    plist, n = re.subn(r"(<key>ifdDriverOptions</key>\s*<string>)[^<]*(</string>)",
                       r"\g<1>0x0001\g<2>", plist)
    if n != 1:
        raise EnvError("Info.plist has no ifdDriverOptions")
    with open(os.path.join(dst, "Contents", "Info.plist"), "w") as f:
        f.write(plist)
    return dst


def common_requests():
    return [["features", "control", GET_FEATURE_REQUEST, ""],
            ["tlv", "control", feature_ioctl(0x12), ""],
            ["escape", "control", VENDOR_ESCAPE, ESCAPE_GET_FIRMWARE.hex()]] + \
        [[k, "attr", v, None] for k, v in ATTR.items()]


def check_attrs(rep, label, res, vendor, bcd, maxmsg):
    got = res.get("vendor", {})
    rep.check("%s: vendor name attribute is the USB manufacturer %r" % (label, vendor),
              got.get("rv") == 0 and bytes.fromhex(got["data"]).rstrip(b"\0") == vendor.encode(),
              str(got))
    got = res.get("version", {})
    rep.check("%s: IFD version = bcdDevice << 16" % label,
              got.get("rv") == 0 and int.from_bytes(bytes.fromhex(got["data"])[:4], "little")
              == bcd << 16, str(got))
    got = res.get("maxinput", {})
    rep.check("%s: max input = dwMaxCCIDMessageLength - 10 = %d" % (label, maxmsg - 10),
              got.get("rv") == 0 and int.from_bytes(bytes.fromhex(got["data"])[:4], "little")
              == maxmsg - 10, str(got))
    got = res.get("channel", {})
    value = int.from_bytes(bytes.fromhex(got.get("data", "")), "little") if got.get("rv") == 0 else -1
    rep.check("%s: channel id = USB (0x0020), bus 1" % label,
              value >> 16 == 0x0020 and (value >> 8) & 0xFF == 1, "%X" % value)
    got = res.get("atr", {})
    rep.check("%s: ATR attribute" % label, got.get("rv") == 0 and got["data"].startswith("3b"),
              str(got))


def main():
    e2elib.require_built(e2elib.emu_path(), e2elib.probe_path())
    e2elib.require_file(e2elib.mkcard_path(),
                        os.path.join(bundle_path(), "Contents", "Linux", "libifd-onshi.so"))
    rep = e2elib.Report("test-onshi-driver-part10")
    work = e2elib.workdir("drvp")
    try:
        card = "vcard:" + e2elib.make_card(work, "card")
        cases = (("pinpad", bundle_path()), ("extended-apdu", bundle_path()),
                 ("tpdu-t1", escape_bundle(work)))
        for profile, bundle in cases:
            try:
                with TestEnv(profile=profile, card=card, driver=bundle) as env:
                    env.wait_readers(1)
                    env.probe("--timeout", 20000, "wait-card", timeout=40)
                    reqs = common_requests() + [
                        ["pinprops", "control", feature_ioctl(0x0A), ""],
                        ["verify", "control", feature_ioctl(0x06), "00" * 24]]
                    res = run_client(env, reqs)
                    if not rep.check("%s: client ran" % profile, "error" not in res, str(res)):
                        continue
                    feats = features(res["features"]["data"]) if res["features"]["rv"] == 0 else None
                    tlv = tlv_properties(res["tlv"]["data"]) if res["tlv"]["rv"] == 0 else None
                    if profile == "pinpad":
                        want = {t: feature_ioctl(t) for t in (0x06, 0x07, 0x0A, 0x12)}
                        rep.check("pinpad: features VERIFY/MODIFY_PIN_DIRECT, IFD_PIN_PROPERTIES, "
                                  "GET_TLV_PROPERTIES", feats == want, str(feats))
                        rep.check("pinpad: TLV properties name 04E6:E003 and 64 KiB APDUs",
                                  tlv is not None and tlv.get(11) == 0x04E6 and
                                  tlv.get(12) == 0xE003 and tlv.get(10) == 0x10000, str(tlv))
                        rep.check("pinpad: IFD_PIN_PROPERTIES is a 4-byte structure",
                                  res["pinprops"]["rv"] == 0 and len(res["pinprops"]["data"]) == 8,
                                  str(res["pinprops"]))
                        rep.check("pinpad: vendor escape refused without ifdDriverOptions 0x01",
                                  res["escape"]["rv"] == SCARD_E_UNSUPPORTED_FEATURE,
                                  str(res["escape"]))
                        check_attrs(rep, "pinpad", res, "SCM Microsystems Inc.", 0x0510, 263)
                    elif profile == "extended-apdu":
                        rep.check("extended-apdu: only GET_TLV_PROPERTIES (no PIN pad)",
                                  feats == {0x12: feature_ioctl(0x12)}, str(feats))
                        rep.check("extended-apdu: TLV properties name 054C:0DC9",
                                  tlv is not None and tlv.get(11) == 0x054C and
                                  tlv.get(12) == 0x0DC9 and tlv.get(10) == 0x10000, str(tlv))
                        rep.check("extended-apdu: VERIFY_PIN_DIRECT refused",
                                  res["verify"]["rv"] == SCARD_E_UNSUPPORTED_FEATURE,
                                  str(res["verify"]))
                        check_attrs(rep, "extended-apdu", res, "SONY", 0x0100, 522)
                    else:
                        rep.check("tpdu-t1 + ifdDriverOptions 0x01: CCID_ESC_COMMAND listed",
                                  feats is not None and feats.get(0x13) == feature_ioctl(0x13),
                                  str(feats))
                        answer = bytes.fromhex(res["escape"]["data"])
                        rep.check("tpdu-t1 + ifdDriverOptions 0x01: escape reaches the reader",
                                  res["escape"]["rv"] == 0 and answer[:4] == b"\xE1\0\0\0"
                                  and b"ACR39U" in answer, str(res["escape"]))
                        check_attrs(rep, "tpdu-t1", res, "ACS", 0x0216, 271)
                    if rep.failed:
                        env.failed = True
            except EnvError as e:
                rep.check("%s: environment" % profile, False, str(e))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return rep.finish()


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--client":
        print(json.dumps(client(json.loads(sys.argv[2]))))
        sys.exit(0)
    sys.exit(main())
