"""e2elib — what the end-to-end tests share: PASS/FAIL reporting, SKIP for
pieces not built, virtual cards, signature checks.  Python stdlib only."""

import hashlib
import os
import re
import socket
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "harness"))

import onshi_testenv  # noqa: E402
from onshi_testenv import TestEnv, EnvError, probe_path, emu_path, tail  # noqa: E402,F401

SKIP = 77
PROFILES = ("tpdu-t1", "short-apdu", "extended-apdu", "multi-slot", "pinpad")
# Probe exit codes (tests/tools/onshi-pcsc-probe.c).
EX_OK, EX_USAGE, EX_PCSC, EX_NOCARD, EX_TRANSPORT, EX_SW, EX_PIN, EX_DATA, \
    EX_PINPAD, EX_TIMEOUT, EX_BLOCKED = 0, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11


def srcdir():
    return onshi_testenv.top_srcdir()


def openssl():
    return os.environ.get("OPENSSL") or "openssl"


class Report:
    """Prints one PASS/FAIL line per subcase; exit status at the end."""

    def __init__(self, name):
        self.name = name
        self.passed = 0
        self.failed = 0
        self.envs = []

    def attach(self, env):
        """A failed check marks env failed, so its logs are kept and shown."""
        self.envs = [e for e in self.envs if not e._stopped] + [env]
        return env

    def check(self, what, ok, detail=""):
        if ok:
            self.passed += 1
            print("PASS: %s" % what, flush=True)
        else:
            self.failed += 1
            for env in self.envs:
                env.failed = True
            print("FAIL: %s%s" % (what, (" -- " + detail.strip()) if detail else ""),
                  flush=True)
        return ok

    def run_result(self, what, result, want_rc=0, want_out=None):
        """Checks a probe CompletedProcess: its exit code and output text."""
        out = (result.stdout or "") + (result.stderr or "")
        ok = result.returncode == want_rc and (want_out is None or want_out in out)
        return self.check(what, ok, "exit %d (want %d)%s; output: %s" % (
            result.returncode, want_rc,
            "" if want_out is None else ", want %r" % want_out, out[-600:]))

    def finish(self):
        print("%s: %d passed, %d failed" % (self.name, self.passed, self.failed))
        return 1 if self.failed or not self.passed else 0


def require_built(*paths):
    """Exit 77 (SKIP) while a piece another part of the project builds is missing."""
    for p in paths:
        if not os.access(p, os.X_OK):
            print("SKIP: %s is not built" % p)
            sys.exit(SKIP)


def require_file(*paths):
    for p in paths:
        if not os.path.exists(p):
            print("SKIP: %s does not exist yet" % p)
            sys.exit(SKIP)


def mkcard_path():
    return os.path.join(srcdir(), "tests", "vcard", "mkcard.sh")


def make_card(parent, name="card", *options):
    """Generates a virtual My Number card directory; returns its path."""
    d = os.path.join(parent, name)
    subprocess.run(["sh", mkcard_path(), d] + list(options), check=True,
                   stdout=subprocess.DEVNULL, timeout=120)
    return d


def secret_in_text(text, secret):
    """True if a log or output shows the secret: as itself, standing apart
    from letters and digits (a 4-digit PIN inside a hex dump of certificate or
    random bytes is chance, 1 in 65536 per position, not a leak), or as its
    ASCII bytes in hex, with or without spaces between the bytes."""
    if isinstance(text, bytes):
        text = text.decode("latin-1")
    up = text.upper()
    if re.search(r"(?<![0-9A-Z])" + re.escape(secret.upper()) + r"(?![0-9A-Z])", up):
        return True
    hexed = secret.encode().hex().upper()
    spaced = " ".join(hexed[i:i + 2] for i in range(0, len(hexed), 2))
    return hexed in up or spaced in up


