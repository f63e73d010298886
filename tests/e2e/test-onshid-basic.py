#!/usr/bin/python3
"""onshid through a real D-Bus client (Gio) on a private bus, with a private
pcscd, libccid and the emulated tpdu-t1 reader holding the virtual card:
reader discovery and properties, card events with PropertiesChanged,
certificates byte-equal to the card directory, PIN status, Authenticate and
Sign through a test agent (signatures verified with openssl), wrong PIN and
the refused last try (card counter unchanged), argument validation, and no
PIN in the daemon's or pcscd's log."""
import os
import shutil
import subprocess
import sys

sys.dont_write_bytecode = True  # the source tree may be read-only (distcheck)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2elib  # noqa: E402
from e2elib import TestEnv, EnvError  # noqa: E402

try:
    import onshid_client as oc  # noqa: E402
    from gi.repository import GLib  # noqa: E402
except ImportError:
    print("SKIP: python3-gi is not installed")
    sys.exit(e2elib.SKIP)

PIN = "7391"
WRONG = "5820"
SIGN_PW = "ZQ7XK2PW"


def V(sig, *args):
    return GLib.Variant(sig, tuple(args))


def expect_error(rep, what, fn, name, text=None):
    try:
        fn()
    except oc.DBusFailure as e:
        ok = e.name == name and (text is None or text in e.message)
        return rep.check(what, ok, "got %s: %s" % (e.name, e.message))
    return rep.check(what, False, "no error (want %s)" % name)


def openssl_serial(der_path):
    out = subprocess.run([e2elib.openssl(), "x509", "-inform", "DER", "-in", der_path,
                          "-noout", "-serial"], stdout=subprocess.PIPE, text=True).stdout
    return out.strip().split("=", 1)[1]


def check_signature(rep, what, cert_der, data, sig, work):
    cert = os.path.join(work, "cert.der")
    dpath = os.path.join(work, "data.bin")
    spath = os.path.join(work, "sig.bin")
    for p, b in ((cert, cert_der), (dpath, data), (spath, sig)):
        with open(p, "wb") as f:
            f.write(bytes(b))
    ok, out = e2elib.verify_signature(cert, dpath, spath, work)
    rep.check(what, ok, out)


def props_changed(c, path, name, value):
    return lambda: any(s[0] == path and s[2] == "PropertiesChanged" and
                       s[3][1].get(name) == value for s in c.signals)


