#!/usr/bin/python3
"""vicc-jpki-card.py — a second, independent virtual My Number card.

It serves the JPKI AP (公的個人認証AP) of a card directory made by
tests/vcard/mkcard.sh through vsmartcard's vicc protocol: it connects to the
emulated reader's vicc backend (tests/backends/vicc.c) or to vpcd.  It shares
no code with the C virtual card (tests/vcard/), so a test that passes against
both is not testing one implementation against itself.

Behaviour (shared/reference/jpki.md §2.1, §3):
  SELECT the JPKI AP by name (00 A4 04 0C) and its EFs by id (00 A4 02 0C);
  READ BINARY with a 15-bit offset or an SFI, short or extended Le;
  VERIFY of the auth PIN (EF 0018, 3 tries) and the sign password (EF 001B,
  5 tries), by current EF (P2 80) or SFI (P2 80|SFI); an empty VERIFY
  answers 63Cx, or 9000 once verified; a blocked key answers 6984;
  COMPUTE DIGITAL SIGNATURE (80 2A 00 80|SFI): PKCS#1 v1.5 over the
  DigestInfo given, with the auth key (0017) or the sign key (001A), each
  after its own VERIFY; the sign certificate (0001) needs the sign password.
  Power-on and power-off clear the security state; a warm reset keeps it.
  The ATR is the contact ATR the C virtual card uses.

Run with Debian's /usr/bin/python3 (python3-virtualsmartcard,
python3-pycryptodome); the script puts vsmartcard's package directory on
sys.path and gives it the "Crypto" name it imports pycryptodome under.

Usage: vicc-jpki-card.py --card DIR --port N [--host 127.0.0.1]
"""

import argparse
import atexit
import hmac
import logging
import os
import shutil
import sys
import tempfile

VSMARTCARD_DIR = "/usr/lib/python3/site-packages/virtualsmartcard"
CRYPTODOME_DIR = "/usr/lib/python3/dist-packages/Cryptodome"


def _make_vsmartcard_importable():
    """Debian installs vsmartcard outside sys.path, and vsmartcard imports
    pycryptodome as "Crypto" while Debian names it "Cryptodome"."""
    shim = tempfile.mkdtemp(prefix="vicc-crypto-")
    atexit.register(shutil.rmtree, shim, True)
    os.symlink(CRYPTODOME_DIR, os.path.join(shim, "Crypto"))
    sys.path[:0] = [VSMARTCARD_DIR, shim]


_make_vsmartcard_importable()

from Cryptodome.PublicKey import RSA  # noqa: E402
from virtualsmartcard.VirtualSmartcard import SmartcardOS, VirtualICC  # noqa: E402

CONTACT_ATR = bytes.fromhex("3BDA13FF8131FB468012392F31C173C601C03B")
JPKI_AID = bytes.fromhex("D392F000260100000001")

SW_OK = 0x9000
SW_EOF_BEFORE_LE = 0x6282
SW_WRONG_LENGTH = 0x6700
SW_LOGICAL_CHANNEL = 0x6881
SW_INCOMPATIBLE_FILE = 0x6981
SW_SECURITY = 0x6982
SW_BLOCKED = 0x6984
SW_NO_CURRENT_EF = 0x6986
SW_FILE_NOT_FOUND = 0x6A82
SW_BAD_P1P2 = 0x6A86
SW_REF_NOT_FOUND = 0x6A88
SW_OFFSET_BEYOND_EF = 0x6B00
SW_INS_UNKNOWN = 0x6D00
SW_CLA_UNKNOWN = 0x6E00

EF_SIGN_CERT, EF_SIGN_CA, EF_TOKEN_INFO, EF_PRESENCE = 0x0001, 0x0002, 0x0006, 0x0008
EF_AUTH_CERT, EF_AUTH_CA = 0x000A, 0x000B
EF_AUTH_KEY, EF_AUTH_PIN, EF_SIGN_KEY, EF_SIGN_PW = 0x0017, 0x0018, 0x001A, 0x001B


class Secret:
    """A PIN or password key EF with its retry counter."""

    def __init__(self, value, tries):
        self.value = value
        self.max_tries = tries
        self.tries = tries
        self.verified = False

    def status(self):
        return 0x63C0 | self.tries

    def verify(self, attempt):
        if self.tries == 0:
            return SW_BLOCKED
        if hmac.compare_digest(attempt, self.value):
            self.tries = self.max_tries
            self.verified = True
            return SW_OK
        self.tries -= 1
        self.verified = False
        return self.status()


