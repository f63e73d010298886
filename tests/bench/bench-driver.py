#!/usr/bin/python3
"""bench-driver — onshi's IFD handler against Debian's libccid on the same
emulated reader, the same virtual card and the same private pcscd setup,
profile by profile, in one run.  See doc/benchmarks.md for what each number
means.

For each profile and driver (a fresh emulator + pcscd, only the driver
differs):
  * APDU round trip, timed in C around SCardTransmit: READ BINARY 256 B
    (1000 ×) and SELECT of the JPKI AP (300 ×): median and p99;
  * USB transfers per APDU (emulator counters over the timed APDUs only);
  * full auth-certificate read (SELECT AP, SELECT EF, header, body): short-Le
    chunks and one extended-Le READ BINARY where the reader takes it;
  * card insertion (emulator `insert`) → SCardGetStatusChange reports the
    card present, and removal → empty: 20 repetitions;
  * CPU seconds of pcscd + emulator while a client waits 5 s for events.

Environment: ONSHI_BENCH_PROFILES (comma-separated, default
tpdu-t1,short-apdu,extended-apdu,pinpad; multi-slot also works),
ONSHI_BENCH_QUICK=1 (fewer repetitions, for trying the script),
ONSHI_BENCH_OUT (JSON results file).
"""
import os
import shutil
import sys

sys.dont_write_bytecode = True  # the source tree may be read-only (distcheck)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402
from benchlib import NotAvailable, TestEnv, EnvError  # noqa: E402

JPKI_AID = "D392F000260100000001"
SELECT_JPKI = "00A4040C0A" + JPKI_AID
SELECT_AUTH_CERT = "00A4020C02000A"
READ_256 = "00B0000000"          # READ BINARY offset 0, Le 00 (256 bytes)
QUICK = os.environ.get("ONSHI_BENCH_QUICK") == "1"
N_READ = 100 if QUICK else 1000
N_SELECT = 50 if QUICK else 300
N_CERT = 5 if QUICK else 20
N_EVENTS = 5 if QUICK else 20
IDLE_S = 2 if QUICK else 5
DRIVERS = (benchlib.LIBCCID, benchlib.ONSHI)


def profiles():
    text = os.environ.get("ONSHI_BENCH_PROFILES") or "tpdu-t1,short-apdu,extended-apdu,pinpad"
    return [p.strip() for p in text.split(",") if p.strip()]


def attempt(fn):
    """fn() or {"error": why} when the measurement is not possible."""
    try:
        return fn()
    except NotAvailable as e:
        return {"error": str(e)}


def rtt(env, apdu, count, expect_len, setup):
    args = ["--count", count, "--warmup", 20, "--expect-len", expect_len]
    for s in setup:
        args += ["--setup", s]
    res = benchlib.run_client(env, *(args + ["rtt", apdu]))
    return {"median_ms": res["rtt_median_us"] / 1e3, "p99_ms": res["rtt_p99_us"] / 1e3,
            "min_ms": res["rtt_min_us"] / 1e3, "samples": res["rtt_samples"],
            "usb_transfers_per_apdu": benchlib.usb_transfers(res) / res["apdus"],
            "emu_apdus_per_apdu": res["emu_apdus"] / res["apdus"], "raw": res}


def cert_read(env, extended):
    res = benchlib.run_client(env, "--count", N_CERT, "read-cert",
                              *(["--extended-le"] if extended else []))
    return {"median_ms": res["read_median_us"] / 1e3, "p99_ms": res["read_p99_us"] / 1e3,
            "samples": res["read_samples"], "cert_bytes": res["cert_bytes"],
            "apdus_per_read": res["apdus_per_read"],
            "usb_transfers_per_read": benchlib.usb_transfers(res) / res["reads"], "raw": res}


def events(env):
    res = benchlib.run_client(env, "--count", N_EVENTS, "--timeout", 15000, "insert-latency")
    return {"insert_median_ms": res["insert_median_us"] / 1e3,
            "insert_p99_ms": res["insert_p99_us"] / 1e3,
            "remove_median_ms": res["remove_median_us"] / 1e3,
            "remove_p99_ms": res["remove_p99_us"] / 1e3, "samples": res["insert_samples"]}


def idle_cpu(env):
    pids = env.pids()
    watched = [pids[k] for k in ("pcscd", "emu") if k in pids]
    before = benchlib.proc_cpu(watched)
    res = benchlib.run_client(env, "idle", "--seconds", IDLE_S, timeout=IDLE_S + 30)
    after = benchlib.proc_cpu(watched)
    return {"seconds": IDLE_S, "cpu_s": round(after - before, 3),
            "state_changes": res["state_changes"]}


