#!/usr/bin/python3
"""bench-daemon — onshid (D-Bus, through pcscd) against OpenSC's
pkcs15-tool on the same emulated reader and virtual card.  See
doc/benchmarks.md for what each number means.

onshid side (a private system-type bus, a Gio client in this process):
  * card insertion (emulator `insert`) → Reader.CardPresent true
    (PropertiesChanged) → ReadCertificate("auth") answered;
  * APDUs (emulator counter) and wall time of one ReadCertificate("auth"),
    GetPinStatus and Authenticate("pin") (this process is the PIN agent);
  * onshid VmRSS/VmHWM idle and after 100 and 200 ReadCertificate calls
    (the median/p99 of the first 100 is reported too).
OpenSC side: `pkcs15-tool --read-certificate ID` (ID found with
`pkcs15-tool -c`): process wall time and APDUs, certificate byte-compared.

Environment: ONSHI_BENCH_QUICK=1 (fewer repetitions), ONSHI_BENCH_OUT, ONSHID
(onshid binary), ONSHI_BENCH_DAEMON_PROFILE (default tpdu-t1).
"""
import base64
import os
import shutil
import signal
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # the source tree may be read-only (distcheck)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402
from benchlib import NotAvailable, TestEnv, EnvError  # noqa: E402

BUS_NAME = "org.onshi.Onshi1"
MANAGER = "/org/onshi/Onshi1"
MANAGER_IFACE = "org.onshi.Onshi1.Manager"
READER_IFACE = "org.onshi.Onshi1.Reader"
AGENT_IFACE = "org.onshi.Onshi1.Agent"
AGENT_PATH = "/org/onshi/bench/agent"
QUICK = os.environ.get("ONSHI_BENCH_QUICK") == "1"
N_INSERT = 3 if QUICK else 10
N_CALLS = 100
N_OPENSC = 3 if QUICK else 5
# DigestInfo(SHA-256) of 32 zero bytes: what a relying party sends to sign.
CHALLENGE = bytes.fromhex("3031300d060960864801650304020105000420") + bytes(32)

AGENT_XML = """<node><interface name="%s">
 <method name="RequestPin"><arg name="reader" type="o" direction="in"/>
  <arg name="kind" type="s" direction="in"/><arg name="tries_left" type="u" direction="in"/>
  <arg name="pin" type="s" direction="out"/></method>
 <method name="Cancel"><arg name="reason" type="s" direction="in"/></method>
</interface></node>""" % AGENT_IFACE


def onshid_path():
    return os.environ.get("ONSHID") or benchlib.build_path("daemon/onshid")


def write_policy(directory):
    """Root (this benchmark) may own the name, call onshid and be called
    back as an agent; the harness's default policy denies the rest.  Its
    deny of method calls also stops replies unless requested replies are
    allowed explicitly.  The
    rules name each interface, as dbus/org.onshi.Onshi1.conf does."""
    path = os.path.join(directory, "bench-policy.conf")
    ifaces = (MANAGER_IFACE, READER_IFACE, "org.freedesktop.DBus.Properties",
              "org.freedesktop.DBus.Introspectable", "org.freedesktop.DBus.Peer")
    allow = "".join('    <allow send_destination="%s" send_interface="%s"/>\n' % (BUS_NAME, i)
                    for i in ifaces)
    with open(path, "w") as f:
        f.write('<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"\n'
                ' "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">\n<busconfig>\n'
                '  <policy context="default">\n'
                '    <allow send_requested_reply="true" send_type="method_return"/>\n'
                '    <allow send_requested_reply="true" send_type="error"/>\n  </policy>\n'
                '  <policy user="root">\n    <allow own="%s"/>\n%s'
                '    <allow send_type="method_call" send_interface="%s"/>\n'
                '  </policy>\n</busconfig>\n' % (BUS_NAME, allow, AGENT_IFACE))
    return path