class Command:
    """A parsed command APDU (ISO 7816-4 cases 1-4, short or extended)."""

    def __init__(self, apdu):
        if len(apdu) < 4:
            raise ValueError("shorter than a header")
        self.cla, self.ins, self.p1, self.p2 = apdu[0], apdu[1], apdu[2], apdu[3]
        body = apdu[4:]
        self.data = b""
        self.ne = 0
        if not body:
            return
        if len(body) == 1:
            self.ne = body[0] or 256
        elif body[0] != 0:
            lc = body[0]
            if len(body) == 1 + lc:
                self.data = body[1:]
            elif len(body) == 2 + lc:
                self.data, self.ne = body[1:-1], body[-1] or 256
            else:
                raise ValueError("Lc does not match")
        elif len(body) == 3:
            self.ne = (body[1] << 8 | body[2]) or 65536
        else:
            lc = body[1] << 8 | body[2]
            if lc == 0 or len(body) not in (3 + lc, 5 + lc):
                raise ValueError("extended Lc does not match")
            self.data = body[3:3 + lc]
            if len(body) == 5 + lc:
                self.ne = (body[-2] << 8 | body[-1]) or 65536


def pkcs1_v15_sign(key, digest_info):
    """RSASSA-PKCS1-v1_5 signature over an already built DigestInfo: the
    card signs what it is given (jpki.md §3.1, P1 00)."""
    k = (key.n.bit_length() + 7) // 8
    if len(digest_info) > k - 11:
        return None
    em = b"\x00\x01" + b"\xff" * (k - 3 - len(digest_info)) + b"\x00" + digest_info
    return pow(int.from_bytes(em, "big"), key.d, key.n).to_bytes(k, "big")


def token_info():
    """EF 0006: a 160-byte CK_TOKEN_INFO, label first (jpki.md §2.1)."""
    def text(s, n):
        return s.encode("ascii").ljust(n, b" ")
    body = (text("JPKIAPICCTOKEN2", 32) + text("VICC TEST", 32) + text("vicc-jpki-card", 16)
            + text("0000000000000001", 16))
    body += bytes(160 - len(body))
    return body


def read_conf(path):
    conf = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                key, value = line.split("=", 1)
                conf[key.strip()] = value.strip()
    return conf


