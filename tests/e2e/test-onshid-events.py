#!/usr/bin/python3
"""onshid under events and load, through real D-Bus clients: the card
removed while the agent is asked (CardRemoved, agent Cancel, next operation
works), the caller leaving the bus during RequestPin (agent Cancel, reader
free, no try used), Reader.Cancel, the agent timeout, the agent dying, 50 concurrent
clients, chain-valid with --trust-dir and with a card whose auth cert comes
from a foreign CA, and the PIN-pad reader: PIN typed on the emulated keypad
with DisplayPinPadPrompt, never reaching the host (pcscd's APDU log is
checked)."""
import hashlib
import os
import shutil
import signal
import sys
import threading
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
CONCURRENT = 50


def V(sig, *args):
    return GLib.Variant(sig, tuple(args))


def auth_args(timeout_ms=None):
    opts = {"timeout-ms": {"u": timeout_ms}} if timeout_ms else {}
    return ["pin", {"bytes": "aGVsbG8="}, {k: ["u", v["u"]] for k, v in opts.items()}]


def wait_card(c, timeout=20):
    return c.wait_for(lambda: R in c.readers() and c.prop(R, "CardType") == "mynumber", timeout)


def cancel_event(agent, reason, timeout=15):
    ev = agent.wait_event("Cancel", timeout)
    return ev is not None and ev["args"] == [reason], ev