class Bus:
    """A Gio connection driven from this thread: every call is asynchronous
    and the main context runs while it waits, so onshid's calls to our
    agent (RequestPin) and property signals are served meanwhile."""

    def __init__(self, Gio, GLib, address):
        self.Gio, self.GLib = Gio, GLib
        self.conn = Gio.DBusConnection.new_for_address_sync(
            address, Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT |
            Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)
        self.ctx = GLib.MainContext.default()
        self.changes = []   # (monotonic time, path, {property: value})

    def iterate(self, timeout):
        src = self.GLib.timeout_source_new(max(1, int(timeout * 1000)))
        src.set_callback(lambda *a: False)
        src.attach(self.ctx)
        self.ctx.iteration(True)
        src.destroy()

    def wait_for(self, predicate, timeout):
        deadline = time.monotonic() + timeout
        while not predicate():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.iterate(min(left, 0.2))
        return True

    def call(self, path, iface, method, args=None, timeout=20, dest=BUS_NAME):
        box = {}

        def done(conn, res):
            try:
                v = conn.call_finish(res)
                box["ok"] = v.unpack() if v is not None else ()
            except self.GLib.Error as e:
                box["error"] = self.Gio.DBusError.get_remote_error(e) or e.message
        self.conn.call(dest, path, iface, method, args, None, self.Gio.DBusCallFlags.NONE,
                       int(timeout * 1000), None, done)
        if not self.wait_for(lambda: box, timeout + 5):
            raise NotAvailable("%s: no answer in %d s" % (method, timeout))
        if "error" in box:
            raise NotAvailable("%s: %s" % (method, box["error"]))
        return box["ok"]

    def prop(self, path, name):
        V = self.GLib.Variant
        return self.call(path, "org.freedesktop.DBus.Properties", "Get",
                         V("(ss)", (READER_IFACE, name)))[0]

    def watch_properties(self):
        def on_signal(conn, sender, path, iface, member, params):
            iface_name, changed, _ = params.unpack()
            if iface_name == READER_IFACE:
                self.changes.append((time.monotonic(), path, changed))
        self.conn.signal_subscribe(None, "org.freedesktop.DBus.Properties",
                                   "PropertiesChanged", None, None,
                                   self.Gio.DBusSignalFlags.NONE, on_signal)

    def export_agent(self, pin):
        info = self.Gio.DBusNodeInfo.new_for_xml(AGENT_XML).interfaces[0]

        def on_call(conn, sender, path, iface, method, params, invocation):
            if method == "RequestPin":
                invocation.return_value(self.GLib.Variant("(s)", (pin,)))
            else:
                invocation.return_value(None)
        self.conn.register_object(AGENT_PATH, info, on_call, None, None)
        self.call(MANAGER, MANAGER_IFACE, "RegisterAgent",
                  self.GLib.Variant("(oas)", (AGENT_PATH, ["pin"])), timeout=20)

    def close(self):
        self.conn.close_sync(None)


class Onshid:
    def __init__(self, env, log):
        self.log_f = open(log, "wb")
        self.proc = subprocess.Popen([onshid_path(), "--bus-address", env.dbus_address],
                                     env=env.env(), stdin=subprocess.DEVNULL,
                                     stdout=self.log_f, stderr=subprocess.STDOUT)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log_f.close()


def emu_counters(env):
    return env.stats()


def counted(env, fn):
    """(result, seconds, apdus, usb transfers) of fn() on a quiet emulator."""
    if not env.control("reset-stats").startswith("ok"):
        raise NotAvailable("emulator refused reset-stats")
    t0 = time.monotonic()
    res = fn()
    dt = time.monotonic() - t0
    st = emu_counters(env)
    usb = st["bulk_out"] + st["bulk_in"] + st["intr_in"] + st["control"]
    return res, dt, st["apdus"], usb


