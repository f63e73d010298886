#!/usr/bin/python3
"""onshid against a malicious card: a transcript-replay card (doc/transcripts.md)
feeds through pcscd answers no real My Number card gives, and onshid must
answer each call with a clear error and keep working:

- token info (EF 0006) of non-printable bytes: CardType "other";
- a certificate whose length header claims 65524 bytes: UnsupportedCard
  (the card's fault, not the caller's: never InvalidArgs);
- a READ BINARY answering more bytes than asked: UnsupportedCard;
- a 128-byte signature from a 2048-bit key: UnsupportedCard;
- a card answering 61 00 to every GET RESPONSE: UnsupportedCard after a
  bounded number of rounds;
- then GetPinStatus works and the replay saw exactly the commands written
  here (no extra VERIFY, nothing skipped)."""
import hashlib
import os
import shutil
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2elib  # noqa: E402
from e2elib import TestEnv, EnvError  # noqa: E402

try:
    import onshid_client as oc  # noqa: E402
    from gi.repository import GLib  # noqa: E402
except ImportError:
    print("SKIP: python3-gi is not installed")
    sys.exit(e2elib.SKIP)

PIN = "7391"
R = "/org/onshi/Onshi1/reader/0"
ATR = "3B DA 13 FF 81 31 FB 46 80 12 39 2F 31 C1 73 C6 01 C0 3B"
SELECT_JPKI = "00 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01"
SELECT_TEXT = "00 A4 04 0C 0A D3 92 10 00 31 00 01 01 04 08"
DIGEST = hashlib.sha256(b"onshi card faults").digest()
SHA256_DIGESTINFO = bytes.fromhex("3031300d060960864801650304020105000420")
# Rounds of GET RESPONSE onshid allows one command (jpki-ops.c).
GET_RESPONSE_ROUNDS_MAX = 300


def hx(b):
    return " ".join("%02X" % x for x in b)


def select_ef(fid):
    return "00 A4 02 0C 02 %02X %02X" % (fid >> 8, fid & 0xFF)


def ok(cmd):
    return ["> " + cmd, "< 90 00"]


def sign_prefix():
    """Sign(auth): the retry-counter query of the prepare step, the query
    and VERIFY of jpki_verify (the AP stays selected), the key EF."""
    return (ok(SELECT_JPKI) + ok(select_ef(0x0018)) + ["> 00 20 00 80", "< 63 C3"] +
            ok(select_ef(0x0018)) + ["> 00 20 00 80", "< 63 C3"] +
            ["> 00 20 00 80 04 **REDACTED**", "< 90 00"] + ok(select_ef(0x0017)))


def compute_signature():
    di = SHA256_DIGESTINFO + DIGEST
    return "> 80 2A 00 80 %02X %s 00" % (len(di), hx(di))


def transcript():
    t = ["# onshid card-fault cases (test-onshid-card-faults.py)", "! power-on " + ATR]
    # card type probe: a token label of control characters
    t += ok(SELECT_JPKI) + ok(select_ef(0x0006))
    t += ["> 00 B0 00 00 20", "< " + hx(bytes(range(1, 33))) + " 90 00"]
    # ReadCertificate(auth): the header claims 30 82 FF F0
    t += ok(SELECT_JPKI) + ok(select_ef(0x000A))
    t += ["> 00 B0 00 00 04", "< 30 82 FF F0 90 00"]
    # ReadCertificate(auth-ca): asked 4 bytes, answers 6
    t += ok(SELECT_JPKI) + ok(select_ef(0x000B))
    t += ["> 00 B0 00 00 04", "< 30 82 03 00 AA BB 90 00"]
    # Sign(auth): a 128-byte signature
    t += sign_prefix() + [compute_signature(), "< " + hx(b"\x5a" * 128) + " 90 00"]
    # Sign(auth): 61 00 for ever
    t += sign_prefix() + [compute_signature(), "< 61 00"]
    t += ["> 00 C0 00 00 00", "< 61 00"] * GET_RESPONSE_ROUNDS_MAX
    # GetPinStatus (root: the card-information PIN too)
    t += ok(SELECT_JPKI) + ok(select_ef(0x0018)) + ["> 00 20 00 80", "< 63 C3"]
    t += ok(select_ef(0x001B)) + ["> 00 20 00 80", "< 63 C5"]
    t += ok(SELECT_TEXT) + ok(select_ef(0x0011)) + ["> 00 20 00 80", "< 63 C2"]
    return "\n".join(t) + "\n"


