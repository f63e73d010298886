#!/usr/bin/python3
"""Every emulated reader profile under Debian's libccid, through a private pcscd.

For each profile: the auth certificate read through PC/SC is byte-equal to the
generated one (short-Le chunks, and one extended-Le READ where the reader can
carry it); the retry counter reads 3; a wrong PIN costs a try and reports how
many are left; VERIFY + COMPUTE DIGITAL SIGNATURE gives a signature that
verifies with the certificate.  pinpad: the PIN is typed on the emulated
keypad through FEATURE_VERIFY_PIN_DIRECT, and a cancel on the keypad gives
6401.  multi-slot: both slots (contact + contactless) carry their own card.
"""
import os
import shutil
import sys

sys.dont_write_bytecode = True  # the source tree may be read-only (distcheck)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2elib  # noqa: E402
from e2elib import TestEnv, EnvError  # noqa: E402

# Profiles whose reader carries extended APDUs with libccid: TPDU (T=1
# chaining does it) and extended-APDU level.  A short-APDU reader cannot.
EXTENDED_OK = {"tpdu-t1", "extended-apdu", "multi-slot", "pinpad"}
# Debian's libccid runs with its stock options on every profile: it is the
# witness that the emulator speaks real CCID, so no profile may need a
# libccid workaround (the pinpad profile reports SPR532 firmware 5.10, the
# first one libccid does not refuse as bogus).
LIBCCID_OPTIONS = {}


def read_and_sign(rep, env, label, reader, carddir, work, pin, extended):
    r = env.probe("--reader", reader, "--timeout", 20000, "wait-card", timeout=40)
    if not rep.run_result("%s: card present" % label, r):
        return
    cert = os.path.join(work, "auth-%s.der" % reader)
    r = env.probe("--reader", reader, "read-cert", "auth", "--out", cert)
    rep.run_result("%s: read-cert auth (short Le chunks) exits 0" % label, r)
    want = e2elib.read_bytes(os.path.join(carddir, "auth.der"))
    rep.check("%s: certificate byte-equal to the card's auth.der (%d bytes)" % (label, len(want)),
              os.path.exists(cert) and e2elib.read_bytes(cert) == want)
    if extended:
        ext = cert + ".ext"
        r = env.probe("--reader", reader, "read-cert", "auth", "--extended-le", "--out", ext)
        rep.run_result("%s: read-cert auth with one extended-Le READ BINARY" % label, r)
        rep.check("%s: extended-Le read byte-equal" % label,
                  os.path.exists(ext) and e2elib.read_bytes(ext) == want)
    else:
        # A short-APDU-level reader cannot carry an extended Le: libccid
        # refuses the exchange (SCARD_E_NOT_TRANSACTED) and the reader stays usable.
        r = env.probe("--reader", reader, "read-cert", "auth", "--extended-le")
        rep.run_result("%s: extended-Le READ BINARY refused by the driver (exit 5)" % label, r,
                       want_rc=e2elib.EX_TRANSPORT)
    r = env.probe("--reader", reader, "pin-status")
    rep.run_result("%s: auth PIN retry counter is 3" % label, r, want_out="auth-pin tries=3")

    data = os.path.join(work, "data.txt")
    e2elib.write_data(data)
    sig = os.path.join(work, "sig-%s.bin" % reader)
    wrong = "0000" if pin != "0000" else "9999"
    r = env.probe("--reader", reader, "sign", "--pin-env", "E2E_PIN", "--data", data,
                  "--out", sig, extra_env={"E2E_PIN": wrong})
    rep.run_result("%s: wrong PIN refused with 63C2 (exit 7)" % label, r,
                   want_rc=e2elib.EX_PIN, want_out="SW=63C2")
    rep.check("%s: the PIN never appears in the probe's output" % label,
              wrong not in r.stdout + r.stderr.replace("SW=63C2", ""))
    r = env.probe("--reader", reader, "sign", "--pin-env", "E2E_PIN", "--data", data,
                  "--out", sig, extra_env={"E2E_PIN": pin})
    rep.run_result("%s: VERIFY + COMPUTE DIGITAL SIGNATURE" % label, r,
                   want_out="signature bytes=256")
    ok, out = e2elib.verify_signature(cert, data, sig, work) if os.path.exists(sig) else (False, "no signature")
    rep.check("%s: signature verifies with the certificate" % label, ok, out)
    r = env.probe("--reader", reader, "pin-status")
    rep.run_result("%s: correct PIN resets the counter to 3" % label, r,
                   want_out="auth-pin tries=3")