def startup(bus, env, daemon):
    """Waits for onshid's name, its reader and the card examined."""
    V = bus.GLib.Variant
    owned = lambda: bus.call("/org/freedesktop/DBus", "org.freedesktop.DBus", "NameHasOwner",  # noqa: E731
                             V("(s)", (BUS_NAME,)), dest="org.freedesktop.DBus")[0]
    deadline = time.monotonic() + 20
    while not owned():
        if daemon.proc.poll() is not None or time.monotonic() > deadline:
            raise NotAvailable("onshid did not take its bus name (exit %s)" % daemon.proc.poll())
        time.sleep(0.05)  # start-up only, never inside a measurement
    readers = []
    while not readers:
        readers = bus.call(MANAGER, MANAGER_IFACE, "ListReaders")[0]
        if time.monotonic() > deadline:
            raise NotAvailable("onshid lists no reader")
        if not readers:
            time.sleep(0.05)
    path = readers[0]
    while bus.prop(path, "CardType") != "mynumber":
        if time.monotonic() > deadline:
            raise NotAvailable("onshid never typed the card 'mynumber' (CardType=%r)"
                               % bus.prop(path, "CardType"))
        time.sleep(0.05)
    return path


def insertion_to_cert(bus, env, path, auth_der):
    """N times: remove, then time insert → CardPresent → ReadCertificate."""
    present, answered = [], []
    for _ in range(N_INSERT):
        env.control("remove")
        if not bus.wait_for(lambda: not bus.prop(path, "CardPresent"), 15):
            raise NotAvailable("CardPresent stayed true after removal")
        bus.changes.clear()
        t0 = time.monotonic()
        env.control("insert")
        ok = bus.wait_for(lambda: any(p == path and c.get("CardPresent") is True
                                      for _, p, c in bus.changes), 15)
        if not ok:
            raise NotAvailable("no PropertiesChanged(CardPresent=true) within 15 s")
        t_present = next(t for t, p, c in bus.changes if p == path and c.get("CardPresent"))
        der = bytes(bus.call(path, READER_IFACE, "ReadCertificate",
                             bus.GLib.Variant("(s)", ("auth",)))[0])
        t1 = time.monotonic()
        if der != auth_der:
            raise NotAvailable("ReadCertificate returned other bytes than the card's auth.der")
        present.append(t_present - t0)
        answered.append(t1 - t0)
    return {"present": benchlib.summary_ms(present), "answered": benchlib.summary_ms(answered)}


def measure_onshid(env, work, card, pin, auth_der):
    import gi  # python3-gi, Debian's
    gi.require_version("Gio", "2.0")
    from gi.repository import Gio, GLib
    out = {}
    daemon = Onshid(env, os.path.join(work, "onshid.log"))
    bus = None
    try:
        bus = Bus(Gio, GLib, env.dbus_address)
        bus.watch_properties()
        path = startup(bus, env, daemon)
        time.sleep(0.5)  # let start-up allocations settle before "idle"
        out["rss_idle_kib"] = benchlib.proc_mem_kib(daemon.proc.pid)
        V = GLib.Variant
        read = lambda: bytes(bus.call(path, READER_IFACE, "ReadCertificate",  # noqa: E731
                                      V("(s)", ("auth",)))[0])
        der, dt, apdus, usb = counted(env, read)
        if der != auth_der:
            raise NotAvailable("ReadCertificate returned other bytes than the card's auth.der")
        out["read_cert"] = {"ms": round(dt * 1e3, 3), "apdus": apdus, "usb": usb}
        st, dt, apdus, usb = counted(env, lambda: bus.call(path, READER_IFACE, "GetPinStatus")[0])
        out["pin_status"] = {"ms": round(dt * 1e3, 3), "apdus": apdus, "usb": usb,
                             "answer": {k: int(v) for k, v in st.items()}}
        try:
            bus.export_agent(pin)
            res, dt, apdus, usb = counted(env, lambda: bus.call(
                path, READER_IFACE, "Authenticate",
                V("(saya{sv})", ("pin", CHALLENGE, {})), timeout=60)[0])
            sig = bytes(res.get("signature", b""))
            out["authenticate"] = {"ms": round(dt * 1e3, 3), "apdus": apdus, "usb": usb,
                                   "signature_bytes": len(sig)}
        except NotAvailable as e:
            out["authenticate"] = {"error": str(e)}
        # Two batches: the second shows whether memory levels off or grows.
        for batch, key in ((1, "rss_after_kib"), (2, "rss_after_2x_kib")):
            samples = []
            for _ in range(N_CALLS):
                t0 = time.monotonic()
                der = read()
                samples.append(time.monotonic() - t0)
                if der != auth_der:
                    raise NotAvailable("ReadCertificate returned other bytes than auth.der")
            if batch == 1:
                out["read_cert_repeat"] = benchlib.summary_ms(samples)
            out[key] = benchlib.proc_mem_kib(daemon.proc.pid)
        out["insertion"] = insertion_to_cert(bus, env, path, auth_der)
    finally:
        if bus:
            bus.close()
        daemon.stop()
    return out