def card_conf(carddir):
    conf = {}
    with open(os.path.join(carddir, "card.conf")) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                k, v = line.split("=", 1)
                conf[k.strip()] = v.strip()
    return conf


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def verify_signature(cert_der, data_path, sig_path, workdir):
    """PKCS#1 v1.5 SHA-256 signature check with openssl; (ok, output)."""
    pub = os.path.join(workdir, "pub-%d.pem" % os.getpid())
    r = subprocess.run([openssl(), "x509", "-inform", "DER", "-in", cert_der,
                        "-pubkey", "-noout", "-out", pub],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        return False, r.stdout
    r = subprocess.run([openssl(), "dgst", "-sha256", "-verify", pub, "-signature",
                        sig_path, data_path],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return r.returncode == 0 and "Verified OK" in r.stdout, r.stdout


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def workdir(prefix="e2e"):
    base = os.environ.get("ONSHI_TEST_TMPDIR") or "/tmp"
    return tempfile.mkdtemp(prefix=prefix, dir=base if len(base) <= 40 else "/tmp")


def write_data(path, text=b"onshi end-to-end test data\n"):
    with open(path, "wb") as f:
        f.write(text)
    return hashlib.sha256(text).hexdigest()


# ---- the JPKI scenario both drivers must pass ---------------------------------

def jpki_read_and_sign(rep, env, label, reader, carddir, work, pin, extended):
    """Through PC/SC on one reader: the auth certificate read in short-Le
    chunks (and in one extended-Le READ where the reader carries it, else a
    clean refusal), the retry counter, a wrong PIN (63C2, never echoed), then
    VERIFY + COMPUTE DIGITAL SIGNATURE checked against the certificate.  The
    same checks run on libccid (the witness) and on our driver."""
    r = env.probe("--reader", reader, "--timeout", 20000, "wait-card", timeout=40)
    if not rep.run_result("%s: card present" % label, r):
        return
    want = read_bytes(os.path.join(carddir, "auth.der"))
    cert = os.path.join(work, "auth-%s.der" % reader)
    r = env.probe("--reader", reader, "read-cert", "auth", "--out", cert)
    rep.run_result("%s: read-cert auth (short Le chunks)" % label, r,
                   want_out="bytes=%d" % len(want))
    rep.check("%s: certificate byte-equal to the card's auth.der (%d bytes)" % (label, len(want)),
              os.path.exists(cert) and read_bytes(cert) == want)
    ext = cert + ".ext"
    r = env.probe("--reader", reader, "read-cert", "auth", "--extended-le", "--out", ext)
    if extended:
        rep.run_result("%s: one extended-Le READ BINARY" % label, r,
                       want_out="bytes=%d" % len(want))
        rep.check("%s: extended-Le read byte-equal" % label,
                  os.path.exists(ext) and read_bytes(ext) == want)
    else:
        # A short-APDU-level reader cannot carry an extended Le: the driver
        # refuses the exchange (SCARD_E_NOT_TRANSACTED) and the reader stays usable.
        rep.run_result("%s: extended-Le READ BINARY refused cleanly (exit 5)" % label, r,
                       want_rc=EX_TRANSPORT)
    r = env.probe("--reader", reader, "pin-status")
    rep.run_result("%s: auth PIN retry counter is 3" % label, r, want_out="auth-pin tries=3")

    data = os.path.join(work, "data-%s.txt" % reader)
    write_data(data)
    sig = os.path.join(work, "sig-%s.bin" % reader)
    wrong = "0000" if pin != "0000" else "9999"
    r = env.probe("--reader", reader, "sign", "--pin-env", "E2E_PIN", "--data", data,
                  "--out", sig, extra_env={"E2E_PIN": wrong})
    rep.run_result("%s: wrong PIN refused with 63C2 (exit 7)" % label, r,
                   want_rc=EX_PIN, want_out="SW=63C2")
    rep.check("%s: the PIN never appears in the probe's output" % label,
              wrong not in r.stdout + r.stderr.replace("SW=63C2", ""))
    r = env.probe("--reader", reader, "sign", "--pin-env", "E2E_PIN", "--data", data,
                  "--out", sig, extra_env={"E2E_PIN": pin})
    rep.run_result("%s: VERIFY + COMPUTE DIGITAL SIGNATURE" % label, r,
                   want_out="signature bytes=256")
    ok, out = verify_signature(cert, data, sig, work) if os.path.exists(sig) \
        else (False, "no signature")
    rep.check("%s: signature verifies with the certificate" % label, ok, out)
    r = env.probe("--reader", reader, "pin-status")
    rep.run_result("%s: correct PIN resets the counter to 3" % label, r,
                   want_out="auth-pin tries=3")


def jpki_pinpad_cases(rep, env, carddir, work, pin):
    """PIN typed on the emulated keypad through VERIFY_PIN_DIRECT, then a
    cancelled entry: SW 6401, no try spent, the protocol still in step."""
    data = os.path.join(work, "data-pinpad.txt")
    write_data(data)
    cert = os.path.join(carddir, "auth.der")
    sig = os.path.join(work, "sig-pinpad.bin")
    reply = env.control("keypad %s" % pin)
    rep.check("pinpad: emulator accepts 'keypad DIGITS'", reply.startswith("ok"), reply)
    r = env.probe("sign", "--pinpad", "--data", data, "--out", sig, timeout=90)
    rep.run_result("pinpad: PIN typed on the keypad via VERIFY_PIN_DIRECT, then sign", r,
                   want_out="signature bytes=256")
    ok, out = verify_signature(cert, data, sig, work) if os.path.exists(sig) \
        else (False, "no signature")
    rep.check("pinpad: signature verifies with the certificate", ok, out)
    reply = env.control("keypad cancel")
    rep.check("pinpad: emulator accepts 'keypad cancel'", reply.startswith("ok"), reply)
    r = env.probe("sign", "--pinpad", "--data", data, "--out", sig + ".2", timeout=90)
    rep.run_result("pinpad: cancel on the keypad gives SW 6401 (exit 9)", r,
                   want_rc=EX_PINPAD, want_out="SW=6401")
    r = env.probe("pin-status")
    rep.run_result("pinpad: a cancelled entry costs no try; T=1 still in step", r,
                   want_out="auth-pin tries=3")