def V(sig, *args):
    return GLib.Variant(sig, tuple(args))


def expect_error(rep, what, fn, name):
    try:
        fn()
    except oc.DBusFailure as e:
        return rep.check(what, e.name == name, "got %s: %s" % (e.name, e.message))
    return rep.check(what, False, "no error (want %s)" % name)


def replay_report(env):
    with open(env.emu_log, "rb") as f:
        text = f.read().decode("utf-8", "replace")
    return [line for line in text.splitlines() if line.startswith("replay")]


def run(rep, env):
    c = oc.Client(env.dbus_address)
    d = oc.Daemon(env, "--trace-apdu")
    agent = None
    try:
        rep.check("garbage token info: CardType other",
                  c.wait_for(lambda: R in c.readers() and c.prop(R, "CardType") == "other", 30),
                  "CardType %r" % (c.prop(R, "CardType") if R in c.readers() else None))
        uc = oc.ERR + "UnsupportedCard"
        expect_error(rep, "certificate header claiming 65524 bytes: UnsupportedCard",
                     lambda: c.call(R, oc.READER_IFACE, "ReadCertificate", V("(s)", "auth")), uc)
        expect_error(rep, "READ BINARY answering more than asked: UnsupportedCard",
                     lambda: c.call(R, oc.READER_IFACE, "ReadCertificate", V("(s)", "auth-ca")), uc)
        agent = oc.AgentProc(env, "--pin", PIN)
        sign = V("(ssay)", "auth", "sha256", DIGEST)
        expect_error(rep, "128-byte signature: UnsupportedCard",
                     lambda: c.call(R, oc.READER_IFACE, "Sign", sign), uc)
        expect_error(rep, "61 00 for ever: UnsupportedCard (bounded GET RESPONSE)",
                     lambda: c.call(R, oc.READER_IFACE, "Sign", sign), uc)
        st = c.call(R, oc.READER_IFACE, "GetPinStatus")[0]
        rep.check("after the faults the daemon works: GetPinStatus",
                  st == {"auth": 3, "sign": 5, "card-info": 2}, str(st))
        report = replay_report(env)
        rep.check("the replay card saw exactly the transcript's commands", not report, "\n".join(report))
    finally:
        if agent:
            agent.stop()
        status = d.stop()
        c.close()
    rep.check("onshid exits 0", status == 0, "status %s" % status)
    rep.check("daemon log holds no PIN", not e2elib.secret_in_text(d.log_text(), PIN))


def main():
    e2elib.require_built(e2elib.emu_path(), oc.onshid_path())
    rep = e2elib.Report("test-onshid-card-faults")
    if oc.ensure_groups("onshi", "onshi-personal") is None:
        print("SKIP: groups onshi/onshi-personal missing and not root")
        return e2elib.SKIP
    work = e2elib.workdir()
    try:
        path = os.path.join(work, "faults.apdu")
        with open(path, "w") as f:
            f.write(transcript())
        policy = oc.write_policy(work)
        with TestEnv(profile="tpdu-t1", card="replay:%s,power=loose" % path,
                     dbus_policy_files=[policy]) as env:
            rep.attach(env)
            env.wait_readers(1)
            run(rep, env)
    except (EnvError, RuntimeError, oc.DBusFailure) as e:
        rep.check("environment", False, str(e))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return rep.finish()


if __name__ == "__main__":
    sys.exit(main())