def pem_to_der(text):
    body = "".join(line for line in text.splitlines() if line and not line.startswith("-----"))
    return base64.b64decode(body)


def measure_opensc(env, work, auth_der):
    tool = shutil.which("pkcs15-tool")
    if not tool:
        raise NotAvailable("pkcs15-tool (OpenSC) is not installed")
    r = subprocess.run([tool, "-c"], env=env.env(), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=60)
    cert_id = None
    block = []
    for line in r.stdout.splitlines() + [""]:
        if line.strip():
            block.append(line.strip())
            continue
        if any(b.startswith("Path") and b.split(":", 1)[1].strip().lower() == "000a" for b in block):
            cert_id = next((b.split(":", 1)[1].strip() for b in block if b.startswith("ID")), None)
        block = []
    if not cert_id:
        raise NotAvailable("pkcs15-tool -c lists no certificate at path 000a: %s"
                           % r.stdout.strip()[-200:])
    out_pem = os.path.join(work, "opensc-auth.pem")
    samples, apdus, usb = [], None, None
    for i in range(N_OPENSC):
        cmd = [tool, "--read-certificate", cert_id, "-o", out_pem]
        run = lambda: subprocess.run(cmd, env=env.env(), stdout=subprocess.PIPE,  # noqa: E731
                                     stderr=subprocess.STDOUT, text=True, timeout=60)
        r, dt, n_apdus, n_usb = counted(env, run)
        if r.returncode != 0:
            raise NotAvailable("pkcs15-tool --read-certificate %s: %s"
                               % (cert_id, r.stdout.strip()[-200:]))
        with open(out_pem) as f:
            if pem_to_der(f.read()) != auth_der:
                raise NotAvailable("pkcs15-tool returned other bytes than the card's auth.der")
        samples.append(dt)
        apdus, usb = n_apdus, n_usb
    return {"cert_id": cert_id, "process": benchlib.summary_ms(samples), "apdus": apdus,
            "usb": usb}


def fmt(side, fn):
    if "error" in side:
        return "not available: " + side["error"]
    try:
        return fn(side)
    except (KeyError, TypeError) as e:
        return "n/a (%s)" % e


