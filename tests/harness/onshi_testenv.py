#!/usr/bin/python3
"""onshi_testenv — one private smart-card environment per test.

What it starts, in a short private temporary directory (unix socket paths
must stay under 108 bytes):
  * the emulated USB CCID reader (tests/emu/onshi-emu) with a card, or, with
    reader="vpcd", Debian's vsmartcard vpcd on a private TCP port (a second,
    independent reader path that needs no emulator);
  * a private pcscd, socket-activated on DIR/pcscd.comm, run inside its own
    mount namespace where /usr/lib/pcsc/drivers holds only the chosen driver
    bundle and /run/pcscd is a private directory, so concurrent tests (and
    the machine's own pcscd, if any) never see each other;
  * optionally a private system-type D-Bus bus with a policy the test gives.

Clients get PCSCLITE_CSOCK_NAME and DBUS_SYSTEM_BUS_ADDRESS from env().
Everything is torn down on exit, on exceptions and on SIGTERM/SIGINT/SIGHUP:
each child runs in its own process group, the harness is a child subreaper (so
nothing a child forks escapes to init), and stop() kills, waits and then
checks /proc that no process carrying this environment's marker survives.

Library use:
    with TestEnv(profile="tpdu-t1", card="vcard:" + carddir) as env:
        env.wait_readers(1)
        subprocess.run([probe, "atr"], env=env.env(), check=True)
        env.control("remove")

CLI:
    python3 tests/harness/onshi_testenv.py --profile P --card SPEC -- CMD ARGS
runs CMD inside the environment and exits with its status.

Python 3 standard library only; run by Debian's /usr/bin/python3.
"""

import argparse
import atexit
import ctypes
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

LIBCCID_BUNDLE = "/usr/lib/pcsc/drivers/ifd-ccid.bundle"
SYSTEM_DROPDIR = "/usr/lib/pcsc/drivers"
VPCD_LIB = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so"
UMOCKDEV_PRELOAD = "libumockdev-preload.so.0"
MARKER_VAR = "ONSHI_TESTENV"
PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
# Seconds a start-up step may take on a loaded 2-core machine.
START_TIMEOUT = 30


class EnvError(RuntimeError):
    """The environment could not be started or reached."""


