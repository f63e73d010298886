#!/usr/bin/python3
"""onshid_client — a real D-Bus client of onshid for the end-to-end tests
(Gio from python3-gi), plus the private-bus policy and the daemon launcher.

Library (in the test process):
    policy = write_policy(dir)               # bus policy modelled on dbus/org.onshi.Onshi1.conf
    d = Daemon(env, "--trust-dir", ...)      # onshid as a child on env's private bus
    c = Client(env.dbus_address)             # a connection; c.call(path, iface, method, args)
    a = AgentProc(env, "--pin", "1234")      # an agent in its own process (own connection)

CLI (run as a child, possibly under another uid/gid):
    onshid_client.py agent ADDRESS [--pin PIN | --hold | --fail NAME] [--caps c1,c2]
        registers /test/agent, prints READY and then one JSON line per call it gets
    onshid_client.py call ADDRESS PATH IFACE METHOD JSON_ARGS SIGNATURE [TIMEOUT_MS]
        prints one JSON line: {"ok": RESULT} or {"error": NAME, "message": TEXT}
"""

import base64
import json
import os
import select
import signal
import subprocess
import sys
import time

import gi
gi.require_version("Gio", "2.0")
from gi.repository import Gio, GLib  # noqa: E402

BUS_NAME = "org.onshi.Onshi1"
MANAGER = "/org/onshi/Onshi1"
MANAGER_IFACE = "org.onshi.Onshi1.Manager"
READER_IFACE = "org.onshi.Onshi1.Reader"
AGENT_IFACE = "org.onshi.Onshi1.Agent"
AGENT_PATH = "/test/agent"
ERR = "org.onshi.Onshi1.Error."
INVALID_ARGS = "org.freedesktop.DBus.Error.InvalidArgs"
HERE = os.path.dirname(os.path.abspath(__file__))

AGENT_XML = """
<node><interface name="org.onshi.Onshi1.Agent">
 <method name="RequestPin"><arg name="reader" type="o" direction="in"/>
  <arg name="kind" type="s" direction="in"/><arg name="tries_left" type="u" direction="in"/>
  <arg name="pin" type="s" direction="out"/></method>
 <method name="DisplayPinPadPrompt"><arg name="reader" type="o" direction="in"/>
  <arg name="kind" type="s" direction="in"/><arg name="tries_left" type="u" direction="in"/></method>
 <method name="RequestCollationNumberB"><arg name="reader" type="o" direction="in"/>
  <arg name="number" type="s" direction="out"/></method>
 <method name="MatchFace"><arg name="reader" type="o" direction="in"/>
  <arg name="photo" type="ay" direction="in"/><arg name="info" type="a{sv}" direction="in"/>
  <arg name="matched" type="b" direction="out"/><arg name="score" type="d" direction="out"/></method>
 <method name="Cancel"><arg name="reason" type="s" direction="in"/></method>
</interface></node>
"""


def write_policy(directory, group="onshi"):
    """A bus policy like dbus/org.onshi.Onshi1.conf for the private bus:
    root owns the name and calls agents; group GROUP (and root, the test
    process) may call onshid; everybody else is refused by the bus."""
    path = os.path.join(directory, "onshi-policy.conf")
    allow = "".join('    <allow send_destination="%s" send_interface="%s"/>\n' % (BUS_NAME, i)
                    for i in (MANAGER_IFACE, READER_IFACE, "org.freedesktop.DBus.Introspectable",
                              "org.freedesktop.DBus.Properties", "org.freedesktop.DBus.Peer"))
    with open(path, "w") as f:
        f.write('<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"\n'
                ' "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">\n<busconfig>\n'
                '  <policy context="default">\n'
                '    <allow user="*"/>\n'
                '    <deny own="%s"/>\n    <deny send_destination="%s"/>\n'
                '    <allow send_type="method_call" send_interface="%s"/>\n'
                '    <allow send_requested_reply="true" send_type="method_return"/>\n'
                '    <allow send_requested_reply="true" send_type="error"/>\n'
                '  </policy>\n'
                '  <policy group="%s">\n%s  </policy>\n'
                '  <policy user="root">\n    <allow own="%s"/>\n%s'
                '    <allow send_type="method_call" send_interface="%s"/>\n  </policy>\n'
                '</busconfig>\n' % (BUS_NAME, BUS_NAME, AGENT_IFACE, group, allow, BUS_NAME, allow,
                                    AGENT_IFACE))
    return path