def card_events(rep, env, card, work):
    anchors = os.path.join(work, "anchors")
    os.mkdir(anchors)
    shutil.copy(os.path.join(card, "auth-ca.pem"), anchors)
    d = oc.Daemon(env, "--trust-dir", anchors)
    c = oc.Client(env.dbus_address)
    hold = None
    try:
        rep.check("reader ready", wait_card(c))
        # No polling: idle, the daemon sleeps in sd-event and its threads in
        # pcscd calls (SCardGetStatusChange, a condition variable).
        cpu0 = e2elib.onshi_testenv.cpu_seconds(d.proc.pid)
        time.sleep(3)
        idle = e2elib.onshi_testenv.cpu_seconds(d.proc.pid) - cpu0
        print("measured: onshid CPU over 3 s idle: %.3f s" % idle)
        rep.check("idle daemon uses < 0.05 s CPU in 3 s", idle < 0.05, "%.3f s" % idle)
        der, info = c.call(R, oc.READER_IFACE, "ReadCertificate", V("(s)", "auth"))
        rep.check("--trust-dir with the card's auth CA: chain-valid true", info["chain-valid"] is True, str(info))
        der, info = c.call(R, oc.READER_IFACE, "ReadCertificate", V("(s)", "sign-ca"))
        rep.check("--trust-dir without the sign CA: sign-ca chain-valid false",
                  info["chain-valid"] is False, str(info))

        hold = oc.AgentProc(env, "--hold")
        # 1. card removed while the agent is asked
        p = oc.call_as(env, R, oc.READER_IFACE, "Authenticate", auth_args(), "saya{sv}", popen=True)
        ev = hold.wait_event("RequestPin", 20)
        rep.check("removal case: agent asked", ev is not None, str(ev))
        rep.check("control: remove", env.control("remove").startswith("ok"))
        res = oc.parse_call_output(*p.communicate(timeout=30))
        rep.check("card removed mid-operation: CardRemoved", res[0] == oc.ERR + "CardRemoved", str(res))
        ok, ev = cancel_event(hold, "card-removed")
        rep.check("card removed: agent got Cancel('card-removed')", ok, str(ev))
        rep.check("control: insert", env.control("insert").startswith("ok"))
        rep.check("card back", wait_card(c))
        st = c.call(R, oc.READER_IFACE, "GetPinStatus")[0]
        rep.check("after removal: next operation works, no try used", st.get("auth") == 3, str(st))

        # 2. the caller leaves the bus during RequestPin
        p = oc.call_as(env, R, oc.READER_IFACE, "Authenticate", auth_args(), "saya{sv}", popen=True)
        ev = hold.wait_event("RequestPin", 20)
        rep.check("disconnect case: agent asked", ev is not None, str(ev))
        p.send_signal(signal.SIGKILL)
        p.communicate(timeout=10)
        ok, ev = cancel_event(hold, "cancelled")
        rep.check("caller gone: agent got Cancel('cancelled')", ok, str(ev))
        der, info = c.call(R, oc.READER_IFACE, "ReadCertificate", V("(s)", "auth"), timeout_ms=10000)
        rep.check("caller gone: reader free (ReadCertificate answers)",
                  bytes(der) == e2elib.read_bytes(os.path.join(card, "auth.der")))
        st = c.call(R, oc.READER_IFACE, "GetPinStatus")[0]
        rep.check("caller gone: no try used", st.get("auth") == 3, str(st))

        # 3. Reader.Cancel from the caller's own connection
        result = {}

        def done(conn, res, _):
            try:
                conn.call_finish(res)
                result["r"] = "ok"
            except GLib.Error as e:
                result["r"] = oc.error_name(e)
        c.conn.call(oc.BUS_NAME, R, oc.READER_IFACE, "Authenticate",
                    V("(saya{sv})", "pin", b"x", {}), None, Gio.DBusCallFlags.NONE, 60000, None, done, None)
        ev = hold.wait_event("RequestPin", 20)
        rep.check("Cancel case: agent asked", ev is not None, str(ev))
        c.call(R, oc.READER_IFACE, "Cancel")
        c.wait_for(lambda: "r" in result, 15)
        rep.check("Reader.Cancel: the call fails with Cancelled", result.get("r") == oc.ERR + "Cancelled",
                  str(result))
        ok, ev = cancel_event(hold, "cancelled")
        rep.check("Reader.Cancel: agent got Cancel('cancelled')", ok, str(ev))

        # 4. agent timeout (timeout-ms)
        try:
            c.call(R, oc.READER_IFACE, "Authenticate",
                   V("(saya{sv})", "pin", b"x", {"timeout-ms": GLib.Variant("u", 1500)}))
            got = "ok"
        except oc.DBusFailure as e:
            got = e.name
        rep.check("agent silent past timeout-ms: Timeout", got == oc.ERR + "Timeout", got)
        rep.check("timeout case: agent was asked", hold.wait_event("RequestPin", 5) is not None)
        ok, ev = cancel_event(hold, "timeout")
        rep.check("timeout: agent got Cancel('timeout')", ok, str(ev))

        # 5. the agent dies while asked
        p = oc.call_as(env, R, oc.READER_IFACE, "Authenticate", auth_args(), "saya{sv}", popen=True)
        ev = hold.wait_event("RequestPin", 20)
        rep.check("agent-dies case: agent asked", ev is not None, str(ev))
        hold.proc.kill()
        hold.stop()
        hold = None
        res = oc.parse_call_output(*p.communicate(timeout=30))
        rep.check("agent left the bus mid-request: AgentFailed", res[0] == oc.ERR + "AgentFailed", str(res))
        st = c.call(R, oc.READER_IFACE, "GetPinStatus")[0]
        rep.check("agent gone: reader free, no try used", st.get("auth") == 3, str(st))

        # 6. many clients at once
        want = e2elib.read_bytes(os.path.join(card, "auth.der"))
        answers = [None] * CONCURRENT

        def client(i):
            try:
                cc = oc.Client(env.dbus_address)
                if i % 2:
                    answers[i] = cc.call(R, oc.READER_IFACE, "GetPinStatus")[0] == \
                        {"auth": 3, "sign": 5, "card-info": 3}
                else:
                    answers[i] = bytes(cc.call(R, oc.READER_IFACE, "ReadCertificate",
                                               V("(s)", "auth"))[0]) == want
                cc.close()
            except Exception as e:  # noqa: BLE001 — reported as a failed answer
                answers[i] = repr(e)
        threads = [threading.Thread(target=client, args=(i,)) for i in range(CONCURRENT)]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        print("measured: %d concurrent clients answered in %.2f s" % (CONCURRENT, time.monotonic() - t0))
        good = sum(1 for a in answers if a is True)
        rep.check("%d concurrent clients all get correct answers" % CONCURRENT, good == CONCURRENT,
                  "%d good; others: %s" % (good, [a for a in answers if a is not True][:3]))
    finally:
        if hold:
            hold.stop()
        status = d.stop()
        c.close()
    rep.check("onshid exits 0", status == 0, "status %s" % status)
    rep.check("daemon log holds no PIN", not e2elib.secret_in_text(d.log_text(), PIN))


def foreign_ca(rep, env):
    d = oc.Daemon(env)
    c = oc.Client(env.dbus_address)
    try:
        rep.check("foreign-ca card ready", wait_card(c))
        der, info = c.call(R, oc.READER_IFACE, "ReadCertificate", V("(s)", "auth"))
        rep.check("auth cert from a foreign CA: chain-valid false", info["chain-valid"] is False, str(info))
    finally:
        d.stop()
        c.close()