def measure(profile, driver, card):
    try:
        drv = benchlib.driver_arg(driver)
    except NotAvailable as e:
        return {"available": False, "why": str(e)}
    try:
        with TestEnv(profile=profile, card="vcard:" + card, driver=drv) as env:
            env.wait_readers(1, at_least=True)
            r = env.probe("--timeout", 20000, "wait-card", timeout=40)
            if r.returncode != 0:
                env.failed = True
                return {"available": False,
                        "why": "card never usable: " + (r.stderr.strip() or r.stdout.strip())[-200:]}
            out = {"available": True}
            out["read256"] = attempt(lambda: rtt(env, READ_256, N_READ, 256,
                                                 [SELECT_JPKI, SELECT_AUTH_CERT]))
            out["select"] = attempt(lambda: rtt(env, SELECT_JPKI, N_SELECT, 0, []))
            out["cert_short"] = attempt(lambda: cert_read(env, False))
            out["cert_extended"] = attempt(lambda: cert_read(env, True))
            out["events"] = attempt(lambda: events(env))
            out["idle"] = attempt(lambda: idle_cpu(env))
            return out
    except EnvError as e:
        return {"available": False, "why": "environment failed: %s" % str(e).splitlines()[0]}


def cell(side, key, fmt):
    if not side.get("available"):
        return "not available (below)"
    m = side.get(key) or {}
    if "error" in m:
        return "n/a: " + m["error"]
    return fmt(m)


def table(profile, sides):
    ms2 = lambda m, a, b: benchlib.fmt_ms(m[a], m[b])  # noqa: E731
    rows = [
        ("READ BINARY 256 B rtt median/p99 (%d)" % N_READ,
         "read256", lambda m: ms2(m, "median_ms", "p99_ms")),
        ("  USB transfers per APDU", "read256",
         lambda m: "%.2f" % m["usb_transfers_per_apdu"]),
        ("SELECT AP rtt median/p99 (%d)" % N_SELECT,
         "select", lambda m: ms2(m, "median_ms", "p99_ms")),
        ("  USB transfers per APDU", "select",
         lambda m: "%.2f" % m["usb_transfers_per_apdu"]),
        ("auth cert, short Le: median/p99 (%d)" % N_CERT,
         "cert_short", lambda m: ms2(m, "median_ms", "p99_ms")),
        ("  APDUs / USB transfers per read", "cert_short",
         lambda m: "%d / %.1f (%d B)" % (m["apdus_per_read"], m["usb_transfers_per_read"],
                                         m["cert_bytes"])),
        ("auth cert, extended Le: median/p99", "cert_extended",
         lambda m: ms2(m, "median_ms", "p99_ms")),
        ("  APDUs / USB transfers per read", "cert_extended",
         lambda m: "%d / %.1f" % (m["apdus_per_read"], m["usb_transfers_per_read"])),
        ("insert -> PRESENT median/p99 (%d)" % N_EVENTS, "events",
         lambda m: ms2(m, "insert_median_ms", "insert_p99_ms")),
        ("remove -> EMPTY median/p99 (%d)" % N_EVENTS, "events",
         lambda m: ms2(m, "remove_median_ms", "remove_p99_ms")),
        ("CPU pcscd+emu, %d s waiting" % IDLE_S, "idle",
         lambda m: "%.2f s (%d events)" % (m["cpu_s"], m["state_changes"])),
    ]
    body = [(label, [cell(sides[d], key, fmt) for d in DRIVERS]) for label, key, fmt in rows]
    benchlib.print_table("profile %s" % profile, list(DRIVERS), body)
    for d in DRIVERS:
        if not sides[d].get("available"):
            print("%s: not available: %s\n" % (d, sides[d].get("why", "?")))


def main():
    try:
        benchlib.require([benchlib.onshi_testenv.emu_path(), benchlib.bench_client_path(),
                          benchlib.onshi_testenv.probe_path()])
    except NotAvailable as e:
        print("bench-driver: not available: %s" % e)
        benchlib.save_results("driver", {"available": False, "why": str(e)})
        return 0
    work = benchlib.workdir()
    results = {"profiles": {}, "repetitions": {
        "read256": N_READ, "select": N_SELECT, "cert": N_CERT, "events": N_EVENTS,
        "idle_s": IDLE_S}}
    try:
        card = benchlib.make_card(work)
        for profile in profiles():
            sides = {}
            for driver in DRIVERS:
                sides[driver] = measure(profile, driver, card)
            results["profiles"][profile] = sides
            table(profile, sides)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    benchlib.save_results("driver", results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
