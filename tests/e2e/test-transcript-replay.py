#!/usr/bin/python3
"""Record a session through pcscd, replay it, and catch a deviation.

1. record:FILE:vcard:DIR while the probe reads the auth certificate and
   signs: the transcript is written and never holds the PIN.
2. replay:FILE through pcscd: the same probe commands give the same
   certificate and the same signature (PKCS#1 v1.5 is deterministic).
3. A transcript whose SELECT EF 000A was altered: the probe fails, the
   emulator's stderr shows the expected and the received command, and the
   emulator exits with status 3.
"""
import os
import re
import shutil
import sys

sys.dont_write_bytecode = True  # the source tree may be read-only (distcheck)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2elib  # noqa: E402
from e2elib import TestEnv, EnvError, tail  # noqa: E402

SELECT_AUTH_CERT = "00A4020C02000A"


def session(rep, env, label, work, pin, tag):
    """The probe's read + sign; returns (cert bytes, signature bytes)."""
    r = env.probe("--timeout", 20000, "wait-card", timeout=40)
    rep.run_result("%s: card present" % label, r)
    cert = os.path.join(work, "cert-%s.der" % tag)
    sig = os.path.join(work, "sig-%s.bin" % tag)
    r = env.probe("read-cert", "auth", "--out", cert)
    rep.run_result("%s: read-cert auth" % label, r)
    r = env.probe("sign", "--pin-env", "E2E_PIN", "--data", os.path.join(work, "data.txt"),
                  "--out", sig, extra_env={"E2E_PIN": pin})
    rep.run_result("%s: sign" % label, r, want_out="signature bytes=256")
    read = lambda p: e2elib.read_bytes(p) if os.path.exists(p) else b""  # noqa: E731
    return read(cert), read(sig)


def alter(transcript, altered):
    """Rewrites the command SELECT EF 000A into SELECT EF 000B."""
    done = False
    out = []
    with open(transcript) as f:
        for line in f:
            body = line[1:].strip() if line.startswith(">") else ""
            if not done and re.sub(r"[\s:]", "", body).upper() == SELECT_AUTH_CERT:
                line = "> 00 A4 02 0C 02 00 0B\n"
                done = True
            out.append(line)
    with open(altered, "w") as f:
        f.writelines(out)
    return done


def main():
    e2elib.require_built(e2elib.emu_path(), e2elib.probe_path())
    e2elib.require_file(e2elib.mkcard_path())
    rep = e2elib.Report("test-transcript-replay")
    work = e2elib.workdir()
    try:
        card = e2elib.make_card(work, "card")
        pin = e2elib.card_conf(card).get("auth_pin", "1234")
        e2elib.write_data(os.path.join(work, "data.txt"))
        transcript = os.path.join(work, "session.apdu")
        with TestEnv(profile="tpdu-t1", card="record:%s:vcard:%s" % (transcript, card)) as env:
            rep.attach(env)
            env.wait_readers(1)
            cert1, sig1 = session(rep, env, "record", work, pin, "rec")
        rep.check("record: certificate equals the card's",
                  cert1 == e2elib.read_bytes(os.path.join(card, "auth.der")))
        text = open(transcript).read() if os.path.exists(transcript) else ""
        rep.check("record: transcript written with commands and answers",
                  ">" in text and "<" in text, text[:200])
        pin_hex = " ".join("%02X" % b for b in pin.encode())
        rep.check("record: the PIN is not in the transcript",
                  pin_hex not in text.upper() and pin_hex.replace(" ", "") not in
                  text.upper().replace(" ", "").replace("\n", "|"))

        with TestEnv(profile="tpdu-t1", card="replay:" + transcript) as env:
            rep.attach(env)
            env.wait_readers(1)
            cert2, sig2 = session(rep, env, "replay", work, pin, "rep")
        rep.check("replay: same certificate bytes as recorded", cert2 == cert1 and cert1)
        rep.check("replay: same signature bytes as recorded", sig2 == sig1 and sig1)
        rep.check("replay: the emulator exits 0 (whole transcript replayed)", env.emu_status == 0,
                  "status %s" % env.emu_status)

        altered = os.path.join(work, "altered.apdu")
        rep.check("altered transcript prepared (SELECT EF 000A -> 000B)", alter(transcript, altered))
        with TestEnv(profile="tpdu-t1", card="replay:" + altered, emu_exit=3) as env:
            rep.attach(env)
            env.wait_readers(1)
            r = env.probe("--timeout", 20000, "wait-card", timeout=40)
            r = env.probe("read-cert", "auth", "--out", os.path.join(work, "bad.der"))
            rep.check("altered: the client gets an error (exit %d)" % r.returncode,
                      r.returncode != 0, r.stdout + r.stderr)
            log = tail(env.emu_log, 200)
            rep.check("altered: the emulator's stderr shows the expected command",
                      "00 A4 02 0C 02 00 0B" in log.upper() or "00A4020C02000B" in log.upper(), log)
            rep.check("altered: the emulator's stderr shows the received command",
                      "00 A4 02 0C 02 00 0A" in log.upper() or "00A4020C02000A" in log.upper(), log)
        rep.check("altered: the emulator exits with status 3 (replay failed)", env.emu_status == 3,
                  "status %s" % env.emu_status)
    except EnvError as e:
        rep.check("environment", False, str(e))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return rep.finish()


if __name__ == "__main__":
    sys.exit(main())
