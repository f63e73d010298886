#!/usr/bin/python3
"""What a core dump of onshid would show, read from the live process: after
Authenticate with the PIN, ReadCertificate("sign") and Sign("sign") with the
signature password (both from an agent), the daemon's writable memory
(heap, stacks, anonymous maps; /proc/PID/mem) holds neither secret in any
form it passed through (the agent's D-Bus string, the C string, the VERIFY
APDU, upper- and lower-case password) nor the sign certificate's personal
data (the name, the address, the serial-number CN).  Freed memory counts:
a core dump shows it too."""
import hashlib
import os
import re
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
SIGN_PW = "ZQ7XK2PW"
SIGN_CN = "JPKITESTSIGN00000001"                 # mkcard.sh defaults
NAME = "試験　花子"
ADDRESS = "テスト県見本市試験町一丁目２番３号"
R = "/org/onshi/Onshi1/reader/0"
# Maps larger than this are sanitizer shadow or reserved address space, not
# data a core dump would hold.
MAP_MAX = 1 << 30


def V(sig, *args):
    return GLib.Variant(sig, tuple(args))


def writable_maps(pid):
    with open("/proc/%d/maps" % pid) as f:
        for line in f:
            parts = line.split()
            lo, hi = (int(x, 16) for x in parts[0].split("-"))
            path = parts[5] if len(parts) > 5 else ""
            if "rw" not in parts[1] or hi - lo > MAP_MAX or path.startswith("/dev/") or \
                    path in ("[vvar]", "[vsyscall]"):
                continue
            yield lo, hi, path


def memory_hits(pid, needles):
    """{needle name: [address, ...]} over the process's writable maps."""
    hits = {}
    with open("/proc/%d/mem" % pid, "rb", buffering=0) as mem:
        for lo, hi, path in writable_maps(pid):
            try:
                mem.seek(lo)
                data = mem.read(hi - lo)
            except OSError:
                continue
            for name, pat in needles.items():
                for m in re.finditer(re.escape(pat), data):
                    hits.setdefault(name, []).append("%#x (%s)" % (lo + m.start(), path or "anon"))
    return hits


def needles():
    pin = PIN.encode()
    return {
        "PIN as a C string": pin + b"\0",
        "PIN as a D-Bus string": b"\x04\0\0\0" + pin + b"\0",
        "PIN in a VERIFY APDU": b"\x00\x20\x00\x80\x04" + pin,
        "sign password": SIGN_PW.encode(),
        "sign password, lower case": SIGN_PW.lower().encode(),
        "sign cert CN": SIGN_CN.encode(),
        "sign cert name": NAME.encode(),
        "sign cert address": ADDRESS.encode(),
    }


def run(rep, env, card):
    d = oc.Daemon(env, "--personal-group", "onshi-personal")
    c = oc.Client(env.dbus_address)
    agent = None
    try:
        rep.check("reader and card type ready",
                  c.wait_for(lambda: c.readers() == [R] and c.prop(R, "CardType") == "mynumber", 30))
        agent = oc.AgentProc(env, "--pin", PIN)
        res = c.call(R, oc.READER_IFACE, "Authenticate", V("(saya{sv})", "pin", b"memory", {}))[0]
        rep.check("Authenticate with the agent's PIN", len(res.get("signature", b"")) == 256,
                  str(sorted(res)))
        agent.stop()

        agent = oc.AgentProc(env, "--pin", SIGN_PW.lower())
        der, _info = c.call(R, oc.READER_IFACE, "ReadCertificate", V("(s)", "sign"))
        rep.check("ReadCertificate(sign) with the agent's password",
                  bytes(der) == e2elib.read_bytes(os.path.join(card, "sign.der")))
        sig = c.call(R, oc.READER_IFACE, "Sign",
                     V("(ssay)", "sign", "sha256", hashlib.sha256(b"memory").digest()))[0]
        rep.check("Sign(sign) with the agent's password", len(sig) == 256, str(len(sig)))
        st = c.call(R, oc.READER_IFACE, "GetPinStatus")[0]
        rep.check("no try used", st.get("auth") == 3 and st.get("sign") == 5, str(st))
        # The scan finds what it looks for: the agent process still holds
        # the password it answered with.
        rep.check("the scan finds the password in the agent's memory",
                  "sign password, lower case" in memory_hits(agent.proc.pid, needles()))
        agent.stop()
        agent = None

        hits = memory_hits(d.proc.pid, needles())
        for name in needles():
            rep.check("onshid's memory holds no %s" % name, name not in hits,
                      ", ".join(hits.get(name, [])[:4]))
    finally:
        if agent:
            agent.stop()
        status = d.stop()
        c.close()
    rep.check("onshid exits 0", status == 0, "status %s" % status)


def main():
    e2elib.require_built(e2elib.emu_path(), oc.onshid_path())
    e2elib.require_file(e2elib.mkcard_path())
    rep = e2elib.Report("test-onshid-memory")
    if oc.ensure_groups("onshi", "onshi-personal") is None:
        print("SKIP: groups onshi/onshi-personal missing and not root")
        return e2elib.SKIP
    if not os.access("/proc/self/mem", os.R_OK):
        print("SKIP: /proc/PID/mem is not readable here")
        return e2elib.SKIP
    work = e2elib.workdir()
    try:
        card = e2elib.make_card(work, "card", "--auth-pin", PIN, "--sign-pw", SIGN_PW)
        policy = oc.write_policy(work)
        with TestEnv(profile="tpdu-t1", card="vcard:" + card, dbus_policy_files=[policy]) as env:
            rep.attach(env)
            env.wait_readers(1)
            run(rep, env, card)
    except (EnvError, RuntimeError, oc.DBusFailure) as e:
        rep.check("environment", False, str(e))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return rep.finish()


if __name__ == "__main__":
    sys.exit(main())
