#!/usr/bin/python3
"""test-vicc-python.py — the vicc backend (tests/backends/vicc.c, driven by
card-tool) against vicc-jpki-card.py, vsmartcard's Python vicc serving a
card directory made by tests/vcard/mkcard.sh.

Checks: power-on gives the contact ATR; SELECT + READ BINARY in short-Le
chunks returns auth.der byte for byte; the auth PIN's retry counter (empty
VERIFY, wrong PIN, right PIN); a signature before and after VERIFY, checked
against the certificate's public key; the sign certificate needs the sign
password; a warm reset keeps the security state and a power cycle clears it;
closing the reader side ends the card process.
"""

import hashlib
import os
import subprocess
import sys
import tempfile

SRC = os.environ.get("ONSHI_TOP_SRCDIR", os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("ONSHI_TOP_BUILDDIR", ".")
CARD_TOOL = os.path.join(BUILD, "tests", "backends", "card-tool")
CARD_SCRIPT = os.path.join(SRC, "tests", "backends", "vicc-jpki-card.py")
MKCARD = os.path.join(SRC, "tests", "vcard", "mkcard.sh")
TIMEOUT = 30

ATR = "3B DA 13 FF 81 31 FB 46 80 12 39 2F 31 C1 73 C6 01 C0 3B"
SELECT_JPKI = "00 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01"
DIGESTINFO_SHA256 = bytes.fromhex("3031300D060960864801650304020105000420")

passed = 0
failed = 0


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print("ok - " + name)
    else:
        failed += 1
        print("not ok - %s %s" % (name, detail))


class Reader:
    """card-tool running a vicc backend: one operation in, one line out."""

    def __init__(self):
        self.proc = subprocess.Popen([CARD_TOOL, "vicc:0,timeout=%d" % (TIMEOUT * 1000)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, bufsize=1)
        first = self.proc.stdout.readline().split()
        if len(first) != 2 or first[0] != "port":
            raise RuntimeError("card-tool said %r, not its port" % first)
        self.port = int(first[1])

    def do(self, op):
        self.proc.stdin.write(op + "\n")
        self.proc.stdin.flush()
        return self.proc.stdout.readline().strip()

    def apdu(self, hexstr):
        answer = self.do(hexstr)
        if answer == "mute":
            raise RuntimeError("card mute after " + hexstr)
        return bytes.fromhex(answer)

    def close(self):
        self.proc.stdin.close()
        return self.proc.wait(timeout=TIMEOUT)


def sw(resp):
    return resp[-2:].hex().upper()


def read_ef(reader, fid):
    """SELECT an EF and read it whole, in chunks of at most 256 with short Le."""
    resp = reader.apdu("00 A4 02 0C 02 %04X" % fid)
    if sw(resp) != "9000":
        return None, sw(resp)
    head = reader.apdu("00 B0 00 00 04")
    if sw(head) != "9000":
        return None, sw(head)
    total = ((head[2] << 8) | head[3]) + 4
    data = bytearray(head[:-2])
    while len(data) < total:
        n = min(256, total - len(data))
        chunk = reader.apdu("00 B0 %02X %02X %02X" % (len(data) >> 8, len(data) & 0xFF, n & 0xFF))
        if sw(chunk) != "9000":
            return None, sw(chunk)
        data += chunk[:-2]
    return bytes(data), "9000"


def verify_signature(cert_der, digest_info, signature):
    """Check the card's signature with openssl against the certificate."""
    with tempfile.TemporaryDirectory() as tmp:
        cert = os.path.join(tmp, "c.der")
        pub = os.path.join(tmp, "pub.pem")
        sig = os.path.join(tmp, "sig")
        with open(cert, "wb") as f:
            f.write(cert_der)
        with open(sig, "wb") as f:
            f.write(signature)
        openssl = os.environ.get("OPENSSL", "openssl")
        subprocess.run([openssl, "x509", "-inform", "DER", "-in", cert, "-pubkey", "-noout",
                        "-out", pub], check=True)
        out = subprocess.run([openssl, "pkeyutl", "-verifyrecover", "-pubin", "-inkey", pub,
                              "-in", sig], check=True, capture_output=True).stdout
        return out == digest_info


def session(reader, card_dir):
    with open(os.path.join(card_dir, "auth.der"), "rb") as f:
        auth_der = f.read()
    conf = dict(line.strip().split("=", 1) for line in open(os.path.join(card_dir, "card.conf"),
                                                          encoding="utf-8")
                if "=" in line and not line.startswith("#"))
    pin = conf["auth_pin"].encode("ascii")
    wrong_pin = b"0000" if pin != b"0000" else b"9999"

    check("power-on gives the contact ATR", reader.do("power-on") == "atr " + ATR)
    check("SELECT JPKI AP", sw(reader.apdu(SELECT_JPKI)) == "9000")
    cert, status = read_ef(reader, 0x000A)
    check("auth certificate read equals auth.der", cert == auth_der,
          "(status %s, %d vs %d bytes)" % (status, len(cert or b""), len(auth_der)))
    check("unknown EF is 6A82", sw(reader.apdu("00 A4 02 0C 02 00 0F")) == "6A82")
    check("sign certificate needs the sign password", read_ef(reader, 0x0001)[1] == "6982")

    digest_info = DIGESTINFO_SHA256 + hashlib.sha256(b"onshi vicc test").digest()
    sign_cmd = "80 2A 00 80 %02X %s 00" % (len(digest_info), digest_info.hex())
    reader.apdu("00 A4 02 0C 02 00 17")
    check("signature before VERIFY is 6982", sw(reader.apdu(sign_cmd)) == "6982")

    reader.apdu("00 A4 02 0C 02 00 18")
    check("empty VERIFY says 3 tries", sw(reader.apdu("00 20 00 80")) == "63C3")
    check("wrong PIN leaves 2 tries",
          sw(reader.apdu("00 20 00 80 04 " + wrong_pin.hex())) == "63C2")
    check("empty VERIFY does not consume a try", sw(reader.apdu("00 20 00 80")) == "63C2")
    check("right PIN", sw(reader.apdu("00 20 00 80 04 " + pin.hex())) == "9000")
    check("empty VERIFY once verified is 9000", sw(reader.apdu("00 20 00 80")) == "9000")

    reader.apdu("00 A4 02 0C 02 00 17")
    resp = reader.apdu(sign_cmd)
    check("signature is 256 bytes + 9000", len(resp) == 258 and sw(resp) == "9000")
    check("signature verifies with the auth certificate",
          verify_signature(auth_der, digest_info, resp[:-2]))

    check("warm reset gives the ATR again", reader.do("warm-reset") == "atr " + ATR)
    reader.apdu(SELECT_JPKI)
    check("warm reset keeps the PIN verified",
          sw(reader.apdu("80 2A 00 97 %02X %s 00" % (len(digest_info), digest_info.hex())))
          == "9000")
    check("power-off", reader.do("power-off") == "ok")
    reader.do("power-on")
    reader.apdu(SELECT_JPKI)
    check("power cycle clears it",
          sw(reader.apdu("80 2A 00 97 %02X %s 00" % (len(digest_info), digest_info.hex())))
          == "6982")


def main():
    for path in (CARD_TOOL, CARD_SCRIPT, MKCARD):
        if not os.path.exists(path):
            print("missing " + path)
            return 1
    with tempfile.TemporaryDirectory(prefix="onshi-vicc-") as tmp:
        card_dir = os.path.join(tmp, "card")
        subprocess.run(["sh", MKCARD, card_dir], check=True, stdout=subprocess.DEVNULL)
        reader = Reader()
        card = subprocess.Popen([sys.executable, CARD_SCRIPT, "--card", card_dir,
                                 "--port", str(reader.port)])
        try:
            session(reader, card_dir)
            check("card-tool exits cleanly", reader.close() == 0)
            # The reader side closed: vsmartcard's card loop ends by itself.
            check("card process ends (status 0) when the reader goes", card.wait(timeout=TIMEOUT) == 0)
        finally:
            for proc in (reader.proc, card):
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
