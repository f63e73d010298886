#!/usr/bin/python3
"""onshid's per-reader queue through real D-Bus clients:

- while one Authenticate waits for a silent agent, a caller whose call is
  still queued (not running) leaves the bus: its call is dropped and never
  runs (the agent is not asked a second time);
- the queue holds exactly 64 calls behind the running one: the 65th gets
  Error.Busy at once, the 64 all complete with the right bytes;
- Reader.Cancel from one client ends its own call only, not the calls other
  clients have queued;
- options of the wrong variant type and an over-long challenge: InvalidArgs,
  before anything is queued;
- card state: after Authenticate onshid powers the card down, so another
  PC/SC client that connects next cannot use the unlocked key (a SELECT of
  the key EF and COMPUTE DIGITAL SIGNATURE without a VERIFY of its own must
  not answer 90 00);
- a card swap while one call waits for the agent and another is queued:
  both fail with Error.CardRemoved, so a call made for one patient's card
  never answers with the next patient's certificate; the next call reads
  the new card;
- SIGTERM while one call waits for the agent and another is queued: both
  callers get Error.Cancelled (not CardRemoved, not silence), the agent gets
  Cancel, and onshid exits 0."""
import hashlib
import os
import shutil
import signal
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2elib  # noqa: E402
from e2elib import TestEnv, EnvError  # noqa: E402

try:
    import onshid_client as oc  # noqa: E402
    from gi.repository import Gio, GLib  # noqa: E402
except ImportError:
    print("SKIP: python3-gi is not installed")
    sys.exit(e2elib.SKIP)

PIN = "7391"
R = "/org/onshi/Onshi1/reader/0"
QUEUE_MAX = 64  # ONSHID_READER_QUEUE_MAX, documented in org.onshi.Onshi1.xml


def V(sig, *args):
    return GLib.Variant(sig, tuple(args))


def call_async(c, method, args, results, key):
    def done(conn, res, _):
        try:
            results[key] = ("ok", conn.call_finish(res).unpack())
        except GLib.Error as e:
            results[key] = (oc.error_name(e), oc.error_message(e))
    c.conn.call(oc.BUS_NAME, R, oc.READER_IFACE, method, args, None,
                Gio.DBusCallFlags.NONE, 120000, None, done, None)


def expect_invalid(rep, c, what, args):
    try:
        c.call(R, oc.READER_IFACE, "Authenticate", args, timeout_ms=10000)
        rep.check(what, False, "no error")
    except oc.DBusFailure as e:
        rep.check(what, e.name == oc.INVALID_ARGS, "%s: %s" % (e.name, e.message))


