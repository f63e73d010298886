#!/usr/bin/python3
"""onshi's own IFD handler (build-tree bundle driver/ifd-onshi.bundle) under a
real pcscd that finds each emulated reader by hotplug from our Info.plist.

For every emulator profile: the auth certificate read through PC/SC is
byte-equal to the card directory's auth.der; where the reader carries
extended APDUs (TPDU T=1 chaining, extended-APDU level) one READ BINARY with
an extended Le returns the whole certificate, and on the short-APDU reader it
fails cleanly without breaking the next command; a wrong PIN gives 63C2; VERIFY
+ COMPUTE DIGITAL SIGNATURE gives a signature that verifies with the
certificate.  pinpad: the PIN typed on the emulated keypad through
FEATURE_VERIFY_PIN_DIRECT, and a keypad cancel gives 6401.  multi-slot: both
slots carry their own card, and removing/inserting the slot-1 card is seen
on that slot only.  Every profile: a removal reaches the client within 1 s
through the reader's interrupt endpoint.  Every profile: pcscd's log shows our driver
(not libccid) opened the reader.
"""
import os
import shutil
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # the source tree may be read-only (distcheck)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2elib  # noqa: E402
from e2elib import TestEnv, EnvError  # noqa: E402

EXTENDED_OK = {"tpdu-t1", "extended-apdu", "multi-slot", "pinpad"}


def bundle_path():
    return os.path.join(e2elib.onshi_testenv.top_builddir(), "driver", "ifd-onshi.bundle")


def require_bundle():
    so = os.path.join(bundle_path(), "Contents", "Linux", "libifd-onshi.so")
    plist = os.path.join(bundle_path(), "Contents", "Info.plist")
    if not (os.path.exists(so) and os.path.exists(plist)):
        print("SKIP: the build-tree driver bundle is not built (%s)" % bundle_path())
        sys.exit(e2elib.SKIP)


def read_log(env):
    with open(env.pcscd_log, "rb") as f:
        return f.read().decode("utf-8", "replace")


