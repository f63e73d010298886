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
                    e2elib.jpki_read_and_sign(rep, env, profile + (" slot 0 (contact)" if multi else ""),
                                  0, card, sub, pin, profile in EXTENDED_OK)
                    if multi:
                        e2elib.jpki_read_and_sign(rep, env, profile + " slot 1 (contactless)", 1,
                                      card2, sub, pin2, True)
                        r = env.probe("--reader", 1, "atr")
                        rep.run_result("multi-slot: contactless slot has a PC/SC Part 3 ATR",
                                       r, want_out="ATR=3B8880")
                    if profile == "pinpad":
                        e2elib.jpki_pinpad_cases(rep, env, card, sub, pin)
            except EnvError as e:
                rep.check("%s: environment" % profile, False, str(e))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return rep.finish()


if __name__ == "__main__":
    sys.exit(main())