def key_unusable_after_authenticate(rep, env, c):
    agent = oc.AgentProc(env, "--pin", PIN)
    try:
        res = c.call(R, oc.READER_IFACE, "Authenticate", V("(saya{sv})", "pin", b"unlock", {}))[0]
        rep.check("Authenticate with the right PIN", len(res.get("signature", b"")) == 256, str(sorted(res)))
    finally:
        agent.stop()
    di = "3031300d060960864801650304020105000420" + hashlib.sha256(b"steal").hexdigest()
    out = env.probe("transmit", "00A4020C020017", "802A0080%02X%s00" % (len(di) // 2, di))
    answers = [line.replace(" ", "").upper() for line in out.stdout.splitlines() if line.strip()]
    rep.check("after Authenticate a new PC/SC connection cannot sign without VERIFY "
              "(the card was powered down)",
              out.returncode == 0 and len(answers) == 2 and not answers[1].endswith("9000"),
              "exit %d, answers %s %s" % (out.returncode, [a[-8:] for a in answers], out.stderr[-300:]))


def hold_one_queue_one(rep, label, c, holder, hold, results):
    """holder's Authenticate waits for the silent agent ("held"); c's
    ReadCertificate waits in onshid's queue behind it ("queued")."""
    rep.check("%s: card ready" % label, c.wait_for(
        lambda: R in c.readers() and c.prop(R, "CardType") == "mynumber", 30))
    call_async(holder, "Authenticate", V("(saya{sv})", "pin", b"held", {}), results, "held")
    ev = hold.wait_event("RequestPin", 20)
    rep.check("%s: agent asked" % label, ev is not None, str(ev))
    call_async(c, "ReadCertificate", V("(s)", "auth"), results, "queued")
    c.wait_for(lambda: False, 1)  # sends the call; it waits in onshid's queue


def shutdown_with_queue(rep, env):
    d = oc.Daemon(env)
    c = oc.Client(env.dbus_address)
    holder = oc.Client(env.dbus_address)
    hold = oc.AgentProc(env, "--hold")
    results = {}
    try:
        hold_one_queue_one(rep, "shutdown case", c, holder, hold, results)
    finally:
        status = d.stop()
    c.wait_for(lambda: "queued" in results, 10)
    holder.wait_for(lambda: "held" in results, 10)
    rep.check("SIGTERM with one call running and one queued: onshid exits 0", status == 0,
              "status %s" % status)
    rep.check("the running call gets Cancelled", results.get("held", ("none",))[0] == oc.ERR + "Cancelled",
              str(results.get("held")))
    rep.check("the queued call gets Cancelled", results.get("queued", ("none",))[0] == oc.ERR + "Cancelled",
              str(results.get("queued")))
    ok = hold.wait_event("Cancel", 5)
    rep.check("the agent gets Cancel('cancelled')", ok is not None and ok["args"] == ["cancelled"], str(ok))
    hold.stop()
    c.close()
    holder.close()


def swap_with_queue(rep, env, card2):
    d = oc.Daemon(env)
    c = oc.Client(env.dbus_address)
    holder = oc.Client(env.dbus_address)
    hold = oc.AgentProc(env, "--hold")
    results = {}
    try:
        hold_one_queue_one(rep, "swap case", c, holder, hold, results)
        env.control("remove")
        env.control("insert 0 vcard:" + card2)
        c.wait_for(lambda: "queued" in results, 15)
        holder.wait_for(lambda: "held" in results, 15)
        rep.check("card swapped: the running call gets CardRemoved",
                  results.get("held", ("none",))[0] == oc.ERR + "CardRemoved", str(results.get("held")))
        rep.check("card swapped: the call queued for the first card gets CardRemoved, "
                  "not the second card's certificate",
                  results.get("queued", ("none",))[0] == oc.ERR + "CardRemoved",
                  str(results.get("queued"))[:200])
        ok = hold.wait_event("Cancel", 5)
        rep.check("card swapped: the agent gets Cancel('card-removed')",
                  ok is not None and ok["args"] == ["card-removed"], str(ok))
        c.wait_for(lambda: c.prop(R, "CardType") == "mynumber", 30)
        der = bytes(c.call(R, oc.READER_IFACE, "ReadCertificate", V("(s)", "auth"))[0])
        rep.check("card swapped: the next call reads the new card",
                  der == e2elib.read_bytes(os.path.join(card2, "auth.der")))
    finally:
        hold.stop()
        status = d.stop()
        c.close()
        holder.close()
    rep.check("swap case: onshid exits 0", status == 0, "status %s" % status)


def run(rep, env, card):
    d = oc.Daemon(env)
    c = oc.Client(env.dbus_address)
    holder = oc.Client(env.dbus_address)
    hold = None
    try:
        rep.check("reader ready", c.wait_for(
            lambda: R in c.readers() and c.prop(R, "CardType") == "mynumber", 30))

        # arguments refused before queueing
        expect_invalid(rep, c, "allow-last-try of type s: InvalidArgs",
                       V("(saya{sv})", "pin", b"x", {"allow-last-try": GLib.Variant("s", "yes")}))
        expect_invalid(rep, c, "timeout-ms of type i: InvalidArgs",
                       V("(saya{sv})", "pin", b"x", {"timeout-ms": GLib.Variant("i", -1)}))
        expect_invalid(rep, c, "timeout-ms above one hour: InvalidArgs (a caller cannot hold the reader for days)",
                       V("(saya{sv})", "pin", b"x", {"timeout-ms": GLib.Variant("u", 3600001)}))
        expect_invalid(rep, c, "timeout-ms 0: InvalidArgs",
                       V("(saya{sv})", "pin", b"x", {"timeout-ms": GLib.Variant("u", 0)}))
        expect_invalid(rep, c, "challenge of 65537 bytes: InvalidArgs",
                       V("(saya{sv})", "pin", b"\1" * 65537, {}))

        hold = oc.AgentProc(env, "--hold")
        results = {}
        call_async(holder, "Authenticate", V("(saya{sv})", "pin", b"held", {}), results, "held")
        ev = hold.wait_event("RequestPin", 20)
        rep.check("running call: agent asked", ev is not None, str(ev))

        # a queued caller leaves the bus
        p = oc.call_as(env, R, oc.READER_IFACE, "Authenticate",
                       ["pin", {"bytes": "cXVldWVk"}, {}], "saya{sv}", popen=True)
        time.sleep(1.5)  # its call reaches onshid and waits in the queue
        p.send_signal(signal.SIGKILL)
        p.communicate(timeout=10)
        time.sleep(0.5)  # the bus tells onshid the caller left

        # the queue bound
        for i in range(QUEUE_MAX + 1):
            call_async(c, "ReadCertificate", V("(s)", "auth"), results, i)
        c.wait_for(lambda: QUEUE_MAX in results, 10)
        rep.check("call %d behind the running one: Busy at once" % (QUEUE_MAX + 1),
                  results.get(QUEUE_MAX, ("none",))[0] == oc.ERR + "Busy", str(results.get(QUEUE_MAX)))
        rep.check("the first %d are still queued" % QUEUE_MAX,
                  not any(i in results for i in range(QUEUE_MAX)),
                  str([results[i] for i in range(QUEUE_MAX) if i in results][:3]))

        # Cancel from the holder ends its call only
        holder.call(R, oc.READER_IFACE, "Cancel")
        holder.wait_for(lambda: "held" in results, 15)
        rep.check("Reader.Cancel: the holder's call fails with Cancelled",
                  results.get("held", ("none",))[0] == oc.ERR + "Cancelled", str(results.get("held")))
        c.wait_for(lambda: all(i in results for i in range(QUEUE_MAX)), 60)
        want = e2elib.read_bytes(os.path.join(card, "auth.der"))
        good = sum(1 for i in range(QUEUE_MAX)
                   if results.get(i, ("none",))[0] == "ok" and bytes(results[i][1][0]) == want)
        rep.check("all %d queued calls of the other client complete with the certificate" % QUEUE_MAX,
                  good == QUEUE_MAX, "%d good; e.g. %s" % (good, [results.get(i) for i in range(3)]))
        rep.check("the vanished caller's queued Authenticate never ran (agent not asked again)",
                  hold.wait_event("RequestPin", 2) is None, str(hold.events))
        st = c.call(R, oc.READER_IFACE, "GetPinStatus")[0]
        rep.check("no try used", st.get("auth") == 3, str(st))
        hold.stop()
        hold = None
        key_unusable_after_authenticate(rep, env, c)
    finally:
        if hold:
            hold.stop()
        status = d.stop()
        c.close()
        holder.close()
    rep.check("onshid exits 0", status == 0, "status %s" % status)
    log = d.log_text()
    rep.check("the daemon logged the queued caller leaving",
              "left; cancelling its operation" in log, log[-1500:])


def main():
    e2elib.require_built(e2elib.emu_path(), oc.onshid_path())
    e2elib.require_file(e2elib.mkcard_path())
    rep = e2elib.Report("test-onshid-queue")
    if oc.ensure_groups("onshi", "onshi-personal") is None:
        print("SKIP: groups onshi/onshi-personal missing and not root")
        return e2elib.SKIP
    work = e2elib.workdir()
    try:
        card = e2elib.make_card(work, "card", "--auth-pin", PIN)
        card2 = e2elib.make_card(work, "card2", "--auth-pin", PIN)
        policy = oc.write_policy(work)
        with TestEnv(profile="tpdu-t1", card="vcard:" + card, dbus_policy_files=[policy]) as env:
            rep.attach(env)
            env.wait_readers(1)
            run(rep, env, card)
            swap_with_queue(rep, env, card2)
            shutdown_with_queue(rep, env)
    except (EnvError, RuntimeError, oc.DBusFailure) as e:
        rep.check("environment", False, str(e))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return rep.finish()


if __name__ == "__main__":
    sys.exit(main())
