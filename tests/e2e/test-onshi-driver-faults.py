#!/usr/bin/python3
"""onshi's IFD handler under reader faults, through a real pcscd.

For the tpdu-t1 (host runs T=1) and extended-apdu (reader runs the protocol)
profiles, each fault the emulator can inject into the CCID layer (stall,
short-frame, wrong-seq, oversized-length, bad-slot, t1-garbage,
endless-time-extension) hits one SELECT: the client gets either the right
answer (the driver recovered, e.g. by T=1 error recovery) or a clean
transmit error (exit 5) within the driver's bound, pcscd stays alive, and
the next APDUs (a full certificate read) work.  Then unplug: a command
blocked in the reader's endless time extension fails within 1 s of the
unplug, pcscd stays alive, and after replug the reader is back and reads the
certificate.
"""
import os
import shutil
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2elib  # noqa: E402
from e2elib import TestEnv, EnvError  # noqa: E402

SELECT_JPKI = "00A4040C0AD392F000260100000001"
FAULTS = ("stall", "short-frame", "wrong-seq", "oversized-length", "bad-slot",
          "t1-garbage", "endless-time-extension")
# Faults the emulator keeps applying until "fault none".
STICKY = {"t1-garbage", "endless-time-extension"}
# The driver gives up on a busy reader after 60 time extensions / 60 s
# (driver/ccid-cmd.h); a stuck command must end well within this.
FAULT_BOUND_S = 70


def bundle_path():
    return os.path.join(e2elib.onshi_testenv.top_builddir(), "driver", "ifd-onshi.bundle")


def cert_ok(rep, env, label, want, work):
    out = os.path.join(work, "cert-%d.der" % time.monotonic_ns())
    r = env.probe("read-cert", "auth", "--out", out, timeout=60)
    ok = r.returncode == 0 and os.path.exists(out) and e2elib.read_bytes(out) == want
    return rep.check(label, ok, r.stdout + r.stderr)


def fault_cases(rep, env, profile, want, work):
    for fault in FAULTS:
        label = "%s %s" % (profile, fault)
        reply = env.control("fault %s" % fault)
        if not rep.check("%s: emulator accepts the fault" % label, reply.startswith("ok"), reply):
            continue
        t0 = time.monotonic()
        r = env.probe("transmit", SELECT_JPKI, timeout=FAULT_BOUND_S + 30)
        took = time.monotonic() - t0
        out = r.stdout + r.stderr
        recovered = r.returncode == 0 and "9000" in out
        clean_error = r.returncode == e2elib.EX_TRANSPORT
        rep.check("%s: right answer or clean transmit error (exit %d, %.1f s)"
                  % (label, r.returncode, took), recovered or clean_error, out)
        rep.check("%s: ends within %d s" % (label, FAULT_BOUND_S), took < FAULT_BOUND_S)
        if fault == "endless-time-extension" or (fault == "t1-garbage" and profile == "tpdu-t1"):
            # (an APDU-level reader runs T=1 itself and may recover on its own)
            rep.check("%s: persistent fault gives an error, not an answer" % label,
                      clean_error, out)
        if fault in STICKY:
            env.control("fault none")
        rep.check("%s: pcscd alive" % label, "pcscd" in env.pids())
        cert_ok(rep, env, "%s: next APDUs read the whole certificate" % label, want, work)


# pcscd 1.9.9 holds a client for 1 s after a driver returns IFD_NO_SUCH_DEVICE
# from Transmit: IFDTransmit calls SendHotplugSignal(), which sleeps one
# second (src/utils.c) before SCardTransmit returns.  Measured: the driver
# answers ~2 ms after the unplug and the client has its error 1.00 s after
# the unplug.  (It was 1.4 s while the driver's slot-change wait ended on the
# unplug unasked: pcscd's event thread then slept, probed the gone reader and
# slept a second more, and the client's reply waited for that thread; the
# slack below is small enough to catch that coming back.)  The client check
# times the client's error message; the driver's own share is checked
# against pcscd's log with DRIVER_REMOVAL_BOUND_S.
PCSCD_REMOVAL_HOLD_S = 1.0
CLIENT_REMOVAL_SLACK_S = 0.25
DRIVER_REMOVAL_BOUND_S = 0.2


class StderrWatch:
    """Reads a client's stderr in a thread and notes when the first line came."""

    def __init__(self, proc):
        self.proc = proc
        self.first_at = None
        self.lines = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        if proc.stdout is not None:   # drained, so the client never blocks on it
            threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()

    def _run(self):
        for line in self.proc.stderr:
            if self.first_at is None:
                self.first_at = time.monotonic()
            self.lines.append(line)

    def text(self):
        return "".join(self.lines)

    def finish(self, timeout):
        """Waits for the client's exit (killing it after `timeout`)."""
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.thread.join(5)


