#!/usr/bin/python3
"""The emulated reader with a vsmartcard vicc card over TCP (vicc:PORT):
the Python JPKI card (tests/backends/vicc-jpki-card.py) is read and signs
through libccid and pcscd exactly as the built-in virtual card does."""
import os
import shutil
import subprocess
import sys

sys.dont_write_bytecode = True  # the source tree may be read-only (distcheck)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2elib  # noqa: E402
from e2elib import TestEnv, EnvError, tail  # noqa: E402


def main():
    e2elib.require_built(e2elib.emu_path(), e2elib.probe_path())
    card_py = os.path.join(e2elib.srcdir(), "tests", "backends", "vicc-jpki-card.py")
    e2elib.require_file(e2elib.mkcard_path(), card_py)
    rep = e2elib.Report("test-vicc-backend")
    work = e2elib.workdir()
    vicc = None
    try:
        card = e2elib.make_card(work, "card")
        pin = e2elib.card_conf(card).get("auth_pin", "1234")
        port = e2elib.free_port()
        with TestEnv(profile="tpdu-t1", card="vicc:%d" % port) as env:
            port = int(env.emu_info.get("VICC_PORT", port))
            vicc = subprocess.Popen(
                ["/usr/bin/python3", card_py, "--host", "127.0.0.1", "--port", str(port), card],
                stdout=open(os.path.join(env.dir, "vicc.log"), "wb"), stderr=subprocess.STDOUT,
                env=env.env(), start_new_session=True)
            env.wait_readers(1)
            r = env.probe("--timeout", 30000, "wait-card", timeout=50)
            rep.run_result("vicc: card present", r)
            cert = os.path.join(work, "auth.der")
            r = env.probe("read-cert", "auth", "--out", cert)
            rep.run_result("vicc: read-cert auth", r)
            rep.check("vicc: certificate byte-equal to the card's auth.der",
                      os.path.exists(cert) and e2elib.read_bytes(cert) ==
                      e2elib.read_bytes(os.path.join(card, "auth.der")))
            r = env.probe("pin-status")
            rep.run_result("vicc: auth PIN retry counter is 3", r, want_out="auth-pin tries=3")
            data = os.path.join(work, "data.txt")
            e2elib.write_data(data)
            sig = os.path.join(work, "sig.bin")
            r = env.probe("sign", "--pin-env", "E2E_PIN", "--data", data, "--out", sig,
                          extra_env={"E2E_PIN": pin})
            rep.run_result("vicc: VERIFY + COMPUTE DIGITAL SIGNATURE", r,
                           want_out="signature bytes=256")
            ok, out = e2elib.verify_signature(cert, data, sig, work) if os.path.exists(sig) \
                else (False, "no signature")
            rep.check("vicc: signature verifies with the certificate", ok, out)
            rep.check("vicc: the Python card is still running", vicc.poll() is None,
                      tail(os.path.join(env.dir, "vicc.log")))
            vicc.terminate()
            vicc.wait(10)
    except EnvError as e:
        rep.check("environment", False, str(e))
    finally:
        if vicc and vicc.poll() is None:
            vicc.kill()
            vicc.wait()
        shutil.rmtree(work, ignore_errors=True)
    return rep.finish()


if __name__ == "__main__":
    sys.exit(main())
