#!/usr/bin/python3
"""onshi's driver opened through the legacy IFDHCreateChannel.

pcscd calls IFDHCreateChannel (not ...ByName) for a reader.conf entry that
has a CHANNELID and no DEVICENAME.  A channel number cannot name a USB
device, so the driver takes the first reader of its Info.plist list that no
other Lun drives.  The bundle drop dir is left empty, so hotplug adds
nothing: every reader pcscd shows comes from reader.conf.

Checked: the entry's reader appears under its FRIENDLYNAME and reads the
certificate; a second entry finds no free reader (the only one is taken),
fails cleanly and pcscd stays up with exactly one reader."""
import os
import shutil
import sys

sys.dont_write_bytecode = True  # the source tree may be read-only (distcheck)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2elib  # noqa: E402
from e2elib import TestEnv, EnvError  # noqa: E402

DRIVER_SO = os.path.join("driver", "ifd-onshi.bundle", "Contents", "Linux", "libifd-onshi.so")


def main():
    so = os.path.join(e2elib.onshi_testenv.top_builddir(), DRIVER_SO)
    e2elib.require_built(e2elib.emu_path(), e2elib.probe_path(), so)
    e2elib.require_file(e2elib.mkcard_path())
    rep = e2elib.Report("test-onshi-driver-channel")
    work = e2elib.workdir()
    try:
        card = e2elib.make_card(work, "card")
        entries = [
            [("FRIENDLYNAME", "Legacy Channel A"), ("LIBPATH", so), ("CHANNELID", "0")],
            [("FRIENDLYNAME", "Legacy Channel B"), ("LIBPATH", so), ("CHANNELID", "1")],
        ]
        with TestEnv(profile="tpdu-t1", card="vcard:" + card, driver=(),
                     reader_conf=entries, apdu_log=False) as env:
            rep.attach(env)
            env.wait_readers(1)
            r = env.probe("list")
            rep.run_result("one reader, named by its reader.conf entry", r, want_out="readers=1")
            rep.check("the reader is one of the two entries",
                      "Legacy Channel A" in r.stdout or "Legacy Channel B" in r.stdout, r.stdout)
            r = env.probe("--timeout", 20000, "wait-card", timeout=40)
            rep.run_result("card present", r)
            out = os.path.join(work, "auth.der")
            r = env.probe("read-cert", "auth", "--out", out, timeout=60)
            rep.run_result("read-cert auth through the channel-opened reader", r)
            rep.check("certificate byte-equal", os.path.exists(out) and
                      e2elib.read_bytes(out) == e2elib.read_bytes(os.path.join(card, "auth.der")))
            with open(env.pcscd_log, "rb") as f:
                log = f.read().decode("utf-8", "replace")
            rep.check("driver log: the first entry took the first free reader",
                      "first free reader is usb:072f/b100:libusb-1.0:" in log)
            rep.check("driver log: the other entry found no free reader",
                      "no free reader of this driver's list on the bus" in log)
            rep.check("pcscd alive", "pcscd" in env.pids())
            r = env.probe("list")
            rep.run_result("still exactly one reader", r, want_out="readers=1")
    except EnvError as e:
        rep.check("environment", False, str(e))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return rep.finish()


if __name__ == "__main__":
    sys.exit(main())
