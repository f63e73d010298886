#!/usr/bin/python3
"""The harness leaves nothing behind and the bench does not busy-poll.

1. After a full run (emulator + pcscd + private D-Bus, a certificate read)
   no process carrying the environment's marker survives, and the pcscd,
   emulator and dbus-daemon PIDs are gone.
2. The CLI harness killed by SIGTERM in the middle of its command tears
   everything down too.
3. Idle: with a card inserted and nothing happening for 3 s, pcscd and the
   emulator together use less than 0.2 s of CPU (utime+stime from /proc).
"""
import os
import shutil
import signal
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # the source tree may be read-only (distcheck)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2elib  # noqa: E402
from e2elib import TestEnv, EnvError, onshi_testenv  # noqa: E402

IDLE_SECONDS = 3.0
IDLE_CPU_LIMIT = 0.2


def children_of(ppid):
    """Live processes whose parent is ppid (from /proc/PID/stat)."""
    kids = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == ppid and fields[0] != "Z":
            kids.append(int(name))
    return kids


def main():
    e2elib.require_built(e2elib.emu_path(), e2elib.probe_path())
    e2elib.require_file(e2elib.mkcard_path())
    rep = e2elib.Report("test-no-leftovers")
    work = e2elib.workdir()
    try:
        card = e2elib.make_card(work, "card")
        env = TestEnv(profile="tpdu-t1", card="vcard:" + card, dbus_policy="")
        with rep.attach(env):
            env.wait_readers(1)
            r = env.probe("--timeout", 20000, "wait-card", timeout=40)
            rep.run_result("card present", r)
            r = env.probe("read-cert", "auth", "--out", os.path.join(work, "a.der"))
            rep.run_result("certificate read", r)
            pids = env.pids()
            rep.check("pcscd, emulator and dbus-daemon running",
                      set(pids) == {"pcscd", "emu", "dbus"}, str(pids))
            marked = onshi_testenv.processes_with_marker(env.marker)
            rep.check("the marker finds the environment's processes",
                      set(pids.values()) <= set(marked), "%s vs %s" % (pids, marked))

            # Idle: let pcscd finish its post-command work, then measure.
            time.sleep(1.0)
            before = {k: onshi_testenv.cpu_seconds(p) for k, p in pids.items() if k != "dbus"}
            # The measurement must be able to see work: starting up and
            # reading a certificate cost pcscd + emulator some CPU.
            rep.check("CPU accounting sees the work done so far (%.3f s)" % sum(before.values()),
                      sum(before.values()) > 0)
            time.sleep(IDLE_SECONDS)
            after = {k: onshi_testenv.cpu_seconds(p) for k, p in pids.items() if k != "dbus"}
            used = sum(after[k] - before[k] for k in before)
            detail = ", ".join("%s %.3f s" % (k, after[k] - before[k]) for k in before)
            print("idle %.0f s: %s" % (IDLE_SECONDS, detail))
            rep.check("idle %.0f s with a card: pcscd + emulator CPU %.3f s < %.1f s"
                      % (IDLE_SECONDS, used, IDLE_CPU_LIMIT), used < IDLE_CPU_LIMIT, detail)
        rep.check("after teardown no process of the environment survives",
                  not onshi_testenv.processes_with_marker(env.marker))
        rep.check("pcscd, emulator and dbus-daemon PIDs are gone",
                  not any(onshi_testenv._pid_alive(p) for p in pids.values()), str(pids))
        kids = children_of(os.getpid())
        rep.check("the test process has no child process left", not kids, str(kids))

        # The CLI harness, stopped by SIGTERM while its command runs.
        mfile = os.path.join(work, "marker")
        harness = os.path.join(e2elib.srcdir(), "tests", "harness", "onshi_testenv.py")
        cli = subprocess.Popen(
            [sys.executable, harness, "--profile", "tpdu-t1", "--card", "vcard:" + card,
             "--dbus", "--", "sh", "-c", 'echo "$ONSHI_TESTENV" > "$0"; exec sleep 120', mfile],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while not (os.path.exists(mfile) and os.path.getsize(mfile)) and cli.poll() is None \
                and time.monotonic() < deadline:
            time.sleep(0.1)
        marker = open(mfile).read().strip() if os.path.exists(mfile) else ""
        rep.check("CLI harness started its command", bool(marker),
                  "" if marker else (cli.stderr.read() if cli.poll() is not None else "timeout"))
        running = onshi_testenv.processes_with_marker(marker) if marker else []
        rep.check("CLI environment has processes (emulator, pcscd, bus, command)",
                  len(running) >= 4, str(running))
        cli.send_signal(signal.SIGTERM)
        try:
            rc = cli.wait(30)
        except subprocess.TimeoutExpired:
            cli.kill()
            rc = cli.wait()
        rep.check("CLI harness exits non-zero on SIGTERM (status %d)" % rc, rc != 0)
        left = onshi_testenv.processes_with_marker(marker) if marker else ["?"]
        rep.check("after SIGTERM no process of the CLI environment survives", not left, str(left))
    except EnvError as e:
        rep.check("environment", False, str(e))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return rep.finish()


if __name__ == "__main__":
    sys.exit(main())