def pinpad(rep, env, card, work):
    d = oc.Daemon(env)
    c = oc.Client(env.dbus_address)
    agent = None
    try:
        rep.check("pinpad reader ready", wait_card(c))
        rep.check("PinPad property true", c.prop(R, "PinPad") is True)
        # The agent would refuse a RequestPin: the PIN must come from the keypad.
        agent = oc.AgentProc(env, "--fail", oc.ERR + "Cancelled", "--caps", "pin,pinpad-prompt")
        rep.check("control: keypad PIN", env.control("keypad " + PIN).startswith("ok"))
        challenge = b"pinpad challenge"
        res = c.call(R, oc.READER_IFACE, "Authenticate", V("(saya{sv})", "pin", challenge, {}))[0]
        ev = agent.wait_event("DisplayPinPadPrompt", 10)
        rep.check("DisplayPinPadPrompt(reader, auth, 3) called", ev is not None and ev["args"] == [R, "auth", 3],
                  str(ev))
        ok, ev = cancel_event(agent, "done")
        rep.check("PIN-pad entry over: agent got Cancel('done')", ok, str(ev))
        rep.check("no RequestPin on a PIN-pad reader",
                  not any(e["call"] == "RequestPin" for e in agent.events), str(agent.events))
        paths = [os.path.join(work, n) for n in ("pp-cert.der", "pp-data.bin", "pp-sig.bin")]
        for pth, b in zip(paths, (res["certificate"], challenge, res["signature"])):
            with open(pth, "wb") as f:
                f.write(bytes(b))
        ok, out = e2elib.verify_signature(paths[0], paths[1], paths[2], work)
        rep.check("PIN-pad Authenticate signature verifies", ok, out)
        rep.check("control: keypad wrong PIN", env.control("keypad 0000").startswith("ok"))
        try:
            c.call(R, oc.READER_IFACE, "Authenticate", V("(saya{sv})", "pin", challenge, {}))
            got = ("ok", "")
        except oc.DBusFailure as e:
            got = (e.name, e.message)
        rep.check("wrong PIN on the keypad: PinIncorrect, 2 tries left",
                  got[0] == oc.ERR + "PinIncorrect" and "2 tries left" in got[1], str(got))
        rep.check("control: keypad cancel", env.control("keypad cancel").startswith("ok"))
        try:
            c.call(R, oc.READER_IFACE, "Authenticate", V("(saya{sv})", "pin", challenge, {}))
            got = "ok"
        except oc.DBusFailure as e:
            got = e.name
        rep.check("cancel on the keypad: Cancelled", got == oc.ERR + "Cancelled", got)
        rep.check("control: keypad PIN again", env.control("keypad " + PIN).startswith("ok"))
        c.call(R, oc.READER_IFACE, "Authenticate", V("(saya{sv})", "pin", challenge, {}))
        st = c.call(R, oc.READER_IFACE, "GetPinStatus")[0]
        rep.check("right PIN resets the counter to 3", st.get("auth") == 3, str(st))
    finally:
        if agent:
            agent.stop()
        d.stop()
        c.close()
    rep.check("daemon log holds no PIN", not e2elib.secret_in_text(d.log_text(), PIN))
    with open(env.pcscd_log, "rb") as f:
        lines = f.read().decode("latin-1").upper().splitlines()
    hexpin = PIN.encode().hex().upper()
    leaked = [ln for ln in lines if ("0020008004" + hexpin) in ln.replace(" ", "")]
    apdus = [ln for ln in lines if "APDU:" in ln]
    rep.check("pcscd logs APDUs in this run (so the next check can fail)", len(apdus) > 0)
    rep.check("PIN-pad: the PIN never reached pcscd (no VERIFY with it in pcscd's APDU log)",
              not leaked, str(leaked[:2]))


def main():
    e2elib.require_built(e2elib.emu_path(), e2elib.probe_path(), oc.onshid_path())
    e2elib.require_file(e2elib.mkcard_path())
    if oc.ensure_groups("onshi", "onshi-personal") is None:
        print("SKIP: groups onshi/onshi-personal missing and not root")
        return e2elib.SKIP
    rep = e2elib.Report("test-onshid-events")
    work = e2elib.workdir()
    try:
        card = e2elib.make_card(work, "card", "--auth-pin", PIN)
        policy = oc.write_policy(work)
        with TestEnv(profile="tpdu-t1", card="vcard:" + card, dbus_policy_files=[policy]) as env:
            rep.attach(env)  # a failed check keeps and shows the logs
            env.wait_readers(1)
            card_events(rep, env, card, work)
        foreign = e2elib.make_card(work, "foreign", "--foreign-ca")
        with TestEnv(profile="tpdu-t1", card="vcard:" + foreign, dbus_policy_files=[policy]) as env:
            rep.attach(env)  # a failed check keeps and shows the logs
            env.wait_readers(1)
            foreign_ca(rep, env)
        with TestEnv(profile="pinpad", card="vcard:" + card, dbus_policy_files=[policy]) as env:
            rep.attach(env)  # a failed check keeps and shows the logs
            env.wait_readers(1)
            pinpad(rep, env, card, work)
    except (EnvError, RuntimeError, oc.DBusFailure) as e:
        rep.check("environment", False, str(e))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return rep.finish()


if __name__ == "__main__":
    sys.exit(main())
