#!/usr/bin/python3
"""D-Bus activation of onshid, as the built (installable) files describe it:

- dbus/org.onshi.Onshi1.service names org.onshi.Onshi1, hands activation to
  onshid.service (SystemdService=) and runs the same program as that unit's
  ExecStart=, which is Type=dbus with BusName=org.onshi.Onshi1;
- a private bus whose service directory holds that activation file (only
  Exec= pointed at the onshid of this build) starts onshid on the first
  call: with no onshid running, ListReaders and ReadCertificate("auth")
  are answered, by the daemon the bus started;
- after that daemon stops (SIGTERM) the name is free, and the next call
  activates a new one.

There is no PID 1 here, so systemd's part (SystemdService=, the sandbox of
onshid.service) is checked as text only; dbus-daemon runs Exec= itself."""
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

R = "/org/onshi/Onshi1/reader/0"


def built(rel):
    return os.path.join(e2elib.onshi_testenv.top_builddir(), rel)


def keys(path, section):
    """KEY=VALUE lines of one [section] of a desktop-entry-style file."""
    out, current = {}, None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("["):
                current = line
            elif current == section and "=" in line and not line.startswith("#"):
                k, v = line.split("=", 1)
                out[k.strip()] = v.strip()
    return out


def bus_call(c, method, sig, *args):
    return c.conn.call_sync("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                            method, GLib.Variant(sig, args), None, Gio.DBusCallFlags.NONE,
                            10000, None).unpack()[0]


def has_owner(c):
    return bus_call(c, "NameHasOwner", "(s)", oc.BUS_NAME)


def owner_pid(c):
    return bus_call(c, "GetConnectionUnixProcessID", "(s)", oc.BUS_NAME)


def check_files(rep):
    act = keys(built("dbus/org.onshi.Onshi1.service"), "[D-BUS Service]")
    unit = keys(built("dbus/onshid.service"), "[Service]")
    rep.check("activation file: Name=org.onshi.Onshi1", act.get("Name") == oc.BUS_NAME, str(act))
    rep.check("activation file: SystemdService=onshid.service",
              act.get("SystemdService") == "onshid.service", str(act))
    rep.check("activation file: a User= for systems without systemd", bool(act.get("User")), str(act))
    rep.check("unit: Type=dbus, BusName=org.onshi.Onshi1",
              unit.get("Type") == "dbus" and unit.get("BusName") == oc.BUS_NAME, str(unit))
    rep.check("activation Exec= runs what the unit's ExecStart= runs, an installed onshid",
              act.get("Exec") == unit.get("ExecStart") and
              os.path.basename(act.get("Exec", "").split()[0] if act.get("Exec") else "") == "onshid",
              "%r vs %r" % (act.get("Exec"), unit.get("ExecStart")))
    return act


def write_service_dir(work, act):
    """The activation file as built, with Exec= pointed at this build."""
    sdir = os.path.join(work, "services")
    os.makedirs(sdir)
    src = built("dbus/org.onshi.Onshi1.service")
    with open(src) as f, open(os.path.join(sdir, "org.onshi.Onshi1.service"), "w") as g:
        for line in f:
            if line.startswith("Exec="):
                line = "Exec=%s --verbose\n" % oc.onshid_path()
            g.write(line)
    return sdir


def readers_are(c, want):
    try:
        return c.readers() == want
    except oc.DBusFailure:
        return False


def starter_address(pid):
    """dbus-daemon sets DBUS_STARTER_ADDRESS for the services it starts."""
    try:
        with open("/proc/%d/environ" % pid, "rb") as f:
            env = f.read().split(b"\0")
    except OSError:
        return None
    for kv in env:
        if kv.startswith(b"DBUS_STARTER_ADDRESS="):
            return kv.split(b"=", 1)[1].decode()
    return None


def stop_activated(c, pid):
    """SIGTERM to the daemon the bus started; True once it and its name are gone."""
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if not os.path.exists("/proc/%d" % pid) or open("/proc/%d/stat" % pid).read().split()[2] == "Z":
            break
        time.sleep(0.05)
    return c.wait_for(lambda: not has_owner(c), 10)


def run(rep, env, card):
    c = oc.Client(env.dbus_address)
    pid = None
    try:
        rep.check("before any call: nobody owns org.onshi.Onshi1", not has_owner(c))
        want = e2elib.read_bytes(os.path.join(card, "auth.der"))
        # The first call activates onshid; its reader may come a moment later.
        rep.check("ListReaders on an unowned name starts onshid and is answered",
                  c.wait_for(lambda: readers_are(c, [R]), 30))
        pid = owner_pid(c)
        exe = os.path.realpath("/proc/%d/exe" % pid)
        starter = starter_address(pid)
        rep.check("the name's owner is this build's onshid, started by the bus",
                  exe == os.path.realpath(oc.onshid_path()) and starter == env.dbus_address,
                  "%s, DBUS_STARTER_ADDRESS %r" % (exe, starter))
        c.wait_for(lambda: c.prop(R, "CardType") == "mynumber", 30)
        der = bytes(c.call(R, oc.READER_IFACE, "ReadCertificate", GLib.Variant("(s)", ("auth",)))[0])
        rep.check("ReadCertificate(auth) from the activated daemon is the card's", der == want)

        rep.check("SIGTERM: the activated daemon exits and frees the name", stop_activated(c, pid))
        rep.check("the next call activates onshid again",
                  c.wait_for(lambda: readers_are(c, [R]), 30))
        pid2 = owner_pid(c)
        rep.check("a new process owns the name", pid2 != pid, "%s %s" % (pid, pid2))
        pid = pid2
        rep.check("SIGTERM again: exits", stop_activated(c, pid))
        pid = None
    finally:
        if pid:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        c.close()
    log = e2elib.tail(env.dbus_log, 400)
    rep.check("dbus-daemon logged the activation", "Activating service name='org.onshi.Onshi1'" in log,
              log[-1500:])


def main():
    e2elib.require_built(e2elib.emu_path(), oc.onshid_path())
    e2elib.require_file(e2elib.mkcard_path(), built("dbus/org.onshi.Onshi1.service"),
                        built("dbus/onshid.service"))
    rep = e2elib.Report("test-onshid-activation")
    if oc.ensure_groups("onshi", "onshi-personal") is None:
        print("SKIP: groups onshi/onshi-personal missing and not root")
        return e2elib.SKIP
    work = e2elib.workdir()
    try:
        act = check_files(rep)
        card = e2elib.make_card(work, "card")
        policy = oc.write_policy(work)
        with TestEnv(profile="tpdu-t1", card="vcard:" + card, dbus_policy_files=[policy],
                     dbus_service_dirs=[write_service_dir(work, act)]) as env:
            rep.attach(env)
            env.wait_readers(1)
            run(rep, env, card)
    except (EnvError, RuntimeError, oc.DBusFailure, GLib.Error) as e:
        rep.check("environment", False, str(e))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return rep.finish()


if __name__ == "__main__":
    sys.exit(main())