def top_srcdir():
    return os.environ.get("ONSHI_TOP_SRCDIR") or os.path.dirname(
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def top_builddir():
    return os.environ.get("ONSHI_TOP_BUILDDIR") or top_srcdir()


def build_path(rel):
    """A program of the build tree (VPATH builds keep them in the build dir)."""
    return os.path.join(top_builddir(), rel)


def probe_path():
    return os.environ.get("ONSHI_PROBE") or build_path("tests/tools/onshi-pcsc-probe")


def test_preload_path():
    return build_path("tests/harness/.libs/libonshi-test-preload.so")


def emu_path():
    return os.environ.get("ONSHI_EMU") or build_path("tests/emu/onshi-emu")


_libc = None


def _prctl(option, arg):
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    return _libc.prctl(option, ctypes.c_ulong(arg), 0, 0, 0)


def _child_setup():
    # Runs in the forked child before exec: die with the harness even if the
    # harness itself is killed with SIGKILL (no chance to tear down).
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _pid_alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def processes_with_marker(marker):
    """PIDs of live processes whose environment carries MARKER_VAR=marker."""
    needle = ("%s=%s" % (MARKER_VAR, marker)).encode() + b"\0"
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        pid = int(name)
        try:
            with open("/proc/%d/environ" % pid, "rb") as f:
                data = f.read() + b"\0"
        except OSError:
            continue
        if (b"\0" + needle) in (b"\0" + data) and _pid_alive(pid):
            found.append(pid)
    return found


def cpu_seconds(pid):
    """utime + stime of a process, in seconds (from /proc/PID/stat)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # fields[0] is the state (field 3); utime and stime are fields 14 and 15.
    ticks = int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def tail(path, lines=40):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return ""
    return "\n".join(data.decode("utf-8", "replace").splitlines()[-lines:])


class TestEnv:
    """A private emulator + pcscd (+ D-Bus) for one test.  See module doc."""

    def __init__(self, profile="tpdu-t1", card=None, card2=None, no_card=False,
                 driver="libccid", reader="emu", dbus_policy=None,
                 dbus_policy_files=(), emu_args=(), pcscd_args=(),
                 keep_logs_on_failure=True, verbose=False, libccid_options=None,
                 apdu_log=True, reader_conf=(), emu_exit=0, dbus_service_dirs=()):
        self.profile = profile
        # The emulator's expected exit status: 3 when a replay card is meant
        # to deviate from its transcript.  Any other status fails the test.
        self.emu_exit = emu_exit
        self.emu_status = None
        # pcscd --apdu logs every APDU as sent, PIN bytes included: tests that
        # prove no PIN reaches any log of the run turn it off.
        self.apdu_log = apdu_log
        self.card = card
        self.card2 = card2
        self.no_card = no_card
        self.driver = driver
        self.reader = reader
        self.dbus_policy = dbus_policy
        self.dbus_policy_files = list(dbus_policy_files)
        # <servicedir>s of the private bus: D-Bus activation starts what
        # their .service files name, with this environment's variables.
        self.dbus_service_dirs = list(dbus_service_dirs)
        self.emu_args = list(emu_args)
        self.pcscd_args = list(pcscd_args)
        self.keep_logs_on_failure = keep_logs_on_failure
        self.verbose = verbose
        # libccid's ifdDriverOptions for this run (None: Debian's default).
        self.libccid_options = libccid_options
        # Extra reader.conf entries, each a list of (KEY, VALUE) pairs in
        # file order (pcscd's legacy, non-hotplug way to load a driver).
        # driver=() leaves the bundle drop dir empty, so hotplug adds nothing.
        self.reader_conf = [list(e) for e in reader_conf]
        self.dir = None
        self.marker = None
        self.emu = None
        self.emu_info = {}
        self.pcscd = None
        self.dbus = None
        self.dbus_pid = None
        self.dbus_address = None
        self.vpcd_port = None
        self.failed = False
        self._stopped = True
        self._old_handlers = {}
        self._stderr_files = []

    # ---- paths ---------------------------------------------------------
    @property
    def pcscd_sock(self):
        return os.path.join(self.dir, "pcscd.comm")

    @property
    def control_sock(self):
        return os.path.join(self.dir, "ctl")

    @property
    def pcscd_log(self):
        return os.path.join(self.dir, "pcscd.log")

    @property
    def emu_log(self):
        return os.path.join(self.dir, "emu.log")

    @property
    def dbus_log(self):
        return os.path.join(self.dir, "dbus.log")

    # ---- lifecycle -----------------------------------------------------
    def __enter__(self):
        self.start()
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            self.failed = True
        self.stop()
        return False

    def start(self):
        self._install_signal_handlers()
        # Last resort for a test that forgets stop(): tear down at exit.
        atexit.register(self._stop_at_exit)
        _prctl(PR_SET_CHILD_SUBREAPER, 1)
        base = os.environ.get("ONSHI_TEST_TMPDIR") or "/tmp"
        if len(base) > 40:
            base = "/tmp"
        self.dir = tempfile.mkdtemp(prefix="oe", dir=base)
        self.marker = os.path.basename(self.dir) + "-%d" % os.getpid()
        self._stopped = False
        try:
            if self.reader == "emu":
                self._start_emu()
            elif self.reader != "vpcd":
                raise EnvError("unknown reader kind %r" % self.reader)
            self._start_pcscd()
            if self.dbus_policy is not None or self.dbus_policy_files:
                self._start_dbus()
        except BaseException:
            self.failed = True
            self.stop()
            raise

    def _marked_env(self, extra=None):
        env = dict(os.environ)
        env[MARKER_VAR] = self.marker
        env["TMPDIR"] = self.dir
        env.pop("LD_PRELOAD", None)
        if extra:
            env.update(extra)
        return env

    def _open_log(self, path):
        f = open(path, "wb")
        self._stderr_files.append(f)
        return f

    def _start_emu(self):
        exe = emu_path()
        if not os.access(exe, os.X_OK):
            raise EnvError("emulator not built: %s" % exe)
        cmd = [exe, "--profile", self.profile, "--control", self.control_sock]
        if self.no_card or not self.card:
            cmd.append("--no-card")
        else:
            cmd += ["--card", self.card]
        if self.card2:
            cmd += ["--card2", self.card2]
        cmd += self.emu_args
        self._log("start emulator: %s" % " ".join(cmd))
        self.emu = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=self._open_log(self.emu_log), env=self._marked_env(),
            start_new_session=True, preexec_fn=_child_setup)
        self.emu_info = self._read_ready(self.emu, 30.0)
        if "UMOCKDEV_DIR" not in self.emu_info:
            raise EnvError("emulator printed no UMOCKDEV_DIR")

    def _read_ready(self, proc, timeout):
        """KEY=VALUE lines of the emulator's stdout up to READY."""
        info = {}
        buf = b""
        deadline = time.monotonic() + timeout
        fd = proc.stdout.fileno()
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise EnvError("emulator not READY within %.0f s; log:\n%s"
                               % (timeout, tail(self.emu_log)))
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(fd, 4096)
            if not chunk:
                raise EnvError("emulator exited before READY (status %s); log:\n%s"
                               % (proc.poll(), tail(self.emu_log)))
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                text = line.decode("utf-8", "replace").strip()
                if text == "READY":
                    return info
                if "=" in text:
                    key, value = text.split("=", 1)
                    info[key] = value

    def _driver_dir(self):
        """A private drop directory holding only the chosen bundle(s)."""
        drop = os.path.join(self.dir, "drivers")
        os.mkdir(drop)
        bundles = []
        if self.reader == "vpcd":
            # reader.conf names the library by its system path, which the
            # bind mount hides: give the private drop dir a copy.
            os.mkdir(os.path.join(drop, "serial"))
            shutil.copy2(VPCD_LIB, os.path.join(drop, "serial"))
            return drop
        if self.driver == "libccid":
            bundles.append(LIBCCID_BUNDLE)
        elif isinstance(self.driver, (list, tuple)):
            bundles.extend(self.driver)
        else:
            bundles.append(self.driver)
        for b in bundles:
            if not os.path.isfile(os.path.join(b, "Contents", "Info.plist")):
                raise EnvError("not a driver bundle: %s" % b)
            target = os.path.join(drop, os.path.basename(b.rstrip("/")))
            if os.path.realpath(b).startswith(SYSTEM_DROPDIR + "/"):
                # The system drop dir is hidden by the bind mount: copy.
                shutil.copytree(b, target, symlinks=False)
                if self.libccid_options is not None and b == LIBCCID_BUNDLE:
                    self._set_driver_options(target, self.libccid_options)
            else:
                os.symlink(os.path.abspath(b), target)
        return drop

    @staticmethod
    def _set_driver_options(bundle, options):
        """Rewrites ifdDriverOptions in a copied bundle's Info.plist."""
        plist = os.path.join(bundle, "Contents", "Info.plist")
        with open(plist) as f:
            text = f.read()
        new, n = re.subn(r"(<key>ifdDriverOptions</key>\s*<string>)[^<]*(</string>)",
                         r"\g<1>0x%04X\g<2>" % options, text)
        if n != 1:
            raise EnvError("no ifdDriverOptions in %s" % plist)
        with open(plist, "w") as f:
            f.write(new)

    def _reader_conf(self):
        conf = os.path.join(self.dir, "reader.conf.d")
        os.mkdir(conf)
        if self.reader == "vpcd":
            self.vpcd_port = self._free_port_pair()
            with open(os.path.join(conf, "vpcd"), "w") as f:
                f.write('FRIENDLYNAME "Virtual PCD"\n')
                f.write("DEVICENAME /dev/null:%d\n" % self.vpcd_port)
                f.write("LIBPATH %s\n" % VPCD_LIB)
                f.write("CHANNELID %d\n" % self.vpcd_port)
        for i, entry in enumerate(self.reader_conf):
            with open(os.path.join(conf, "entry-%d" % i), "w") as f:
                for key, value in entry:
                    if key not in ("FRIENDLYNAME", "DEVICENAME", "LIBPATH", "CHANNELID"):
                        raise EnvError("not a reader.conf key: %r" % key)
                    f.write('%s %s\n' % (key, '"%s"' % value if key == "FRIENDLYNAME" else value))
        return conf

    @staticmethod
    def _free_port_pair():
        # vpcd binds PORT and PORT+1; ask the kernel for a free pair.
        for _ in range(50):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
            s.close()
            if port >= 65535:
                continue
            s2 = socket.socket()
            try:
                s2.bind(("127.0.0.1", port + 1))
                return port
            except OSError:
                continue
            finally:
                s2.close()
        raise EnvError("no free TCP port pair for vpcd")

    @staticmethod
    def _sanitizer_runtimes(drop):
        """ASan/UBSan runtimes a driver in the drop dir links: pcscd is not
        instrumented, so they must be preloaded ahead of everything else."""
        runtimes = []
        for root, _, files in os.walk(drop, followlinks=True):
            if os.path.basename(root) != "Linux":
                continue
            for name in files:
                try:
                    out = subprocess.run(["ldd", os.path.join(root, name)],
                                         stdout=subprocess.PIPE, text=True,
                                         timeout=20).stdout
                except (OSError, subprocess.SubprocessError):
                    continue
                for line in out.splitlines():
                    parts = line.split()
                    if len(parts) >= 3 and parts[1] == "=>" and \
                            re.match(r"lib(asan|ubsan)\.so", parts[0]) and parts[2] not in runtimes:
                        runtimes.append(parts[2])
        return runtimes

    def _start_pcscd(self):
        if not os.path.isdir("/run/pcscd"):
            os.makedirs("/run/pcscd", exist_ok=True)
        drop = self._driver_dir()
        conf = self._reader_conf()
        rundir = os.path.join(self.dir, "run")
        os.mkdir(rundir)
        activate = ["systemd-socket-activate", "-l", self.pcscd_sock,
                    "-E", "%s=%s" % (MARKER_VAR, self.marker)]
        preload = self._sanitizer_runtimes(drop)
        if self.reader == "emu":
            preload.append(UMOCKDEV_PRELOAD)
            # After umockdev's: logs and retries a failed connect to the
            # emulator's ioctl socket (tests/harness/preload-connect-retry.c).
            if os.path.exists(test_preload_path()):
                preload.append(test_preload_path())
            activate += ["-E", "UMOCKDEV_DIR=" + self.emu_info["UMOCKDEV_DIR"]]
        if preload:
            activate += ["-E", "LD_PRELOAD=" + ":".join(preload)]
        for var in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LIBCCID_ifdLogLevel", "ONSHI_IFD_LOGLEVEL"):
            if var in os.environ:
                activate += ["-E", var]
        activate += ["pcscd", "-f", "-d"] + (["-a"] if self.apdu_log else []) + \
            ["-c", conf] + self.pcscd_args
        script = ('set -e; mount --bind "$1" %s; mount --bind "$2" /run/pcscd; '
                  'shift 2; exec "$@"' % SYSTEM_DROPDIR)
        cmd = ["unshare", "-m", "--propagation", "private", "sh", "-c", script,
               "sh", drop, rundir] + activate
        self._log("start pcscd: %s" % " ".join(activate))
        self.pcscd = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=self._open_log(self.pcscd_log),
            stderr=subprocess.STDOUT, env=self._marked_env(),
            start_new_session=True, preexec_fn=_child_setup)
        deadline = time.monotonic() + START_TIMEOUT
        while not os.path.exists(self.pcscd_sock):
            if self.pcscd.poll() is not None:
                raise EnvError("pcscd wrapper exited (%s):\n%s"
                               % (self.pcscd.returncode, tail(self.pcscd_log)))
            if time.monotonic() > deadline:
                raise EnvError("pcscd socket did not appear within %d s:\n%s"
                               % (START_TIMEOUT, tail(self.pcscd_log)))
            time.sleep(0.05)
        # Socket activation starts pcscd on the first connection: start it
        # now so that reader hotplug begins before the test's first client.
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.connect(self.pcscd_sock)
        deadline = time.monotonic() + START_TIMEOUT
        while not self._pcscd_execed():
            if self.pcscd.poll() is not None:
                raise EnvError("pcscd exited (%s):\n%s"
                               % (self.pcscd.returncode, tail(self.pcscd_log)))
            if time.monotonic() > deadline:
                raise EnvError("pcscd not exec'd within %d s after the first connection:\n%s"
                               % (START_TIMEOUT, tail(self.pcscd_log)))
            time.sleep(0.05)

    def _pcscd_execed(self):
        try:
            with open("/proc/%d/comm" % self.pcscd.pid) as f:
                return f.read().strip() == "pcscd"
        except OSError:
            return False

    def _start_dbus(self):
        conf = os.path.join(self.dir, "bus.conf")
        sock = os.path.join(self.dir, "bus")
        includes = "".join("  <include>%s</include>\n" % os.path.abspath(p)
                           for p in self.dbus_policy_files)
        includes += "".join("  <servicedir>%s</servicedir>\n" % os.path.abspath(d)
                            for d in self.dbus_service_dirs)
        with open(conf, "w") as f:
            f.write(
                '<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"\n'
                ' "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">\n'
                "<busconfig>\n"
                "  <type>system</type>\n"
                "  <listen>unix:path=%s</listen>\n"
                "  <auth>EXTERNAL</auth>\n"
                "  <policy context=\"default\">\n"
                "    <deny own=\"*\"/>\n"
                "    <deny send_type=\"method_call\"/>\n"
                "    <allow send_destination=\"org.freedesktop.DBus\"/>\n"
                "    <allow receive_type=\"method_call\"/>\n"
                "    <allow receive_type=\"method_return\"/>\n"
                "    <allow receive_type=\"error\"/>\n"
                "    <allow receive_type=\"signal\"/>\n"
                "    <allow send_type=\"signal\"/>\n"
                "  </policy>\n"
                "%s%s\n"
                "</busconfig>\n" % (sock, includes, self.dbus_policy or ""))
        self._log("start dbus-daemon (%s)" % conf)
        # In the foreground (not --fork) so it stays in our process group,
        # dies with the harness (PDEATHSIG) and is waited for like the rest.
        self.dbus = subprocess.Popen(
            ["dbus-daemon", "--config-file=" + conf, "--nofork",
             "--print-address=1", "--print-pid=1", "--nopidfile"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=self._open_log(self.dbus_log),
            # what a service it activates needs: this bus as the system
            # bus, and the private pcscd
            env=self._marked_env({"DBUS_SYSTEM_BUS_ADDRESS": "unix:path=" + sock,
                                  "PCSCLITE_CSOCK_NAME": self.pcscd_sock}),
            start_new_session=True, preexec_fn=_child_setup)
        lines = []
        buf = b""
        deadline = time.monotonic() + 20
        fd = self.dbus.stdout.fileno()
        while len(lines) < 2:
            left = deadline - time.monotonic()
            ready = select.select([fd], [], [], max(left, 0))[0] if left > 0 else []
            if not ready:
                raise EnvError("dbus-daemon gave no address:\n%s" % tail(self.dbus_log))
            chunk = os.read(fd, 4096)
            if not chunk:
                raise EnvError("dbus-daemon exited (%s):\n%s"
                               % (self.dbus.poll(), tail(self.dbus_log)))
            buf += chunk
            lines = buf.decode().split()
        self.dbus_address = lines[0]
        self.dbus_pid = int(lines[1])

    def env(self, extra=None):
        """Environment for clients of this environment."""
        env = self._marked_env(extra)
        env["PCSCLITE_CSOCK_NAME"] = self.pcscd_sock
        if self.dbus_address:
            env["DBUS_SYSTEM_BUS_ADDRESS"] = self.dbus_address
        if self.vpcd_port:
            env["ONSHI_VPCD_PORT"] = str(self.vpcd_port)
        if "VICC_PORT" in self.emu_info:
            env["ONSHI_VICC_PORT"] = self.emu_info["VICC_PORT"]
        return env

    # ---- helpers for tests ---------------------------------------------
    def control(self, line, timeout=15.0):
        """One line to the emulator's control socket; returns the reply."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(self.control_sock)
            s.sendall(line.encode() + b"\n")
            reply = b""
            while not reply.endswith(b"\n"):
                chunk = s.recv(4096)
                if not chunk:
                    break
                reply += chunk
        return reply.decode("utf-8", "replace").strip()

    def stats(self):
        reply = self.control("stats")
        if not reply.startswith("ok"):
            raise EnvError("stats: %s" % reply)
        return {k: int(v) for k, v in
                (item.split("=", 1) for item in reply.split()[1:] if "=" in item)}

    def probe(self, *args, timeout=60, extra_env=None, check=False):
        """Runs the PC/SC probe in this environment; CompletedProcess (text)."""
        cmd = [probe_path()] + [str(a) for a in args]
        try:
            return subprocess.run(cmd, env=self.env(extra_env), stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True,
                                  timeout=timeout, check=check)
        except subprocess.TimeoutExpired as e:
            # run() has killed it; report a hang as a failed command.
            out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
            return subprocess.CompletedProcess(
                cmd, -signal.SIGKILL, out,
                "onshi_testenv: probe killed after %s s (hung)\n" % timeout)

    def wait_readers(self, count=1, timeout_ms=20000, at_least=False):
        """Waits until exactly `count` readers (or at least, if asked) exist."""
        r = self.probe("wait-reader", "--count", count, "--timeout", timeout_ms,
                       *(["--at-least"] if at_least else []),
                       timeout=timeout_ms / 1000 + 10)
        if r.returncode != 0:
            raise EnvError("reader did not appear (%d): %s%s"
                           % (r.returncode, r.stdout, r.stderr))
        return r.stdout

    def pids(self):
        """The long-running processes of this environment (pcscd, emu, bus)."""
        out = {}
        if self.pcscd and self.pcscd.poll() is None:
            out["pcscd"] = self.pcscd.pid
        if self.emu and self.emu.poll() is None:
            out["emu"] = self.emu.pid
        if self.dbus and self.dbus.poll() is None:
            out["dbus"] = self.dbus.pid
        return out

    def dump_logs(self, lines=40, stream=sys.stderr):
        for name, path in (("pcscd", self.pcscd_log), ("emulator", self.emu_log),
                           ("dbus", self.dbus_log)):
            if os.path.exists(path) and os.path.getsize(path):
                stream.write("---- %s log (%s), last %d lines\n%s\n"
                             % (name, path, lines, tail(path, lines)))

    # ---- teardown ------------------------------------------------------
    def stop(self):
        if self._stopped:
            return
        self._stopped = True
        # Clients first (the bus, pcscd), then the reader they talk to.
        for proc in (self.dbus, self.pcscd):
            if proc is not None:
                self._terminate_group(proc)
        emu_status = None
        if self.emu is not None:
            try:  # the emulator exits cleanly on stdin EOF ...
                self.emu.stdin.close()
                emu_status = self.emu.wait(10)
            except (OSError, subprocess.TimeoutExpired):
                pass
            self._terminate_group(self.emu)  # ... or by force, and its group
            if emu_status is None:
                emu_status = self.emu.returncode
        for proc in (self.dbus, self.pcscd, self.emu):
            if proc is not None and proc.stdout:
                proc.stdout.close()
        # Anything else carrying our marker (children of children).
        for pid in processes_with_marker(self.marker):
            self._terminate_pid(pid)
        left = processes_with_marker(self.marker)
        for f in self._stderr_files:
            f.close()
        self._stderr_files = []
        self._restore_signal_handlers()
        # A non-zero exit of the emulator (a sanitizer report, a leak, an
        # internal error, a replay deviation) fails the test even if every
        # client step passed, unless the test expects that status.
        self.emu_status = emu_status
        emu_bad = self.emu is not None and emu_status != self.emu_exit
        if emu_bad:
            self.failed = True
            sys.stderr.write("onshi_testenv: emulator exited with status %s (expected %s)\n"
                             % (emu_status, self.emu_exit))
        if left:
            self.failed = True
            sys.stderr.write("onshi_testenv: processes survived teardown: %s\n" % left)
        if self.failed and self.keep_logs_on_failure:
            self.dump_logs()
            sys.stderr.write("onshi_testenv: logs kept in %s\n" % self.dir)
        elif self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
        if left:
            raise EnvError("processes survived teardown: %s" % left)
        if emu_bad:
            raise EnvError("emulator exited with status %s (expected %s)" % (emu_status, self.emu_exit))

    def _stop_at_exit(self):
        try:
            self.stop()
        except EnvError as e:
            sys.stderr.write("onshi_testenv: %s\n" % e)

    @staticmethod
    def _terminate_group(proc, grace=5.0):
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(5)
        # The group may outlive its leader.
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    @staticmethod
    def _terminate_pid(pid, grace=5.0):
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + grace
        while _pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        if _pid_alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            while _pid_alive(pid) and time.monotonic() < deadline + 5:
                time.sleep(0.02)
        TestEnv._reap(pid)

    @staticmethod
    def _reap(pid):
        # As subreaper we inherit orphans (e.g. a daemon that forks): reap the ones
        # we killed; a process that is not our child is reaped by its parent.
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass

    def _install_signal_handlers(self):
        def handler(signum, frame):
            self.failed = True
            raise KeyboardInterrupt("signal %d" % signum)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            try:
                self._old_handlers[sig] = signal.signal(sig, handler)
            except ValueError:  # not the main thread
                pass

    def _restore_signal_handlers(self):
        for sig, old in self._old_handlers.items():
            signal.signal(sig, old)
        self._old_handlers = {}

    def _log(self, msg):
        if self.verbose:
            sys.stderr.write("onshi_testenv: %s\n" % msg)


def main(argv=None):
    ap = argparse.ArgumentParser(
        description="Run CMD with a private emulated reader + pcscd (+ D-Bus).")
    ap.add_argument("--profile", default="tpdu-t1")
    ap.add_argument("--card", help="card SPEC (vcard:DIR, vicc:PORT, replay:FILE, record:FILE:SPEC)")
    ap.add_argument("--card2", help="card SPEC for the second slot")
    ap.add_argument("--no-card", action="store_true")
    ap.add_argument("--driver", default="libccid",
                    help="'libccid' or a driver bundle directory (repeatable: comma-separated)")
    ap.add_argument("--reader", default="emu", choices=("emu", "vpcd"))
    ap.add_argument("--libccid-options", type=lambda v: int(v, 0), default=None,
                    help="ifdDriverOptions for the private copy of libccid (e.g. 0x04)")
    ap.add_argument("--dbus-policy-file", action="append", default=[],
                    help="busconfig file included in a private system bus")
    ap.add_argument("--dbus", action="store_true", help="start a private system bus")
    ap.add_argument("--wait-readers", type=int, default=1,
                    help="wait until at least this many readers are visible (0: don't)")
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    args = ap.parse_args(argv)
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not cmd:
        ap.error("no command given (use -- CMD ARGS)")
    driver = args.driver.split(",") if "," in args.driver else args.driver
    env = TestEnv(profile=args.profile, card=args.card, card2=args.card2,
                  no_card=args.no_card, driver=driver, reader=args.reader,
                  dbus_policy="" if args.dbus else None,
                  dbus_policy_files=args.dbus_policy_file, verbose=args.verbose,
                  libccid_options=args.libccid_options)
    status = 1
    try:
        env.start()
        if args.wait_readers and args.reader == "emu":
            env.wait_readers(args.wait_readers, at_least=True)
        extra = {}
        if env.emu_info.get("UMOCKDEV_DIR"):
            extra["ONSHI_UMOCKDEV_DIR"] = env.emu_info["UMOCKDEV_DIR"]
        extra["ONSHI_CONTROL"] = env.control_sock
        status = subprocess.call(cmd, env=env.env(extra))
        if status != 0:
            env.failed = True
    except (EnvError, OSError, subprocess.SubprocessError) as e:
        sys.stderr.write("onshi_testenv: %s\n" % e)
        env.failed = True
        status = 125
    except KeyboardInterrupt:
        env.failed = True
        status = 130
    finally:
        try:
            env.stop()
        except EnvError as e:
            sys.stderr.write("onshi_testenv: %s\n" % e)
            status = status or 1
    return status


if __name__ == "__main__":
    sys.exit(main())