def report(res):
    o, s = res["onshid"], res["opensc"]
    ms = lambda d: "%.1f ms, %d APDUs, %d USB transfers" % (d["ms"], d["apdus"], d["usb"])  # noqa: E731
    sub = lambda d, k: d[k] if k in d and "error" not in d[k] else (_ for _ in ()).throw(  # noqa: E731
        KeyError(d.get(k, {}).get("error", k)))
    rows = [
        ("insert -> CardPresent signal (median/p99, %d)" % N_INSERT,
         fmt(o, lambda d: benchlib.fmt_ms(d["insertion"]["present"]["median_ms"],
                                           d["insertion"]["present"]["p99_ms"])), "-"),
        ("insert -> ReadCertificate(auth) answered",
         fmt(o, lambda d: benchlib.fmt_ms(d["insertion"]["answered"]["median_ms"],
                                           d["insertion"]["answered"]["p99_ms"])), "-"),
        ("read auth certificate (one call / process)",
         fmt(o, lambda d: ms(d["read_cert"])),
         fmt(s, lambda d: "%.1f ms, %d APDUs, %d USB transfers" % (
             d["process"]["median_ms"], d["apdus"], d["usb"]))),
        ("ReadCertificate x%d median/p99" % N_CALLS,
         fmt(o, lambda d: benchlib.fmt_ms(d["read_cert_repeat"]["median_ms"],
                                           d["read_cert_repeat"]["p99_ms"])), "-"),
        ("GetPinStatus", fmt(o, lambda d: ms(d["pin_status"])), "-"),
        ("Authenticate(pin) incl. agent", fmt(o, lambda d: ms(sub(d, "authenticate"))), "-"),
        ("onshid VmRSS / VmHWM idle",
         fmt(o, lambda d: "%d / %d KiB" % (d["rss_idle_kib"]["VmRSS"], d["rss_idle_kib"]["VmHWM"])),
         "-"),
        ("  after %d ReadCertificate" % N_CALLS,
         fmt(o, lambda d: "%d / %d KiB" % (d["rss_after_kib"]["VmRSS"],
                                           d["rss_after_kib"]["VmHWM"])), "-"),
        ("  after %d ReadCertificate" % (2 * N_CALLS),
         fmt(o, lambda d: "%d / %d KiB" % (d["rss_after_2x_kib"]["VmRSS"],
                                           d["rss_after_2x_kib"]["VmHWM"])), "-"),
    ]
    benchlib.print_table("daemon (%s, driver %s)" % (res["profile"], res["driver"]),
                         ["onshid over D-Bus", "OpenSC pkcs15-tool"],
                         [(label, [a, b]) for label, a, b in rows])


def main():
    profile = os.environ.get("ONSHI_BENCH_DAEMON_PROFILE") or "tpdu-t1"
    try:
        benchlib.require([benchlib.onshi_testenv.emu_path(), benchlib.onshi_testenv.probe_path()])
    except NotAvailable as e:
        print("bench-daemon: not available: %s" % e)
        benchlib.save_results("daemon", {"available": False, "why": str(e)})
        return 0
    try:
        driver = benchlib.onshi_bundle()
        driver_name = benchlib.ONSHI
    except NotAvailable as e:
        print("bench-daemon: our driver is not available (%s): both sides use libccid" % e)
        driver, driver_name = benchlib.LIBCCID, benchlib.LIBCCID
    work = benchlib.workdir()
    res = {"profile": profile, "driver": driver_name}
    try:
        card = benchlib.make_card(work)
        pin = benchlib.card_conf(card)["auth_pin"]
        with open(os.path.join(card, "auth.der"), "rb") as f:
            auth_der = f.read()
        with TestEnv(profile=profile, card="vcard:" + card, driver=driver,
                     dbus_policy_files=[write_policy(work)]) as env:
            env.wait_readers(1, at_least=True)
            try:
                benchlib.require([onshid_path()])
                import gi  # noqa: F401
                res["onshid"] = measure_onshid(env, work, card, pin, auth_der)
            except ImportError:
                res["onshid"] = {"error": "python3-gi is not installed"}
            except (NotAvailable, OSError) as e:
                res["onshid"] = {"error": str(e)}
            try:
                res["opensc"] = measure_opensc(env, work, auth_der)
            except (NotAvailable, OSError, subprocess.SubprocessError) as e:
                res["opensc"] = {"error": str(e)}
    except EnvError as e:
        res.setdefault("onshid", {"error": "environment failed: %s" % e})
        res.setdefault("opensc", {"error": "environment failed: %s" % e})
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report(res)
    benchlib.save_results("daemon", res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