def ensure_groups(*names):
    """Creates the system groups the policy and onshid name (the bus drops
    rules naming unknown groups).  Returns {name: gid}, or None when they
    are missing and we are not root."""
    import grp
    out = {}
    for name in names:
        try:
            out[name] = grp.getgrnam(name).gr_gid
            continue
        except KeyError:
            pass
        if os.geteuid() != 0:
            return None
        subprocess.run(["groupadd", "-r", name], check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            out[name] = grp.getgrnam(name).gr_gid
        except KeyError:
            return None
    return out


def ensure_user(name, uid, groups=()):
    """A system user for test clients (dbus-daemon refuses to authenticate
    a uid without a passwd entry).  Returns the uid, or None."""
    import pwd
    try:
        return pwd.getpwnam(name).pw_uid
    except KeyError:
        pass
    cmd = ["useradd", "-r", "-M", "-N", "-u", str(uid), "-d", "/nonexistent",
           "-s", "/usr/sbin/nologin"]
    if groups:
        cmd += ["-G", ",".join(groups)]
    subprocess.run(cmd + [name], check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        return pwd.getpwnam(name).pw_uid
    except KeyError:
        return None


def onshid_path():
    return os.environ.get("ONSHID") or os.path.join(
        os.environ.get("ONSHI_TOP_BUILDDIR") or os.path.dirname(os.path.dirname(HERE)),
        "daemon", "onshid")


def connect(address):
    return Gio.DBusConnection.new_for_address_sync(
        address, Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT |
        Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)


def error_name(exc):
    return Gio.DBusError.get_remote_error(exc) or ""


def error_message(exc):
    msg = exc.message
    if msg.startswith("GDBus.Error:") and ": " in msg:
        msg = msg.split(": ", 1)[1]
    return msg


class DBusFailure(Exception):
    def __init__(self, name, message):
        super().__init__("%s: %s" % (name, message))
        self.name = name
        self.message = message


class Client:
    """One connection to the private bus (in the calling thread)."""

    def __init__(self, address):
        self.conn = connect(address)
        self.signals = []

    def call(self, path, iface, method, args=None, timeout_ms=120000):
        try:
            v = self.conn.call_sync(BUS_NAME, path, iface, method, args, None,
                                    Gio.DBusCallFlags.NONE, timeout_ms, None)
        except GLib.Error as e:
            raise DBusFailure(error_name(e), error_message(e)) from None
        return v.unpack() if v is not None else None

    def readers(self):
        return self.call(MANAGER, MANAGER_IFACE, "ListReaders")[0]

    def prop(self, path, name, iface=READER_IFACE):
        return self.call(path, "org.freedesktop.DBus.Properties", "Get",
                         GLib.Variant("(ss)", (iface, name)))[0]

    def subscribe(self):
        """Records ReaderAdded/ReaderRemoved and PropertiesChanged."""
        def on_signal(conn, sender, path, iface, member, params):
            self.signals.append((path, iface, member, params.unpack()))
        self.conn.signal_subscribe(BUS_NAME, None, None, None, None,
                                   Gio.DBusSignalFlags.NONE, on_signal)

    def wait_for(self, predicate, timeout=20.0):
        """Runs the main context until predicate() is true (or timeout)."""
        ctx = GLib.MainContext.default()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            # One iteration blocks until a source is ready; a timer bounds it.
            src = GLib.timeout_source_new(100)
            src.set_callback(lambda *a: False)
            src.attach(ctx)
            ctx.iteration(True)
            src.destroy()
        return predicate()

    def close(self):
        self.conn.close_sync(None)


class Daemon:
    """onshid as a child on env's private bus; stderr goes to DIR/onshid.log."""

    def __init__(self, env, *args):
        self.log = os.path.join(env.dir, "onshid.log")
        self._log_f = open(self.log, "wb")
        cmd = [onshid_path(), "--bus-address", env.dbus_address, "--verbose"] + list(args)
        extra = {}
        if os.environ.get("ONSHID_WRAPPER"):  # e.g. "valgrind -q"
            cmd = os.environ["ONSHID_WRAPPER"].split() + cmd
        self.proc = subprocess.Popen(cmd, env=env.env(extra), stdin=subprocess.DEVNULL,
                                     stdout=self._log_f, stderr=subprocess.STDOUT)
        c = connect(env.dbus_address)
        deadline = time.monotonic() + 20
        try:
            while True:
                v = c.call_sync("org.freedesktop.DBus", "/org/freedesktop/DBus",
                                "org.freedesktop.DBus", "NameHasOwner",
                                GLib.Variant("(s)", (BUS_NAME,)), None, 0, 5000, None)
                if v.unpack()[0]:
                    break
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("onshid did not start:\n" + self.log_text()[-2000:])
                time.sleep(0.05)
        finally:
            c.close_sync(None)

    def log_text(self):
        with open(self.log, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stop(self):
        """SIGTERM; returns the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log_f.close()
        return self.proc.returncode


def _child_cmd(*args):
    return [sys.executable, "-B", os.path.abspath(__file__)] + [str(a) for a in args]


class AgentProc:
    """An agent in its own process (its own connection, like an application)."""

    def __init__(self, env, *args, user=None, group=None, extra_groups=None):
        self.proc = subprocess.Popen(_child_cmd("agent", env.dbus_address, *args),
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     env=env.env(), user=user, group=group,
                                     extra_groups=extra_groups)
        self.buf = b""
        self.events = []
        line = self._line(20)
        if line != "READY":
            raise RuntimeError("agent did not start: %r" % line)

    def _line(self, timeout):
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return None
            chunk = os.read(fd, 4096)
            if not chunk:
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode().strip()

    def wait_event(self, member, timeout=30):
        """The first event named member (from the past or the next ones)."""
        for ev in self.events:
            if ev["call"] == member and not ev.get("_seen"):
                ev["_seen"] = True
                return ev
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self._line(deadline - time.monotonic())
            if line is None:
                return None
            ev = json.loads(line)
            self.events.append(ev)
            if ev["call"] == member:
                ev["_seen"] = True
                return ev
        return None

    def stop(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc.stdout.close()


def call_as(env, path, iface, method, args, signature, user=None, group=None,
            extra_groups=None, timeout_ms=120000, popen=False):
    """The call from a child process (optionally with other uid/gids).
    Returns ("ok", result) or (error name, message); popen=True returns the
    Popen for tests that kill the caller."""
    cmd = _child_cmd("call", env.dbus_address, path, iface, method,
                     json.dumps(args), signature, timeout_ms)
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env.env(),
                         user=user, group=group, extra_groups=extra_groups)
    if popen:
        return p
    out, err = p.communicate(timeout=timeout_ms / 1000 + 30)
    return parse_call_output(out, err)


def parse_call_output(out, err):
    try:
        res = json.loads(out.decode().strip().splitlines()[-1])
    except (ValueError, IndexError):
        return ("client-failed", (out + err).decode("utf-8", "replace")[-500:])
    if "error" in res:
        return (res["error"], res.get("message", ""))
    return ("ok", res["ok"])


def _jsonable(v):
    if isinstance(v, (bytes, bytearray)):
        return {"bytes": base64.b64encode(bytes(v)).decode()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    return v


def _from_json(v):
    if isinstance(v, dict) and set(v) == {"bytes"}:
        return base64.b64decode(v["bytes"])
    if isinstance(v, list):
        return [_from_json(x) for x in v]
    if isinstance(v, dict):
        return {k: _from_json(x) for k, x in v.items()}
    return v


def _to_variant_args(signature, args):
    def conv(sig, val):
        if sig == "ay":
            return bytes(val)
        if sig == "a{sv}":
            out = {}
            for k, (vs, vv) in val.items():  # JSON: {"key": [signature, value]}
                out[k] = GLib.Variant(vs, vv)
            return out
        return val
    sigs = list(GLib.Variant.split_signature("(%s)" % signature)) if signature else []
    return GLib.Variant("(%s)" % signature, tuple(conv(s, a) for s, a in zip(sigs, args)))


def cli_call(address, path, iface, method, args_json, signature, timeout_ms):
    args = _from_json(json.loads(args_json))
    conn = connect(address)
    try:
        v = conn.call_with_unix_fd_list_sync(
            BUS_NAME, path, iface, method,
            _to_variant_args(signature, args) if signature else None, None,
            Gio.DBusCallFlags.NONE, int(timeout_ms), None, None)[0]
        res = v.unpack() if v is not None else None
        print(json.dumps({"ok": _jsonable(res)}), flush=True)
    except GLib.Error as e:
        print(json.dumps({"error": error_name(e) or "local:" + e.message,
                          "message": error_message(e)}), flush=True)
    return 0


def cli_agent(address, argv):
    mode, value, caps = "pin", None, ["pin", "pinpad-prompt"]
    i = 0
    while i < len(argv):
        if argv[i] == "--pin":
            mode, value = "pin", argv[i + 1]
            i += 2
        elif argv[i] == "--hold":
            mode = "hold"
            i += 1
        elif argv[i] == "--fail":
            mode, value = "fail", argv[i + 1]
            i += 2
        elif argv[i] == "--caps":
            caps = argv[i + 1].split(",")
            i += 2
        else:
            raise SystemExit("agent: unknown option %s" % argv[i])
    conn = connect(address)
    info = Gio.DBusNodeInfo.new_for_xml(AGENT_XML).interfaces[0]
    held = []

    def emit(ev):
        sys.stdout.write(json.dumps(ev) + "\n")
        sys.stdout.flush()

    def on_call(conn_, sender, path, iface, method, params, invocation):
        args = params.unpack()
        ev = {"call": method, "sender": sender, "args": _jsonable(list(args))}
        emit(ev)
        if method == "RequestPin":
            if mode == "pin":
                invocation.return_value(GLib.Variant("(s)", (value,)))
            elif mode == "fail":
                invocation.return_dbus_error(value, "test agent refuses")
            else:
                held.append(invocation)  # never answered
        else:
            invocation.return_value(None)

    conn.register_object(AGENT_PATH, info, on_call, None, None)
    conn.call_sync(BUS_NAME, MANAGER, MANAGER_IFACE, "RegisterAgent",
                   GLib.Variant("(oas)", (AGENT_PATH, caps)), None, 0, 20000, None)
    emit_ready = "READY\n"
    sys.stdout.write(emit_ready)
    sys.stdout.flush()
    loop = GLib.MainLoop()
    GLib.io_add_watch(sys.stdin.fileno(), GLib.IO_IN | GLib.IO_HUP,
                      lambda *a: (loop.quit(), False)[1])
    loop.run()
    return 0


def main(argv):
    if len(argv) >= 2 and argv[0] == "agent":
        return cli_agent(argv[1], argv[2:])
    if len(argv) >= 7 and argv[0] == "call":
        return cli_call(argv[1], argv[2], argv[3], argv[4], argv[5], argv[6],
                        argv[7] if len(argv) > 7 else 120000)
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