def removal_latency(log_path):
    """Seconds from pcscd seeing the udev removal to our driver failing the
    blocked transfer with 'reader removed'; negative when the driver saw the
    unplug first (pcscd -d lines start with the microseconds since the
    previous line).  None if either line is missing."""
    with open(log_path, "rb") as f:
        lines = f.read().decode("utf-8", "replace").splitlines()
    clock = 0
    removed_at = failed_at = None
    for line in lines:
        field = line.split(" ", 1)[0]
        if field.isdigit():
            clock += int(field)
        if removed_at is None and "USB Device removed" in line:
            removed_at = clock
        if failed_at is None and "transmit failed: reader removed" in line:
            failed_at = clock
    if removed_at is None or failed_at is None:
        return None
    return (failed_at - removed_at) / 1e6


def pcscd_wedged(log_path):
    """True when, after the last removal, our driver ended its slot-change wait
    but pcscd's event thread never logged 'Die'."""
    with open(log_path, "rb") as f:
        lines = f.read().decode("utf-8", "replace").splitlines()
    last = max((i for i, line in enumerate(lines) if "USB Device removed" in line), default=None)
    if last is None:
        return False
    tail_lines = lines[last - 5 if last >= 5 else 0:]
    driver_done = any("slot-change wait" in line for line in tail_lines)
    died = any("EHStatusHandlerThread() Die" in line for line in lines[last:])
    return driver_done and not died


def check_client_error(rep, label, watch, t0, want="Reader is unavailable"):
    """The client's PC/SC call failed (with `want` in its message, if given)
    within pcscd's hold plus slack of the unplug at t0."""
    bound = PCSCD_REMOVAL_HOLD_S + CLIENT_REMOVAL_SLACK_S
    took = watch.first_at - t0 if watch.first_at is not None else None
    err = watch.text()
    rep.check("%s: client's call fails%s within %.2f s of the unplug (pcscd's 1 s hold "
              "included): %s, exit %s: %s"
              % (label, " with '%s'" % want if want else "", bound,
                 "%.3f s" % took if took is not None else "no error", watch.proc.returncode,
                 err.strip().splitlines()[0] if err.strip() else "-"),
              watch.proc.returncode not in (0, None) and (not want or want in err)
              and took is not None and 0 <= took < bound, err[-300:])