def run(rep, env, card, work):
    c = oc.Client(env.dbus_address)
    c.subscribe()
    # --trace-apdu: the PIN check of the log below then also covers the
    # APDU trace, where VERIFY must appear cut to its header.
    d = oc.Daemon(env, "--trace-apdu")
    try:
        rep.check("ReaderAdded signal", c.wait_for(
            lambda: any(s[2] == "ReaderAdded" for s in c.signals), 20), str(c.signals))
        readers = c.readers()
        rep.check("ListReaders gives one reader", len(readers) == 1, str(readers))
        r = readers[0]
        rep.check("reader path", r == "/org/onshi/Onshi1/reader/0", r)
        rep.check("Version property", c.prop("/org/onshi/Onshi1", "Version",
                                              oc.MANAGER_IFACE) != "")
        rep.check("CardType becomes mynumber", c.wait_for(lambda: c.prop(r, "CardType") == "mynumber"))
        rep.check("Name is the PC/SC name", "ACR39U" in c.prop(r, "Name"), c.prop(r, "Name"))
        rep.check("CardPresent true", c.prop(r, "CardPresent") is True)
        rep.check("Atr is the card's contact ATR", bytes(c.prop(r, "Atr")).hex().upper() ==
                  "3BDA13FF8131FB468012392F31C173C601C03B", bytes(c.prop(r, "Atr")).hex())
        rep.check("Contactless false (contact reader, contact ATR)", c.prop(r, "Contactless") is False)
        rep.check("PinPad false on tpdu-t1", c.prop(r, "PinPad") is False)

        # certificates
        for which, fname in (("auth", "auth.der"), ("auth-ca", "auth-ca.der"),
                             ("sign-ca", "sign-ca.der")):
            der, info = c.call(r, oc.READER_IFACE, "ReadCertificate", V("(s)", which))
            rep.check("ReadCertificate(%s) byte-equal to %s" % (which, fname),
                      bytes(der) == e2elib.read_bytes(os.path.join(card, fname)))
            rep.check("ReadCertificate(%s) chain-valid" % which, info.get("chain-valid") is True, str(info))
        der, info = c.call(r, oc.READER_IFACE, "ReadCertificate", V("(s)", "auth"))
        rep.check("auth info: serial as openssl prints it",
                  info["serial"] == openssl_serial(os.path.join(card, "auth.der")), str(info))
        rep.check("auth info: subject", info["subject"] == "C=JP,CN=JPKITESTAUTH00000001", info["subject"])
        rep.check("auth info: issuer", "JPKI for user authentication" in info["issuer"], info["issuer"])
        rep.check("auth info: validity and key bits", info["not-before"] < info["not-after"] and
                  info["key-bits"] == 2048, str(info))

        # PIN status
        st = c.call(r, oc.READER_IFACE, "GetPinStatus")[0]
        rep.check("GetPinStatus auth 3 sign 5 card-info 3 (root caller)",
                  st == {"auth": 3, "sign": 5, "card-info": 3}, str(st))

        # no agent yet
        expect_error(rep, "Authenticate without an agent: NoAgent",
                     lambda: c.call(r, oc.READER_IFACE, "Authenticate", V("(saya{sv})", "pin", b"x", {})),
                     oc.ERR + "NoAgent")

        # the right PIN
        agent = oc.AgentProc(env, "--pin", PIN)
        challenge = b"onshi challenge \x00\x01\x02 " * 3
        res = c.call(r, oc.READER_IFACE, "Authenticate", V("(saya{sv})", "pin", challenge, {}))[0]
        ev = agent.wait_event("RequestPin", 5)
        rep.check("agent asked RequestPin(reader, auth, 3)",
                  ev is not None and ev["args"] == [r, "auth", 3], str(ev))
        rep.check("Authenticate result keys", {"mode", "certificate", "serial", "subject", "issuer",
                                               "not-before", "not-after", "chain-valid",
                                               "signature"} <= set(res), str(sorted(res)))
        rep.check("Authenticate mode pin, certificate = auth.der",
                  res["mode"] == "pin" and bytes(res["certificate"]) ==
                  e2elib.read_bytes(os.path.join(card, "auth.der")))
        check_signature(rep, "Authenticate signature (SHA-256 of the challenge) verifies",
                        res["certificate"], challenge, res["signature"], work)

        # Sign with the auth key
        import hashlib
        digest = hashlib.sha256(b"document").digest()
        sig = c.call(r, oc.READER_IFACE, "Sign", V("(ssay)", "auth", "sha256", digest))[0]
        check_signature(rep, "Sign(auth, sha256) verifies", res["certificate"], b"document", sig, work)
        agent.stop()

        # wrong PIN, twice, then the refused last try
        bad = oc.AgentProc(env, "--pin", WRONG)
        expect_error(rep, "wrong PIN: PinIncorrect with 2 tries left",
                     lambda: c.call(r, oc.READER_IFACE, "Authenticate", V("(saya{sv})", "pin", b"x", {})),
                     oc.ERR + "PinIncorrect", "2 tries left")
        expect_error(rep, "wrong PIN again: PinIncorrect with 1 try left",
                     lambda: c.call(r, oc.READER_IFACE, "Sign", V("(ssay)", "auth", "sha256", digest)),
                     oc.ERR + "PinIncorrect", "1 try left")
        n_before = len([e for e in bad.events if e["call"] == "RequestPin"]) + 0
        bad.wait_event("RequestPin", 2)
        bad.wait_event("RequestPin", 2)
        expect_error(rep, "one try left: LastTryRefused",
                     lambda: c.call(r, oc.READER_IFACE, "Authenticate", V("(saya{sv})", "pin", b"x", {})),
                     oc.ERR + "LastTryRefused")
        rep.check("LastTryRefused: the agent was not asked",
                  bad.wait_event("RequestPin", 1) is None, str(bad.events[n_before:]))
        st = c.call(r, oc.READER_IFACE, "GetPinStatus")[0]
        rep.check("LastTryRefused: card counter still 1", st.get("auth") == 1, str(st))
        bad.stop()
        good = oc.AgentProc(env, "--pin", PIN)
        res = c.call(r, oc.READER_IFACE, "Authenticate",
                     V("(saya{sv})", "pin", b"y", {"allow-last-try": GLib.Variant("b", True)}))[0]
        ev = good.wait_event("RequestPin", 5)
        rep.check("allow-last-try: agent told tries_left 1", ev is not None and ev["args"][2] == 1, str(ev))
        st = c.call(r, oc.READER_IFACE, "GetPinStatus")[0]
        rep.check("allow-last-try with the right PIN: counter back to 3", st.get("auth") == 3, str(st))

        # malformed arguments
        ia = oc.INVALID_ARGS
        expect_error(rep, "ReadCertificate('foo'): InvalidArgs",
                     lambda: c.call(r, oc.READER_IFACE, "ReadCertificate", V("(s)", "foo")), ia)
        expect_error(rep, "Sign with a 1 MiB digest: InvalidArgs",
                     lambda: c.call(r, oc.READER_IFACE, "Sign",
                                    V("(ssay)", "auth", "sha256", b"\0" * (1 << 20))), ia)
        expect_error(rep, "Sign sha384 with a 32-byte digest: InvalidArgs",
                     lambda: c.call(r, oc.READER_IFACE, "Sign", V("(ssay)", "auth", "sha384", digest)), ia)
        expect_error(rep, "Sign with key 'card-info': InvalidArgs",
                     lambda: c.call(r, oc.READER_IFACE, "Sign", V("(ssay)", "card-info", "sha256", digest)), ia)
        expect_error(rep, "Sign with hash 'md5': InvalidArgs",
                     lambda: c.call(r, oc.READER_IFACE, "Sign", V("(ssay)", "auth", "md5", digest)), ia)
        expect_error(rep, "Authenticate mode 'bogus': InvalidArgs",
                     lambda: c.call(r, oc.READER_IFACE, "Authenticate", V("(saya{sv})", "bogus", b"x", {})), ia)
        expect_error(rep, "Authenticate mode 'face': InvalidArgs (reserved)",
                     lambda: c.call(r, oc.READER_IFACE, "Authenticate", V("(saya{sv})", "face", b"x", {})),
                     ia, "reserved")
        expect_error(rep, "Authenticate with an empty challenge: InvalidArgs",
                     lambda: c.call(r, oc.READER_IFACE, "Authenticate", V("(saya{sv})", "pin", b"", {})), ia)
        expect_error(rep, "Authenticate with an unknown option: InvalidArgs",
                     lambda: c.call(r, oc.READER_IFACE, "Authenticate",
                                    V("(saya{sv})", "pin", b"x", {"bogus": GLib.Variant("b", True)})), ia)
        expect_error(rep, "RegisterAgent with an unknown capability: InvalidArgs",
                     lambda: c.call("/org/onshi/Onshi1", oc.MANAGER_IFACE, "RegisterAgent",
                                    V("(oas)", "/x", ["telepathy"])), ia)
        st = c.call(r, oc.READER_IFACE, "GetPinStatus")[0]
        rep.check("after the bad calls: no try consumed", st == {"auth": 3, "sign": 5, "card-info": 3}, str(st))

        # card events
        c.signals.clear()
        rep.check("control: remove", env.control("remove").startswith("ok"))
        rep.check("remove: PropertiesChanged CardPresent false",
                  c.wait_for(props_changed(c, r, "CardPresent", False), 15), str(c.signals))
        rep.check("remove: CardType '' and Atr empty",
                  c.prop(r, "CardType") == "" and len(c.prop(r, "Atr")) == 0)
        expect_error(rep, "no card: ReadCertificate gives NoCard",
                     lambda: c.call(r, oc.READER_IFACE, "ReadCertificate", V("(s)", "auth")),
                     oc.ERR + "NoCard")
        rep.check("control: insert", env.control("insert").startswith("ok"))
        rep.check("insert: PropertiesChanged CardType mynumber",
                  c.wait_for(props_changed(c, r, "CardType", "mynumber"), 15), str(c.signals))
        der, info = c.call(r, oc.READER_IFACE, "ReadCertificate", V("(s)", "auth"))
        rep.check("after re-insertion: certificate byte-equal",
                  bytes(der) == e2elib.read_bytes(os.path.join(card, "auth.der")))
        good.stop()

        # reader unplug / replug
        c.signals.clear()
        rep.check("control: unplug", env.control("unplug").startswith("ok"))
        rep.check("unplug: ReaderRemoved", c.wait_for(
            lambda: any(s[2] == "ReaderRemoved" and s[3] == (r,) for s in c.signals), 20), str(c.signals))
        rep.check("unplug: ListReaders empty", c.readers() == [])
        rep.check("control: replug", env.control("replug").startswith("ok"))
        rep.check("replug: ReaderAdded with a new path", c.wait_for(
            lambda: any(s[2] == "ReaderAdded" for s in c.signals), 20), str(c.signals))
        readers = c.readers()
        rep.check("replug: one reader, numbered anew", readers == ["/org/onshi/Onshi1/reader/1"], str(readers))
    finally:
        status = d.stop()
        c.close()
    rep.check("onshid exits 0 on SIGTERM", status == 0, "status %s" % status)
    log = d.log_text()
    rep.check("daemon log holds no PIN",
              not e2elib.secret_in_text(log, PIN) and not e2elib.secret_in_text(log, WRONG),
              log[-1500:])
    rep.check("APDU trace present, VERIFY with data shown redacted",
              "> 00200080 (redacted)" in log and "> 0020008004" not in log, log[-1500:])
    return log


