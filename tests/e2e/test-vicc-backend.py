#!/usr/bin/python3
"""The Python JPKI card (tests/backends/vicc-jpki-card.py, vsmartcard's vicc
protocol) read and used for signing through pcscd, on two reader paths:

1. the emulated USB reader's vicc:PORT backend under Debian's libccid;
2. Debian's vsmartcard vpcd reader driver (no emulator at all), which also
   cross-checks the probe against an implementation none of us wrote the
   reader side of.

Each: certificate byte-equal to the card's auth.der (short and extended
Le), retry counters, a wrong PIN reported with tries left, VERIFY + COMPUTE
DIGITAL SIGNATURE verifying with the certificate, and the card unplugged
(its process stopped) seen as a removal.
"""
import os
import shutil
import subprocess
import sys

sys.dont_write_bytecode = True  # the source tree may be read-only (distcheck)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2elib  # noqa: E402
from e2elib import TestEnv, EnvError, tail  # noqa: E402

CARD_PY = os.path.join(e2elib.srcdir(), "tests", "backends", "vicc-jpki-card.py")


def exercise(rep, env, label, card, port, work, removal):
    pin = e2elib.card_conf(card).get("auth_pin", "1234")
    log = os.path.join(env.dir, "vicc-card.log")
    vicc = subprocess.Popen(
        ["/usr/bin/python3", CARD_PY, "--host", "127.0.0.1", "--port", str(port),
         "--card", card],
        stdout=open(log, "wb"), stderr=subprocess.STDOUT, env=env.env(),
        start_new_session=True)
    try:
        if env.reader == "emu":
            # The reader's first power-on waits for the card to connect.
            env.wait_readers(1)
        r = env.probe("--timeout", 30000, "wait-card", timeout=50)
        rep.run_result("%s: card present" % label, r)
        want = e2elib.read_bytes(os.path.join(card, "auth.der"))
        for mode in ("short", "extended"):
            cert = os.path.join(work, "auth-%s.der" % mode)
            args = ["read-cert", "auth", "--out", cert] + (["--extended-le"] if mode == "extended" else [])
            r = env.probe(*args)
            rep.run_result("%s: read-cert auth (%s Le)" % (label, mode), r)
            rep.check("%s: certificate byte-equal to auth.der (%s Le)" % (label, mode),
                      os.path.exists(cert) and e2elib.read_bytes(cert) == want)
        r = env.probe("read-cert", "sign")
        rep.run_result("%s: sign certificate needs the password (SW 6982, exit 6)" % label, r,
                       want_rc=e2elib.EX_SW, want_out="SW=6982")
        r = env.probe("pin-status")
        rep.run_result("%s: retry counters 3 and 5" % label, r,
                       want_out="auth-pin tries=3 SW=63C3\nsign-pin tries=5 SW=63C5")
        data = os.path.join(work, "data.txt")
        e2elib.write_data(data)
        sig = os.path.join(work, "sig.bin")
        r = env.probe("sign", "--pin-env", "E2E_PIN", "--data", data, "--out", sig,
                      extra_env={"E2E_PIN": "9999" if pin != "9999" else "0000"})
        rep.run_result("%s: wrong PIN gives 63C2 (exit 7)" % label, r,
                       want_rc=e2elib.EX_PIN, want_out="SW=63C2")
        r = env.probe("sign", "--pin-env", "E2E_PIN", "--data", data, "--out", sig,
                      extra_env={"E2E_PIN": pin})
        rep.run_result("%s: VERIFY + COMPUTE DIGITAL SIGNATURE" % label, r,
                       want_out="signature bytes=256")
        cert = os.path.join(card, "auth.der")
        ok, out = e2elib.verify_signature(cert, data, sig, work) if os.path.exists(sig) \
            else (False, "no signature")
        rep.check("%s: signature verifies with the certificate" % label, ok, out)
        rep.check("%s: the Python card is still running" % label, vicc.poll() is None, tail(log))
        if removal:
            vicc.terminate()
            vicc.wait(10)
            r = env.probe("--timeout", 15000, "wait-removal", timeout=30)
            rep.run_result("%s: card process gone = card removed" % label, r)
    finally:
        if vicc.poll() is None:
            vicc.kill()
        vicc.wait()


def main():
    e2elib.require_built(e2elib.probe_path())
    e2elib.require_file(e2elib.mkcard_path(), CARD_PY)
    rep = e2elib.Report("test-vicc-backend")
    work = e2elib.workdir()
    try:
        card = e2elib.make_card(work, "card")
        with TestEnv(reader="vpcd") as env:
            rep.attach(env)
            sub = os.path.join(work, "vpcd")
            os.mkdir(sub)
            exercise(rep, env, "vpcd", card, env.vpcd_port, sub, removal=True)
        if not os.access(e2elib.emu_path(), os.X_OK):
            print("SKIP: emulated reader with vicc:PORT (%s not built)" % e2elib.emu_path())
            if not os.environ.get("ONSHI_E2E_ALLOW_MISSING_EMU"):
                rep.check("the emulator is built", False, e2elib.emu_path())
        else:
            port = e2elib.free_port()
            with TestEnv(profile="tpdu-t1", card="vicc:%d" % port) as env:
                rep.attach(env)
                port = int(env.emu_info.get("VICC_PORT", port))
                sub = os.path.join(work, "emu")
                os.mkdir(sub)
                exercise(rep, env, "emu vicc:PORT", card, port, sub, removal=False)
    except EnvError as e:
        rep.check("environment", False, str(e))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return rep.finish()


if __name__ == "__main__":
    sys.exit(main())