def unplug_case(rep, env, profile, want, work):
    label = "%s unplug" % profile
    # Many APDUs on one connection; the fault makes one of them hang in the
    # reader's time extensions, which is where the cable comes out.
    apdus = [SELECT_JPKI] * 3000
    proc = subprocess.Popen([e2elib.probe_path(), "transmit"] + apdus, env=env.env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    watch = StderrWatch(proc)
    try:
        time.sleep(0.2)
        env.control("fault endless-time-extension")
        time.sleep(1.5)
        rep.check("%s: command blocked in the reader before the unplug" % label,
                  proc.poll() is None)
        t0 = time.monotonic()   # the unplug happens while the control call runs
        reply = env.control("unplug")
        rep.check("%s: emulator unplugs" % label, reply.startswith("ok"), reply)
        watch.finish(10)
        check_client_error(rep, label, watch, t0)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    latency = removal_latency(env.pcscd_log)
    rep.check("%s: driver fails the transfer with IFD_NO_SUCH_DEVICE within %.0f ms of the "
              "removal (%s)" % (label, DRIVER_REMOVAL_BOUND_S * 1000,
                                "%.1f ms" % (latency * 1000) if latency is not None else "not seen"),
              latency is not None and latency < DRIVER_REMOVAL_BOUND_S)
    env.control("fault none")
    rep.check("%s: pcscd alive after the unplug" % label, "pcscd" in env.pids())
    reply = env.control("replug")
    rep.check("%s: emulator replugs" % label, reply.startswith("ok"), reply)
    r = env.probe("--timeout", 20000, "wait-card", timeout=40)
    rep.run_result("%s: reader and card back after replug" % label, r)
    cert_ok(rep, env, "%s: certificate read through the new channel" % label, want, work)
    # Unplug at other moments of a long run of APDUs on one connection, once
    # the run is under way.  (Not within a few ms of a client's disconnect:
    # pcscd 1.9.9's event thread then never exits and the replugged reader
    # stays away -- reproduced with Debian's libccid as well.)
    for delay in (0.0, 0.003, 0.03, 0.1):
        sub = "%s at +%.0f ms into a run of APDUs" % (label, delay * 1000)
        time.sleep(0.5)   # away from the previous client's disconnect (see above)
        proc = subprocess.Popen([e2elib.probe_path(), "transmit"] + [SELECT_JPKI] * 3000,
                                env=env.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        for _ in range(3):   # three answers: the connection is in use
            proc.stdout.readline()
        watch = StderrWatch(proc)
        time.sleep(delay)
        t0 = time.monotonic()
        env.control("unplug")
        watch.finish(10)
        # (between two APDUs the error may also be about the card)
        check_client_error(rep, sub, watch, t0, want=None)
        rep.check("%s: pcscd alive" % sub, "pcscd" in env.pids())
        env.control("replug")
        r = env.probe("--timeout", 20000, "wait-card", timeout=40)
        if r.returncode == 0:
            out = os.path.join(work, "after-%d.der" % (delay * 1000))
            r = env.probe("read-cert", "auth", "--out", out, timeout=60)
            if r.returncode == 0 and e2elib.read_bytes(out) != want:
                r.returncode = 99
        if r.returncode != 0 and pcscd_wedged(env.pcscd_log):
            # pcscd 1.9.9 race: a client call racing the removal leaves its
            # event thread alive, so pcscd never re-adds the reader (seen with
            # Debian's libccid too).  What the driver owes is checked.
            rep.check("%s: driver ended its slot-change wait on removal (pcscd then "
                      "wedged: known pcscd 1.9.9 race; later rounds skipped)" % sub, True)
            break
        rep.run_result("%s: card back after replug, certificate byte-equal" % sub, r)
    rep.check("%s: pcscd alive at the end" % label, "pcscd" in env.pids())


# umockdev's preload (test plumbing, not our code) sometimes exits pcscd when
# pcscd opens the replugged node: "libumockdev-preload: Failed to connect to
# ioctl socket".  Seen about once in five runs of this test, after an unplug
# during an endless time extension; the emulator's socket is listening right
# after every replug (checked 60 times), so the cause is believed to lie in
# the preload (not proven).  The harness now preloads
# tests/harness/preload-connect-retry.c, which retries such a connect and
# logs its errno to the pcscd log; if pcscd still dies that way, the run says
# nothing about the driver, so the profile is run once more in a fresh
# environment, and the run says so.
PRELOAD_DEATH = "libumockdev-preload: Failed to connect to ioctl socket"


def preload_killed_pcscd(env):
    if "pcscd" in env.pids():
        return False
    try:
        with open(env.pcscd_log, "rb") as f:
            return PRELOAD_DEATH.encode() in f.read()
    except OSError:
        return False


class BufferedReport(e2elib.Report):
    """Collects one attempt's checks; replayed into the real report only if
    the attempt is the one that counts."""

    def __init__(self, name):
        super().__init__(name)
        self.lines = []

    def check(self, what, ok, detail=""):
        if ok:
            self.passed += 1
        else:
            self.failed += 1
            for env in self.envs:
                env.failed = True
        self.lines.append((what, ok, detail))
        return ok


def run_profile(profile, card, want, work):
    """One profile in one environment: (report of the attempt, preload died)."""
    rep = BufferedReport(profile)
    died = False
    try:
        with TestEnv(profile=profile, card="vcard:" + card, driver=bundle_path()) as env:
            rep.attach(env)
            env.wait_readers(1)
            r = env.probe("--timeout", 20000, "wait-card", timeout=40)
            rep.run_result("%s: card present" % profile, r)
            cert_ok(rep, env, "%s: certificate before any fault" % profile, want, work)
            fault_cases(rep, env, profile, want, work)
            unplug_case(rep, env, profile, want, work)
            died = preload_killed_pcscd(env)
    except EnvError as e:
        rep.check("%s: environment" % profile, False, str(e))
    return rep, died


def main():
    e2elib.require_built(e2elib.emu_path(), e2elib.probe_path())
    e2elib.require_file(e2elib.mkcard_path(),
                        os.path.join(bundle_path(), "Contents", "Linux", "libifd-onshi.so"))
    rep = e2elib.Report("test-onshi-driver-faults")
    work = e2elib.workdir("drvf")
    try:
        card = e2elib.make_card(work, "card")
        want = e2elib.read_bytes(os.path.join(card, "auth.der"))
        only = os.environ.get("E2E_PROFILES")
        for profile in (only.split(",") if only else ("tpdu-t1", "extended-apdu")):
            attempt, died = run_profile(profile, card, want, work)
            if died and attempt.failed:
                print("NOTE: %s: umockdev's preload exited pcscd (%d checks failed after "
                      "it); running the profile again in a fresh environment"
                      % (profile, attempt.failed), flush=True)
                attempt, died = run_profile(profile, card, want, work)
            for what, ok, detail in attempt.lines:
                rep.check(what, ok, detail)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return rep.finish()


if __name__ == "__main__":
    sys.exit(main())