def pins_absent_from(path, pins):
    """No line of the log holds a PIN as bytes: a 4-digit PIN is looked for
    after the VERIFY header (00 20 00 80 04), since 4 ASCII digits also occur
    in certificate dates; longer passwords anywhere."""
    with open(path, "rb") as f:
        lines = f.read().decode("latin-1").upper().splitlines()
    for line in lines:
        flat = line.replace(" ", "")
        for p in pins:
            h = p.encode().hex().upper()
            if (len(p) > 4 and h in flat) or ("0020008004" + h) in flat or p in line.split():
                return False
    return True


def onshi_bundle():
    return os.path.join(e2elib.onshi_testenv.top_builddir(), "driver", "ifd-onshi.bundle")


class DriverReport:
    """Names the driver in every check of one run."""

    def __init__(self, rep, driver):
        self.rep, self.driver = rep, driver

    def check(self, what, ok, detail=""):
        return self.rep.check("[%s] %s" % (self.driver, what), ok, detail)

    def run_result(self, what, result, want_rc=0, want_out=None):
        return self.rep.run_result("[%s] %s" % (self.driver, what), result, want_rc, want_out)


def main():
    e2elib.require_built(e2elib.emu_path(), e2elib.probe_path(), oc.onshid_path())
    e2elib.require_file(e2elib.mkcard_path(),
                        os.path.join(onshi_bundle(), "Contents", "Linux", "libifd-onshi.so"))
    rep = e2elib.Report("test-onshid-basic")
    if oc.ensure_groups("onshi", "onshi-personal") is None:
        print("SKIP: groups onshi/onshi-personal missing and not root")
        return e2elib.SKIP
    work = e2elib.workdir()
    try:
        card = e2elib.make_card(work, "card", "--auth-pin", PIN, "--sign-pw", SIGN_PW)
        policy = oc.write_policy(work)
        # The whole run on Debian's libccid, then on our driver (ifd-onshi
        # from the build tree): onshid must not care which driver pcscd uses.
        for driver in ("libccid", onshi_bundle()):
            name = "libccid" if driver == "libccid" else "ifd-onshi"
            print("== driver %s" % name, flush=True)
            drep = DriverReport(rep, name)
            # pcscd without --apdu: its own APDU dump would hold the PIN typed
            # on the host (that is pcscd's behaviour, not ours), and this run
            # proves no log of the whole stack holds a PIN.
            with TestEnv(profile="tpdu-t1", card="vcard:" + card, dbus_policy_files=[policy],
                         apdu_log=False, driver=driver) as env:
                rep.attach(env)  # a failed check keeps and shows the logs
                env.wait_readers(1)
                run(drep, env, card, work)
                drep.check("pcscd log holds no PIN or sign password",
                           pins_absent_from(env.pcscd_log, [PIN, WRONG, SIGN_PW]))
    except (EnvError, RuntimeError, oc.DBusFailure) as e:
        rep.check("environment", False, str(e))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return rep.finish()


if __name__ == "__main__":
    sys.exit(main())