def slot_events(rep, env, label, reader, slot, carddir, work):
    """Card removal and insertion on one slot reach the PC/SC client through
    the interrupt endpoint (NotifySlotChange decoded per slot) quickly."""
    proc = subprocess.Popen([e2elib.probe_path(), "--reader", str(reader), "--timeout", "15000",
                             "wait-removal"], env=env.env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(0.5)
        before = env.stats().get("intr_in", 0)
        t0 = time.monotonic()
        reply = env.control("remove %d" % slot)
        rep.check("%s: emulator removes the card" % label, reply.startswith("ok"), reply)
        out, err = proc.communicate(timeout=30)
        took = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    rep.check("%s: removal seen by the client within 1 s (%.2f s)" % (label, took),
              proc.returncode == 0 and "card removed" in out and took < 1.0, out + err)
    rep.check("%s: the reader's NotifySlotChange was read from the interrupt endpoint" % label,
              env.stats().get("intr_in", 0) > before)
    reply = env.control("insert %d" % slot)
    rep.check("%s: emulator inserts the card" % label, reply.startswith("ok"), reply)
    r = env.probe("--reader", reader, "--timeout", 15000, "wait-card", timeout=30)
    rep.run_result("%s: insertion seen by the client" % label, r, want_out="card present")
    want = e2elib.read_bytes(os.path.join(carddir, "auth.der"))
    cert = os.path.join(work, "after-insert-%d.der" % reader)
    r = env.probe("--reader", reader, "read-cert", "auth", "--out", cert)
    rep.check("%s: certificate readable after re-insertion" % label,
              r.returncode == 0 and e2elib.read_bytes(cert) == want, r.stdout + r.stderr)


# TPDU readers: our driver runs T=1 itself and picks the block sizes.
TPDU_PROFILES = ("tpdu-t1", "multi-slot", "pinpad")


def t1_block_sizes(rep, env, profile):
    """A 256-byte READ BINARY takes two T=1 blocks from the card: IFSD is
    negotiated as large as the reader's dwMaxCCIDMessageLength allows (the
    SCM readers announce IFSD 252 but 263-byte messages, which hold 249).
    Counted in USB transfers, not timed: connect (SetParameters, S(IFS)) plus
    SELECT, SELECT and the two-block READ stay within 8 bulk-OUT transfers;
    32-byte blocks would need 19."""
    env.control("reset-stats")
    r = env.probe("transmit", "00A4040C0AD392F000260100000001", "00A4020C02000A", "00B0000000")
    stats = dict(kv.split("=", 1) for kv in env.control("stats").split()[1:])
    out = int(stats.get("bulk_out", "999"))
    rep.check("%s: 256-byte READ BINARY in blocks that fit the reader's messages "
              "(%d bulk-OUT transfers, at most 8)" % (profile, out),
              r.returncode == 0 and out <= 8, r.stdout + r.stderr)
    log = read_log(env)
    rep.check("%s: no frame refused for exceeding dwMaxCCIDMessageLength" % profile,
              "exceeds dwMaxCCIDMessageLength" not in log, "")


def main():
    e2elib.require_built(e2elib.emu_path(), e2elib.probe_path())
    e2elib.require_file(e2elib.mkcard_path())
    require_bundle()
    rep = e2elib.Report("test-onshi-driver")
    work = e2elib.workdir("drv")
    try:
        card = e2elib.make_card(work, "card")
        card2 = e2elib.make_card(work, "card2", "--auth-pin", "4321")
        pin = e2elib.card_conf(card).get("auth_pin", "1234")
        pin2 = e2elib.card_conf(card2).get("auth_pin", "4321")
        only = os.environ.get("E2E_PROFILES")
        for profile in (only.split(",") if only else e2elib.PROFILES):
            multi = profile == "multi-slot"
            try:
                with TestEnv(profile=profile, card="vcard:" + card, driver=bundle_path(),
                             card2=("vcard:" + card2) if multi else None) as env:
                    n = 2 if multi else 1
                    listing = env.wait_readers(n)
                    rep.check("%s: %d reader(s) through pcscd hotplug" % (profile, n),
                              ("readers=%d" % n) in listing, listing)
                    log = read_log(env)
                    rep.check("%s: pcscd loaded onshi's driver (ifd-onshi in its log)" % profile,
                              "ifd-onshi: reader" in log and "libccid" not in log,
                              e2elib.tail(env.pcscd_log))
                    if profile == "short-apdu":   # ACR122U in readers.list
                        rep.check("short-apdu: Info.plist quirks applied (slow-open, "
                                  "min-firmware 2.06 met by bcdDevice 2.14)",
                                  "quirks slow-open, min firmware 2.06" in log, "")
                    if profile in TPDU_PROFILES:
                        t1_block_sizes(rep, env, profile)
                    sub = os.path.join(work, profile)
                    os.mkdir(sub)
                    e2elib.jpki_read_and_sign(rep, env, profile + (" slot 0" if multi else ""), 0, card,
                                  sub, pin, profile in EXTENDED_OK)
                    if multi:
                        e2elib.jpki_read_and_sign(rep, env, "multi-slot slot 1 (contactless)", 1, card2,
                                      sub, pin2, True)
                        r = env.probe("--reader", 1, "atr")
                        rep.run_result("multi-slot: contactless slot passes the reader's "
                                       "PC/SC Part 3 ATR", r, want_out="ATR=3B8880")
                        slot_events(rep, env, "multi-slot slot 1 events", 1, 1, card2, sub)
                        r = env.probe("--reader", 0, "read-cert", "auth", "--out",
                                      os.path.join(sub, "slot0-after.der"))
                        rep.run_result("multi-slot: slot 0 unaffected by slot 1's events", r,
                                       want_out="bytes=")
                    else:
                        slot_events(rep, env, "%s events" % profile, 0, 0, card, sub)
                    if profile == "pinpad":
                        e2elib.jpki_pinpad_cases(rep, env, card, sub, pin)
                    if rep.failed:
                        env.failed = True
            except EnvError as e:
                rep.check("%s: environment" % profile, False, str(e))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return rep.finish()


if __name__ == "__main__":
    sys.exit(main())
