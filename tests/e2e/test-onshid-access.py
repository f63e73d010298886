#!/usr/bin/python3
"""onshid access control, with test clients running under other uids/gids
(subprocess user/group/extra_groups): a caller outside group onshi is
refused by the bus policy (modelled on dbus/org.onshi.Onshi1.conf); a member
of onshi but not onshi-personal gets NotAuthorized for the signature
certificate and key and no card-info counter; a member of both reads the
signature certificate and signs with the signature password, which its own
agent (same uid) supplies in lower case; agents are routed by uid; only
root may set the default agent."""
import hashlib
import os
import shutil
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2elib  # noqa: E402
from e2elib import TestEnv, EnvError  # noqa: E402

try:
    import onshid_client as oc  # noqa: E402
except ImportError:
    print("SKIP: python3-gi is not installed")
    sys.exit(e2elib.SKIP)

SIGN_PW = "ZQ7XK2PW"
USERS = (("onshitest-out", 64101, ()), ("onshitest-member", 64102, ("onshi",)),
         ("onshitest-personal", 64103, ("onshi", "onshi-personal")))
R = "/org/onshi/Onshi1/reader/0"


def run(rep, env, card, work, gids, uids):
    OUTSIDER, MEMBER, PERSONAL = uids
    os.chmod(env.dir, 0o755)  # the bus socket lives there; other uids connect
    # --trace-apdu: the checks of the log below then also cover the APDU
    # trace, where the sign certificate's bytes must be redacted.
    d = oc.Daemon(env, "--personal-group", "onshi-personal", "--trace-apdu")
    agent = None
    try:
        c = oc.Client(env.dbus_address)
        rep.check("reader and card type ready",
                  c.wait_for(lambda: c.readers() == [R] and c.prop(R, "CardType") == "mynumber", 20))

        def call(uid, groups, path, iface, method, args=(), sig=""):
            return oc.call_as(env, path, iface, method, list(args), sig, user=uid,
                              group=gids["nogroup"], extra_groups=groups)

        member_groups = [gids["onshi"]]
        personal_groups = [gids["onshi"], gids["onshi-personal"]]

        res = call(OUTSIDER, [], "/org/onshi/Onshi1", oc.MANAGER_IFACE, "ListReaders")
        rep.check("outside group onshi: the bus refuses (AccessDenied)",
                  res[0] == "org.freedesktop.DBus.Error.AccessDenied", str(res))
        res = call(OUTSIDER, [], R, oc.READER_IFACE, "ReadCertificate", ["auth"], "s")
        rep.check("outside group onshi: ReadCertificate refused by the bus",
                  res[0] == "org.freedesktop.DBus.Error.AccessDenied", str(res))

        res = call(MEMBER, member_groups, "/org/onshi/Onshi1", oc.MANAGER_IFACE, "ListReaders")
        rep.check("group onshi: ListReaders", res == ("ok", [[R]]), str(res))
        res = call(MEMBER, member_groups, R, oc.READER_IFACE, "ReadCertificate", ["auth"], "s")
        rep.check("group onshi: ReadCertificate(auth) byte-equal",
                  res[0] == "ok" and bytes(res[1][0]) == e2elib.read_bytes(os.path.join(card, "auth.der")),
                  str(res)[:300])
        res = call(MEMBER, member_groups, R, oc.READER_IFACE, "ReadCertificate", ["sign"], "s")
        rep.check("group onshi only: ReadCertificate(sign) NotAuthorized",
                  res[0] == oc.ERR + "NotAuthorized", str(res))
        digest = {"bytes": __import__("base64").b64encode(hashlib.sha256(b"x").digest()).decode()}
        res = call(MEMBER, member_groups, R, oc.READER_IFACE, "Sign", ["sign", "sha256", digest], "ssay")
        rep.check("group onshi only: Sign(sign) NotAuthorized", res[0] == oc.ERR + "NotAuthorized", str(res))
        res = call(MEMBER, member_groups, R, oc.READER_IFACE, "GetPinStatus")
        rep.check("group onshi only: GetPinStatus without card-info",
                  res == ("ok", [{"auth": 3, "sign": 5}]), str(res))
        res = call(MEMBER, member_groups, "/org/onshi/Onshi1", oc.MANAGER_IFACE, "RequestDefaultAgent",
                   ["/test/agent"], "o")
        rep.check("non-root: RequestDefaultAgent NotAuthorized", res[0] == oc.ERR + "NotAuthorized", str(res))

        # The personal user's agent answers with the password in lower case.
        agent = oc.AgentProc(env, "--pin", SIGN_PW.lower(), "--caps", "pin", user=PERSONAL,
                             group=gids["nogroup"], extra_groups=personal_groups)
        res = call(MEMBER, member_groups, R, oc.READER_IFACE, "Authenticate",
                   ["pin", {"bytes": "eA=="}, {}], "saya{sv}")
        rep.check("another uid's agent is not used: NoAgent", res[0] == oc.ERR + "NoAgent", str(res))
        res = call(PERSONAL, personal_groups, R, oc.READER_IFACE, "GetPinStatus")
        rep.check("onshi-personal: GetPinStatus with card-info",
                  res == ("ok", [{"auth": 3, "sign": 5, "card-info": 3}]), str(res))
        res = call(PERSONAL, personal_groups, R, oc.READER_IFACE, "ReadCertificate", ["sign"], "s")
        ev = agent.wait_event("RequestPin", 5)
        rep.check("sign cert: the agent of the same uid is asked RequestPin(reader, sign, 5)",
                  ev is not None and ev["args"] == [R, "sign", 5], str(ev))
        rep.check("onshi-personal: ReadCertificate(sign) byte-equal to sign.der (password upper-cased)",
                  res[0] == "ok" and bytes(res[1][0]) == e2elib.read_bytes(os.path.join(card, "sign.der")),
                  str(res)[:300])
        rep.check("sign cert info: chain-valid against sign-ca",
                  res[0] == "ok" and res[1][1].get("chain-valid") is True, str(res)[:300])
        data = b"contract to sign"
        digest = {"bytes": __import__("base64").b64encode(hashlib.sha256(data).digest()).decode()}
        res = call(PERSONAL, personal_groups, R, oc.READER_IFACE, "Sign", ["sign", "sha256", digest], "ssay")
        rep.check("onshi-personal: Sign(sign) answered", res[0] == "ok", str(res)[:300])
        if res[0] == "ok":
            sig = os.path.join(work, "sig.bin")
            dpath = os.path.join(work, "data.bin")
            with open(sig, "wb") as f:
                f.write(bytes(res[1][0]))
            with open(dpath, "wb") as f:
                f.write(data)
            ok, out = e2elib.verify_signature(os.path.join(card, "sign.der"), dpath, sig, work)
            rep.check("Sign(sign) verifies with sign.der", ok, out)
        st = c.call(R, oc.READER_IFACE, "GetPinStatus")[0]
        rep.check("sign password counter still 5", st.get("sign") == 5, str(st))
    finally:
        if agent:
            agent.stop()
        status = d.stop()
    rep.check("onshid exits 0", status == 0, "status %s" % status)
    log = d.log_text()
    rep.check("daemon log holds no password", not e2elib.secret_in_text(log, SIGN_PW), log[-1500:])
    rep.check("daemon log holds no sign-cert subject",
              "onshi test" not in log.lower() or "CN=" not in log, log[-1500:])
    flat = log.upper().replace(" ", "")
    sign_der = e2elib.read_bytes(os.path.join(card, "sign.der"))
    # Bytes the sign certificate shares with the CA certificates (issuer
    # name, algorithm identifiers) are public and may be traced.
    public = b"".join(e2elib.read_bytes(os.path.join(card, f)) + b"|"
                      for f in ("sign-ca.der", "auth-ca.der", "auth.der"))
    leaked = [k for k in range(0, len(sign_der) - 16, 8)
              if sign_der[k:k + 16] not in public and sign_der[k:k + 16].hex().upper() in flat]
    rep.check("APDU trace on, yet no 16 bytes of sign.der in the daemon log",
              "apdu " in log and not leaked, "offsets %s" % leaked[:5])
    rep.check("APDU trace: no sign password bytes",
              SIGN_PW.encode().hex().upper() not in flat and SIGN_PW.lower().encode().hex().upper() not in flat)


def main():
    e2elib.require_built(e2elib.emu_path(), e2elib.probe_path(), oc.onshid_path())
    e2elib.require_file(e2elib.mkcard_path())
    if os.geteuid() != 0:
        print("SKIP: needs root to run clients as other uids")
        return e2elib.SKIP
    gids = oc.ensure_groups("onshi", "onshi-personal", "nogroup")
    uids = [oc.ensure_user(*u) for u in USERS] if gids else [None]
    if gids is None or None in uids:
        print("SKIP: cannot create the test groups/users")
        return e2elib.SKIP
    rep = e2elib.Report("test-onshid-access")
    work = e2elib.workdir()
    try:
        card = e2elib.make_card(work, "card", "--sign-pw", SIGN_PW)
        policy = oc.write_policy(work)
        with TestEnv(profile="tpdu-t1", card="vcard:" + card, dbus_policy_files=[policy]) as env:
            rep.attach(env)  # a failed check keeps and shows the logs
            env.wait_readers(1)
            run(rep, env, card, work, gids, uids)
    except (EnvError, RuntimeError, oc.DBusFailure) as e:
        rep.check("environment", False, str(e))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return rep.finish()


if __name__ == "__main__":
    sys.exit(main())
