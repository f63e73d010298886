"""benchlib — what the `make bench` scripts share: paths of the built tools,
the precise PC/SC timing client (tests/tools/onshi-pcsc-bench), process
CPU and memory from /proc, side-by-side tables and the JSON results file.

Benchmarks never fail on numbers: they measure and print.  A side that is
not built yet is reported as "not available: <why>", never estimated.
Python 3 standard library only (Debian's /usr/bin/python3).
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "harness"))

import onshi_testenv  # noqa: E402
from onshi_testenv import TestEnv, EnvError, cpu_seconds  # noqa: E402,F401

LIBCCID = "libccid"
ONSHI = "onshi"


class NotAvailable(Exception):
    """A side of a comparison that cannot be measured; the text says why."""


def srcdir():
    return onshi_testenv.top_srcdir()


def build_path(rel):
    return onshi_testenv.build_path(rel)


def bench_client_path():
    return os.environ.get("ONSHI_PCSC_BENCH") or build_path("tests/tools/onshi-pcsc-bench")


def mkcard_path():
    return os.path.join(srcdir(), "tests", "vcard", "mkcard.sh")


def onshi_bundle():
    """The build-tree driver bundle, or raise NotAvailable with the reason."""
    bundle = build_path("driver/ifd-onshi.bundle")
    so = os.path.join(bundle, "Contents", "Linux", "libifd-onshi.so")
    if not os.path.isfile(os.path.join(bundle, "Contents", "Info.plist")):
        raise NotAvailable("driver bundle not built (%s)" % bundle)
    if not os.path.isfile(so):  # isfile follows the build-tree symlink
        raise NotAvailable("driver library not built yet (%s)" % so)
    return bundle


def driver_arg(name):
    return LIBCCID if name == LIBCCID else onshi_bundle()


def require(paths):
    """Raises NotAvailable naming the first missing program."""
    for p in paths:
        if not os.access(p, os.X_OK):
            raise NotAvailable("%s is not built" % p)


def workdir(prefix="bench"):
    base = os.environ.get("ONSHI_TEST_TMPDIR") or "/tmp"
    return tempfile.mkdtemp(prefix=prefix, dir=base if len(base) <= 40 else "/tmp")


def make_card(parent, name="card"):
    d = os.path.join(parent, name)
    subprocess.run(["sh", mkcard_path(), d], check=True, stdout=subprocess.DEVNULL,
                   timeout=120)
    return d


def card_conf(carddir):
    conf = {}
    with open(os.path.join(carddir, "card.conf")) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                k, v = line.split("=", 1)
                conf[k.strip()] = v.strip()
    return conf


def run_client(env, *args, timeout=120):
    """Runs onshi-pcsc-bench in env with its control socket; returns the
    key=value output as a dict (numbers converted), or raises
    NotAvailable with the client's error text."""
    cmd = [bench_client_path(), "--control", env.control_sock] + [str(a) for a in args]
    try:
        r = subprocess.run(cmd, env=env.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise NotAvailable("onshi-pcsc-bench %s hung for %d s" % (args[-1], timeout)) from None
    if r.returncode != 0:
        err = (r.stderr.strip().splitlines() or ["exit %d" % r.returncode])[-1]
        raise NotAvailable(err.replace("onshi-pcsc-bench: ", ""))
    out = {}
    for line in r.stdout.splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            try:
                out[k] = int(v)
            except ValueError:
                try:
                    out[k] = float(v)
                except ValueError:
                    out[k] = v
    return out


def usb_transfers(res):
    """USB transfers the emulator counted (bulk + interrupt + control)."""
    return sum(res.get(k, 0) for k in ("usb_bulk_out", "usb_bulk_in", "usb_intr_in",
                                       "usb_control"))


def proc_cpu(pids):
    return sum(cpu_seconds(p) for p in pids)


def proc_mem_kib(pid):
    """VmRSS and VmHWM of a process in KiB, from /proc/PID/status."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key = line.split(":", 1)[0]
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(line.split()[1])
    return out


def summary_ms(samples_s):
    """median, p99 (nearest rank), min, max of samples in seconds → ms."""
    s = sorted(samples_s)
    if not s:
        return {}
    rank = max(1, -(-99 * len(s) // 100))
    return {"samples": len(s), "median_ms": round(statistics.median(s) * 1e3, 3),
            "p99_ms": round(s[rank - 1] * 1e3, 3), "min_ms": round(s[0] * 1e3, 3),
            "max_ms": round(s[-1] * 1e3, 3)}


def fmt_ms(median, p99=None):
    if p99 is None:
        return "%.2f ms" % median
    return "%.2f / %.2f ms" % (median, p99)


def print_table(title, columns, rows, out=sys.stdout):
    """rows: (label, [cell per column]); cells are strings."""
    width0 = max([len(title)] + [len(r[0]) for r in rows])
    widths = [max([len(c)] + [len(r[1][i]) for r in rows]) for i, c in enumerate(columns)]
    line = "%-*s" % (width0, title) + "".join(" | %-*s" % (w, c) for w, c in zip(widths, columns))
    out.write(line + "\n" + "-" * len(line) + "\n")
    for label, cells in rows:
        out.write("%-*s" % (width0, label) +
                  "".join(" | %-*s" % (w, c) for w, c in zip(widths, cells)) + "\n")
    out.write("\n")
    out.flush()


def results_path():
    return os.environ.get("ONSHI_BENCH_OUT") or os.path.abspath("bench-results.json")


def save_results(section, data):
    """Merges {section: data} into the JSON results file (other sections,
    e.g. the other benchmark script's, are kept)."""
    path = results_path()
    try:
        with open(path) as f:
            doc = json.load(f)
        if not isinstance(doc, dict):
            doc = {}
    except (OSError, ValueError):
        doc = {}
    data = dict(data)
    data["when"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    data["machine"] = {"nproc": os.cpu_count(), "loadavg": os.getloadavg()[0],
                       "uname": " ".join(os.uname()[2:5:2])}
    doc[section] = data
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(tmp, path)
    print("results: %s (section \"%s\")" % (path, section))