def pinpad_cases(rep, env, carddir, work, pin):
    data = os.path.join(work, "data.txt")
    e2elib.write_data(data)
    cert = os.path.join(carddir, "auth.der")
    sig = os.path.join(work, "sig-pinpad.bin")
    reply = env.control("keypad %s" % pin)
    rep.check("pinpad: emulator accepts 'keypad DIGITS'", reply.startswith("ok"), reply)
    r = env.probe("sign", "--pinpad", "--data", data, "--out", sig, timeout=90)
    rep.run_result("pinpad: PIN typed on the keypad via VERIFY_PIN_DIRECT, then sign", r,
                   want_out="signature bytes=256")
    ok, out = e2elib.verify_signature(cert, data, sig, work) if os.path.exists(sig) else (False, "no signature")
    rep.check("pinpad: signature verifies with the certificate", ok, out)
    reply = env.control("keypad cancel")
    rep.check("pinpad: emulator accepts 'keypad cancel'", reply.startswith("ok"), reply)
    r = env.probe("sign", "--pinpad", "--data", data, "--out", sig + ".2", timeout=90)
    rep.run_result("pinpad: cancel on the keypad gives SW 6401 (exit 9)", r,
                   want_rc=e2elib.EX_PINPAD, want_out="SW=6401")
    r = env.probe("pin-status")
    rep.run_result("pinpad: a cancelled entry costs no try", r, want_out="auth-pin tries=3")


def main():
    e2elib.require_built(e2elib.emu_path(), e2elib.probe_path())
    e2elib.require_file(e2elib.mkcard_path())
    rep = e2elib.Report("test-libccid-profiles")
    work = e2elib.workdir()
    try:
        card = e2elib.make_card(work, "card")
        card2 = e2elib.make_card(work, "card2", "--auth-pin", "4321")
        pin = e2elib.card_conf(card).get("auth_pin", "1234")
        pin2 = e2elib.card_conf(card2).get("auth_pin", "4321")
        only = os.environ.get("E2E_PROFILES")
        profiles = only.split(",") if only else e2elib.PROFILES
        for profile in profiles:
            multi = profile == "multi-slot"
            try:
                with TestEnv(profile=profile, card="vcard:" + card,
                             card2=("vcard:" + card2) if multi else None,
                             libccid_options=LIBCCID_OPTIONS.get(profile)) as env:
                    rep.attach(env)
                    listing = env.wait_readers(2 if multi else 1)
                    rep.check("%s: libccid exposes %d reader(s)" % (profile, 2 if multi else 1),
                              ("readers=%d" % (2 if multi else 1)) in listing, listing)
                    sub = os.path.join(work, profile)
                    os.mkdir(sub)
                    read_and_sign(rep, env, profile + (" slot 0 (contact)" if multi else ""),
                                  0, card, sub, pin, profile in EXTENDED_OK)
                    if multi:
                        read_and_sign(rep, env, profile + " slot 1 (contactless)", 1,
                                      card2, sub, pin2, True)
                        r = env.probe("--reader", 1, "atr")
                        rep.run_result("multi-slot: contactless slot has a PC/SC Part 3 ATR",
                                       r, want_out="ATR=3B8880")
                    if profile == "pinpad":
                        pinpad_cases(rep, env, card, sub, pin)
            except EnvError as e:
                rep.check("%s: environment" % profile, False, str(e))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return rep.finish()


if __name__ == "__main__":
    sys.exit(main())