class JpkiOS(SmartcardOS):
    def __init__(self, card_dir):
        conf = read_conf(os.path.join(card_dir, "card.conf"))

        def load(name):
            with open(os.path.join(card_dir, name), "rb") as f:
                return f.read()

        has_sign = conf.get("sign_cert", "yes") == "yes"
        self.files = {
            EF_AUTH_CERT: load("auth.der"),
            EF_AUTH_CA: load("auth-ca.der"),
            EF_SIGN_CA: load("sign-ca.der"),
            EF_TOKEN_INFO: token_info(),
            EF_PRESENCE: bytes([0x8F if has_sign else 0x00, 0x8F, 0x00]),
        }
        # key EF -> (key, the secret that unlocks it)
        self.secrets = {
            EF_AUTH_PIN: Secret(conf["auth_pin"].encode("ascii"), 3),
            EF_SIGN_PW: Secret(conf["sign_pw"].encode("ascii"), 5),
        }
        self.keys = {EF_AUTH_KEY: (RSA.import_key(load("auth.key.pem")), EF_AUTH_PIN)}
        if has_sign:
            self.files[EF_SIGN_CERT] = load("sign.der")
            self.keys[EF_SIGN_KEY] = (RSA.import_key(load("sign.key.pem")), EF_SIGN_PW)
        # Files readable only once a secret is verified.
        self.protected = {EF_SIGN_CERT: EF_SIGN_PW}
        self.ap_selected = False
        self.current_ef = None

    # -- power ----------------------------------------------------------
    def getATR(self):
        return CONTACT_ATR

    def powerUp(self):
        self._clear_security()

    def powerDown(self):
        self._clear_security()

    def reset(self):
        # Warm reset: the security state survives (jpki.md §7 item 7).
        self.ap_selected = False
        self.current_ef = None

    def _clear_security(self):
        for s in self.secrets.values():
            s.verified = False
        self.ap_selected = False
        self.current_ef = None

    # -- dispatch -------------------------------------------------------
    def execute(self, msg):
        try:
            cmd = Command(bytes(msg))
        except ValueError:
            return self._sw(SW_WRONG_LENGTH)
        if cmd.cla & 0x03:
            return self._sw(SW_LOGICAL_CHANNEL)
        handlers = {
            (0x00, 0xA4): self._select,
            (0x00, 0xB0): self._read_binary,
            (0x00, 0x20): self._verify,
            (0x80, 0x2A): self._sign,
        }
        handler = handlers.get((cmd.cla & 0xFC, cmd.ins))
        if handler:
            return handler(cmd)
        if any(ins == cmd.ins for _, ins in handlers):
            return self._sw(SW_CLA_UNKNOWN)
        return self._sw(SW_INS_UNKNOWN)

    @staticmethod
    def _sw(sw, data=b""):
        return bytes(data) + bytes([sw >> 8, sw & 0xFF])

    def _known_ef(self, fid):
        return fid in self.files or fid in self.secrets or fid in self.keys

    def _select(self, cmd):
        if cmd.p1 == 0x04:
            if cmd.data != JPKI_AID:
                return self._sw(SW_FILE_NOT_FOUND)
            self.ap_selected = True
            self.current_ef = None
            return self._sw(SW_OK)
        if cmd.p1 == 0x02:
            if len(cmd.data) != 2:
                return self._sw(SW_WRONG_LENGTH)
            fid = cmd.data[0] << 8 | cmd.data[1]
            if not self.ap_selected or not self._known_ef(fid):
                return self._sw(SW_FILE_NOT_FOUND)
            self.current_ef = fid
            return self._sw(SW_OK)
        if cmd.p1 == 0x00 and not cmd.data:
            # SELECT MF: refused at MF level, ignored inside an AP (§3.1).
            return self._sw(SW_OK if self.ap_selected else SW_BAD_P1P2)
        return self._sw(SW_BAD_P1P2)

    def _read_binary(self, cmd):
        if cmd.p1 & 0x80:
            fid, offset = cmd.p1 & 0x1F, cmd.p2
            if not self.ap_selected or not self._known_ef(fid):
                return self._sw(SW_FILE_NOT_FOUND)
            self.current_ef = fid
        else:
            offset = cmd.p1 << 8 | cmd.p2
        fid = self.current_ef
        if fid is None:
            return self._sw(SW_NO_CURRENT_EF)
        if fid not in self.files:
            return self._sw(SW_INCOMPATIBLE_FILE)
        needed = self.protected.get(fid)
        if needed is not None and not self.secrets[needed].verified:
            return self._sw(SW_SECURITY)
        content = self.files[fid]
        if cmd.ne == 0:
            return self._sw(SW_WRONG_LENGTH)
        if offset >= len(content):
            return self._sw(SW_OFFSET_BEYOND_EF)
        chunk = content[offset:offset + cmd.ne]
        # Fewer bytes than asked: 6282, except when Le asked for "all" (00).
        short = len(chunk) < cmd.ne and cmd.ne not in (256, 65536)
        return self._sw(SW_EOF_BEFORE_LE if short else SW_OK, chunk)

    def _secret_for(self, cmd):
        if cmd.p1 != 0x00:
            return None, SW_BAD_P1P2
        if cmd.p2 == 0x80:
            fid = self.current_ef
        elif cmd.p2 & 0x80 and not cmd.p2 & 0x60:
            fid = cmd.p2 & 0x1F
        else:
            return None, SW_BAD_P1P2
        if fid not in self.secrets or not self.ap_selected:
            return None, SW_REF_NOT_FOUND
        return self.secrets[fid], SW_OK

    def _verify(self, cmd):
        secret, sw = self._secret_for(cmd)
        if secret is None:
            return self._sw(sw)
        if not cmd.data:
            # Retry-counter query: does not consume a try.
            if secret.tries == 0:
                return self._sw(secret.status())
            return self._sw(SW_OK if secret.verified else secret.status())
        return self._sw(secret.verify(cmd.data))

    def _sign(self, cmd):
        if cmd.p1 != 0x00:
            return self._sw(SW_BAD_P1P2)
        if cmd.p2 == 0x80:
            fid = self.current_ef
        elif cmd.p2 & 0x80 and not cmd.p2 & 0x60:
            fid = cmd.p2 & 0x1F
        else:
            return self._sw(SW_BAD_P1P2)
        if fid not in self.keys or not self.ap_selected:
            return self._sw(SW_REF_NOT_FOUND)
        key, secret_fid = self.keys[fid]
        if not self.secrets[secret_fid].verified:
            return self._sw(SW_SECURITY)
        if not cmd.data:
            return self._sw(SW_WRONG_LENGTH)
        signature = pkcs1_v15_sign(key, cmd.data)
        if signature is None:
            return self._sw(SW_WRONG_LENGTH)
        return self._sw(SW_OK, signature)


def main():
    parser = argparse.ArgumentParser(description="JPKI vicc card (vsmartcard protocol)")
    parser.add_argument("--card", required=True, help="card directory made by mkcard.sh")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()

    card_os = JpkiOS(args.card)
    # vsmartcard logs every APDU at INFO (PINs included): keep it quiet.
    try:
        vicc = VirtualICC(None, "iso7816", args.host, args.port, logginglevel=logging.ERROR)
    except SystemExit:
        # vsmartcard exits with status 0 when it cannot connect: say so.
        sys.exit("vicc-jpki-card.py: cannot connect to %s:%d" % (args.host, args.port))
    vicc.os = card_os
    vicc.run()   # returns by SystemExit when the reader closes the connection


if __name__ == "__main__":
    main()
