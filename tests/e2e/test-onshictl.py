#!/usr/bin/python3
"""onshictl against the real onshid on a private system bus, with the
emulated USB CCID reader, a private pcscd (Debian's libccid) and a virtual
My Number card.

Checks, each on bytes, exit codes or error names:
  * wait-card returns the examined card; readers/status (human and --json)
    show the reader, the card type, the ATR pcscd reports and tries left;
  * cert auth --der (file and stdout) is byte-equal to the card's auth.der,
    cert auth-ca --pem equals openssl's PEM of auth-ca.der, --json carries
    the serial openssl reads and the DER;
  * auth --pin with the PIN piped on stdin: the signature over a DigestInfo
    verifies with openssl against the returned certificate; a random
    challenge is recovered from the signature; the PIN is never printed;
  * on a pseudo-terminal the PIN is read with echo off (the typed digits do
    not come back), and Ctrl-C at the prompt gives exit 9 with echo restored;
  * a 100-character line is refused (AgentFailed, exit 10) and empty input
    cancels (exit 9), neither spending a try;
  * wrong PIN: exit 6, "PinIncorrect: ... 2 tries left"; with one try left
    auth refuses (exit 8, LastTryRefused, no prompt) unless --allow-last-try;
  * sign --key auth/sign --data-file: signatures verify; cert sign (needs the
    signature password through the agent) equals sign.der;
  * no card: cert gives exit 4 NoCard, wait-card --timeout 1 gives exit 15,
    and a wait-card running when the card is inserted returns it;
  * PIN-pad reader: the agent prints the keypad prompt and the PIN typed on
    the emulated keypad signs;
  * wait-card started before onshid waits for it; `onshictl agent` answers
    another program's Authenticate and stops on Ctrl-C;
  * usage errors give exit 2; without onshid on the bus, exit 3.
"""
import hashlib
import json
import os
import pty
import select
import shutil
import signal
import subprocess
import sys
import termios
import time

sys.dont_write_bytecode = True  # the source tree may be read-only (distcheck)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2elib  # noqa: E402
from e2elib import TestEnv, EnvError  # noqa: E402

EX_USAGE, EX_NO_SERVICE, EX_NO_CARD, EX_PIN_INCORRECT = 2, 3, 4, 6
EX_LAST_TRY, EX_CANCELLED, EX_TIMEOUT = 8, 9, 15
READER0 = "/org/onshi/Onshi1/reader/0"
SHA256_PREFIX = bytes.fromhex("3031300d060960864801650304020105000420")


def ctl_path():
    return os.environ.get("ONSHICTL") or os.path.join(
        e2elib.onshi_testenv.top_builddir(), "daemon", "onshictl")


def run(env, *args, stdin=None, timeout=90):
    """onshictl in env; CompletedProcess with bytes stdout and text stderr."""
    r = subprocess.run([ctl_path()] + [str(a) for a in args], env=env.env(),
                       input=stdin.encode() if isinstance(stdin, str) else stdin,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    r.out = r.stdout.decode("utf-8", "replace")
    r.err = r.stderr.decode("utf-8", "replace")
    return r


def check_rc(rep, what, r, want=0, want_err=None, want_out=None):
    ok = (r.returncode == want and (want_err is None or want_err in r.err)
          and (want_out is None or want_out in r.out))
    return rep.check(what, ok, "exit %d (want %d); stdout: %s; stderr: %s"
                     % (r.returncode, want, r.out[-500:], r.err[-500:]))


def parse_json(rep, what, r):
    try:
        obj = json.loads(r.out)
    except ValueError as e:
        rep.check(what + ": JSON parses", False, "%s: %r" % (e, r.out[-300:]))
        return {}
    rep.check(what + ": JSON parses", isinstance(obj, dict), r.out[-300:])
    return obj


def openssl(*args, data=None):
    return subprocess.run([e2elib.openssl()] + list(args), input=data,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def pubkey(work, cert_der):
    pem = os.path.join(work, "pub.pem")
    r = openssl("x509", "-inform", "DER", "-in", cert_der, "-pubkey", "-noout", "-out", pem)
    return pem if r.returncode == 0 else None


def recover(work, cert_der, sig):
    """The PKCS#1 v1.5 payload of sig under cert's key (None if it fails)."""
    pub = pubkey(work, cert_der)
    sig_path = os.path.join(work, "rec.sig")
    with open(sig_path, "wb") as f:
        f.write(sig)
    r = openssl("pkeyutl", "-verifyrecover", "-pubin", "-inkey", pub, "-in", sig_path)
    return r.stdout if r.returncode == 0 else None


def auth_signature_ok(work, cert_der, challenge, sig):
    """The signature is the card's over challenge: either the challenge
    itself is the PKCS#1 v1.5 payload (what org.onshi.Onshi1.xml describes),
    or a SHA-256 DigestInfo of it (what onshid 0.1.0 signs).  Returns
    (ok, which)."""
    rec = recover(work, cert_der, sig)
    if rec is None:
        return False, "signature does not verify with the certificate's key"
    if rec == challenge:
        return True, "payload is the challenge"
    if rec == SHA256_PREFIX + hashlib.sha256(challenge).digest():
        return True, "payload is SHA-256 DigestInfo of the challenge"
    return False, "payload %s matches neither form" % rec.hex()


def wait_present(env, want, timeout=20.0):
    """Until onshid reports CardPresent == want on reader 0 (signal driven:
    the client's main loop wakes on PropertiesChanged)."""
    c = onshid_client.Client(env.dbus_address)
    try:
        c.subscribe()
        return c.wait_for(lambda: bool(c.prop(READER0, "CardPresent")) == want, timeout)
    finally:
        c.close()


def pin_status(env):
    r = run(env, "--json", "pin-status")
    try:
        return json.loads(r.out).get("tries-left", {})
    except ValueError:
        return {}


def on_pty(env, args, typed=None, interrupt=False, timeout=60):
    """onshictl with stdin and stderr on a pseudo-terminal (stdout a pipe).
    Types `typed` after the prompt, or sends SIGINT there.  Returns (exit,
    stdout, terminal text, ECHO flag of the terminal afterwards)."""
    master, slave = pty.openpty()
    p = subprocess.Popen([ctl_path()] + args, env=env.env(), stdin=slave, stdout=subprocess.PIPE,
                         stderr=slave, start_new_session=True)
    screen = b""
    deadline = time.monotonic() + timeout
    acted = False
    out = b""
    try:
        while time.monotonic() < deadline:
            fds = [master, p.stdout.fileno()]
            ready = select.select(fds, [], [], 0.5)[0]
            if master in ready:
                try:
                    screen += os.read(master, 4096)
                except OSError:
                    break
            if p.stdout.fileno() in ready:
                chunk = os.read(p.stdout.fileno(), 65536)
                out += chunk
                if not chunk and p.poll() is not None:
                    break
            if not acted and b"Enter the" in screen:
                acted = True
                # Echo is switched off before the prompt is written.
                time.sleep(0.1)
                if interrupt:
                    os.kill(p.pid, signal.SIGINT)
                else:
                    os.write(master, typed.encode() + b"\r")
            if p.poll() is not None and not ready:
                break
        rc = p.wait(timeout=10)
        out += p.stdout.read()
        echo = bool(termios.tcgetattr(slave)[3] & termios.ECHO)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        p.stdout.close()
        os.close(master)
        os.close(slave)
    return rc, out.decode("utf-8", "replace"), screen.decode("utf-8", "replace"), echo


def test_main_card(rep, env, card, conf, work):
    pin = conf["auth_pin"]
    auth_der = e2elib.read_bytes(os.path.join(card, "auth.der"))

    r = run(env, "wait-card", "--timeout", 30)
    check_rc(rep, "wait-card: card found and examined", r, want_out="card-type: mynumber")

    # readers / status
    atr = env.probe("atr").stdout
    atr_hex = next((l.split("=", 1)[1].strip().lower() for l in atr.splitlines()
                    if l.startswith("ATR=")), None)
    r = run(env, "--json", "readers")
    obj = parse_json(rep, "readers --json", r)
    rd = (obj.get("readers") or [{}])[0]
    rep.check("readers --json: one reader with a My Number card",
              len(obj.get("readers", [])) == 1 and rd.get("card-present") is True
              and rd.get("card-type") == "mynumber" and rd.get("pinpad") is False
              and rd.get("contactless") is False and rd.get("path") == "/org/onshi/Onshi1/reader/0",
              r.out)
    rep.check("readers --json: ATR is the one pcscd reports", atr_hex and rd.get("atr") == atr_hex,
              "%r vs %r" % (rd.get("atr"), atr_hex))
    r = run(env, "readers")
    check_rc(rep, "readers: human listing", r, want_out="  - path: /org/onshi/Onshi1/reader/0\n")
    r = run(env, "--json", "status")
    obj = parse_json(rep, "status --json", r)
    rd = (obj.get("readers") or [{}])[0]
    rep.check("status --json: version and tries left",
              obj.get("version") == "0.1.0" and rd.get("tries-left") ==
              {"auth": 3, "sign": 5, "card-info": 3}, r.out)
    r = run(env, "status")
    check_rc(rep, "status: human", r, want_out="      auth: 3\n")

    # certificates
    out = os.path.join(work, "auth.der")
    r = run(env, "cert", "auth", "--der", "--out", out)
    check_rc(rep, "cert auth --der --out", r)
    rep.check("cert auth --der --out: byte-equal to the card's auth.der",
              os.path.exists(out) and e2elib.read_bytes(out) == auth_der)
    r = run(env, "cert", "auth", "--der")
    rep.check("cert auth --der on stdout: byte-equal", r.returncode == 0 and r.stdout == auth_der)
    r = run(env, "cert", "auth-ca", "--pem")
    want = openssl("x509", "-inform", "DER", "-in", os.path.join(card, "auth-ca.der"),
                   "-outform", "PEM").stdout.decode()
    rep.check("cert auth-ca --pem equals openssl's PEM", r.returncode == 0 and r.out == want,
              r.out[:200] + r.err)
    serial = openssl("x509", "-inform", "DER", "-in", os.path.join(card, "auth.der"), "-noout",
                     "-serial").stdout.decode().strip().split("=", 1)[-1]
    r = run(env, "--json", "cert")
    obj = parse_json(rep, "cert --json", r)
    rep.check("cert --json: serial, key bits, chain-valid, DER",
              obj.get("serial") == serial and obj.get("key-bits") == 2048 and
              obj.get("chain-valid") is True and obj.get("certificate") == auth_der.hex() and
              isinstance(obj.get("not-after"), int), r.out[:300])
    r = run(env, "cert", "sign-ca")
    check_rc(rep, "cert sign-ca: human fields", r, want_out="key-bits: 2048\n")

    # auth with the PIN on stdin, DigestInfo challenge
    data = os.path.join(work, "data.txt")
    digest = bytes.fromhex(e2elib.write_data(data))
    r = run(env, "--json", "auth", "--pin", "--challenge", (SHA256_PREFIX + digest).hex(),
            stdin=pin + "\n")
    check_rc(rep, "auth --pin (PIN on stdin)", r)
    obj = parse_json(rep, "auth --json", r)
    cert = os.path.join(work, "auth-from-auth.der")
    try:
        with open(cert, "wb") as f:
            f.write(bytes.fromhex(obj.get("certificate", "")))
        signature = bytes.fromhex(obj.get("signature", ""))
    except ValueError:
        signature = b""
    ok, how = auth_signature_ok(work, cert, SHA256_PREFIX + digest, signature)
    rep.check("auth: signature by the returned certificate's key over the challenge (%s)" % how,
              ok, how)
    print("NOTE: onshid's Authenticate signature: %s" % how)
    rep.check("auth: returned certificate is the card's", e2elib.read_bytes(cert) == auth_der)
    rep.check("auth: the PIN is not printed", not e2elib.secret_in_text(r.err, pin) and
              "Enter the PIN" in r.err, r.err)

    # human form, random challenge recovered from the signature
    r = run(env, "auth", "--pin", stdin=pin + "\n")
    check_rc(rep, "auth (human, random challenge)", r, want_out="signature: ")
    fields = dict(l.split(": ", 1) for l in r.out.splitlines() if ": " in l)
    try:
        chal = bytes.fromhex(fields.get("challenge", ""))
        ok, how = auth_signature_ok(work, os.path.join(card, "auth.der"), chal,
                                    bytes.fromhex(fields.get("signature", "")))
    except ValueError as e:
        chal, ok, how = b"", False, str(e)
    rep.check("auth: signature over the printed 32-byte random challenge", ok and len(chal) == 32,
              how)

    # terminal: echo off, and Ctrl-C restores the terminal
    rc, out, screen, echo = on_pty(env, ["--json", "auth", "--pin"], typed=pin)
    rep.check("tty: auth succeeds with the PIN typed on the terminal", rc == 0 and
              '"signature":"' in out, "exit %d; %s; screen %r" % (rc, out[-200:], screen))
    rep.check("tty: the typed PIN is not echoed", not e2elib.secret_in_text(screen, pin) and "Enter the PIN" in screen,
              repr(screen))
    rep.check("tty: echo is back on afterwards", echo)
    rc, out, screen, echo = on_pty(env, ["auth", "--pin"], interrupt=True)
    rep.check("tty: Ctrl-C at the prompt gives exit 9 (Cancelled)",
              rc == EX_CANCELLED and "Cancelled" in screen, "exit %d; %r" % (rc, screen))
    rep.check("tty: Ctrl-C restores echo", echo)
    rep.check("tty: Ctrl-C consumed no PIN try", pin_status(env).get("auth") == 3)

    # input the agent refuses: no PIN try is spent
    r = run(env, "auth", "--pin", stdin="1" * 100 + "\n")
    check_rc(rep, "100-character line: AgentFailed, exit 10", r, 10, "AgentFailed: ")
    r = run(env, "auth", "--pin", stdin="")
    check_rc(rep, "no input at all: Cancelled, exit 9", r, EX_CANCELLED, "Cancelled: ")
    rep.check("refused input consumed no PIN try", pin_status(env).get("auth") == 3)

    # sign with both keys; the signature certificate needs the password
    sig = os.path.join(work, "data.sig")
    r = run(env, "sign", "--key", "auth", "--data-file", data, "--out", sig, stdin=pin + "\n")
    check_rc(rep, "sign --key auth --data-file", r, want_out="digest: " + digest.hex())
    ok, detail = e2elib.verify_signature(os.path.join(card, "auth.der"), data, sig, work)
    rep.check("sign --key auth: signature verifies", ok, detail)
    r = run(env, "sign", "--key", "sign", "--data-file", data, "--out", sig,
            stdin=conf["sign_pw"] + "\n")
    check_rc(rep, "sign --key sign --data-file", r)
    ok, detail = e2elib.verify_signature(os.path.join(card, "sign.der"), data, sig, work)
    rep.check("sign --key sign: signature verifies with the signature cert", ok, detail)
    r = run(env, "sign", "--key", "auth", "--hash", "sha384", "--digest", "00" * 32)
    check_rc(rep, "sign: digest length checked before the bus", r, EX_USAGE, "48 bytes")
    r = run(env, "cert", "sign", "--der", stdin=conf["sign_pw"] + "\n")
    rep.check("cert sign (password through the agent): byte-equal to sign.der",
              r.returncode == 0 and r.stdout == e2elib.read_bytes(os.path.join(card, "sign.der")),
              r.err)

    # wrong PINs, last-try guard
    r = run(env, "auth", "--pin", stdin="9999\n")
    check_rc(rep, "wrong PIN: exit 6 PinIncorrect, 2 tries left", r, EX_PIN_INCORRECT,
             "PinIncorrect: ")
    rep.check("wrong PIN: message says 2 tries left", "2 tries left" in r.err, r.err)
    r = run(env, "--json", "auth", "--pin", stdin="9999\n")
    obj = parse_json(rep, "wrong PIN --json", r)
    rep.check("wrong PIN --json: error object", r.returncode == EX_PIN_INCORRECT and
              obj.get("error", {}).get("name") == "org.onshi.Onshi1.Error.PinIncorrect" and
              obj["error"].get("exit") == EX_PIN_INCORRECT, r.out)
    r = run(env, "auth", "--pin", stdin=pin + "\n")
    check_rc(rep, "one try left: LastTryRefused, exit 8", r, EX_LAST_TRY, "LastTryRefused: ")
    rep.check("one try left: no PIN was asked", "Enter the" not in r.err, r.err)
    rep.check("one try left: counter unchanged", pin_status(env).get("auth") == 1)
    r = run(env, "auth", "--pin", "--allow-last-try", stdin=pin + "\n")
    check_rc(rep, "--allow-last-try with the right PIN", r, want_err="last try")
    rep.check("right PIN resets the counter to 3", pin_status(env).get("auth") == 3)

    # no card, wait-card, insertion
    env.control("remove")
    rep.check("card removed: onshid says so", wait_present(env, False))
    r = run(env, "cert")
    check_rc(rep, "no card: cert gives exit 4 NoCard", r, EX_NO_CARD, "NoCard: ")
    r = run(env, "wait-card", "--timeout", 1)
    check_rc(rep, "no card: wait-card --timeout 1 gives exit 15", r, EX_TIMEOUT, "Timeout: ")
    p = subprocess.Popen([ctl_path(), "--json", "wait-card", "--timeout", "30"], env=env.env(),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(1.0)
    early = p.poll()
    env.control("insert 0 vcard:" + card)
    try:
        out, err = p.communicate(timeout=40)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
    try:
        obj = json.loads(out)
    except ValueError:
        obj = {}
    rep.check("wait-card returns when the card is inserted", early is None and p.returncode == 0
              and obj.get("card-present") is True and obj.get("card-type") == "mynumber",
              "exit %s; %r %r" % (p.returncode, out, err))
    r = run(env, "cert", "--der")
    rep.check("after insertion: cert --der byte-equal again", r.stdout == auth_der, r.err)

    # usage
    r = run(env, "readers", "--pem")
    check_rc(rep, "usage error: exit 2", r, EX_USAGE, "--pem")
    r = run(env, "frobnicate")
    check_rc(rep, "unknown command: exit 2", r, EX_USAGE, "frobnicate")


def test_agent_verb(rep, env, conf):
    """`onshictl agent` serves another program's Authenticate (same uid)."""
    import base64
    p = subprocess.Popen([ctl_path(), "--json", "agent"], env=env.env(), stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        line = b""
        ready = select.select([p.stderr], [], [], 20)[0]
        if ready:
            line = p.stderr.readline()
        rep.check("agent: registers and says so", b"serving until Ctrl-C" in line, repr(line))
        p.stdin.write((conf["auth_pin"] + "\n").encode())
        p.stdin.flush()
        res = onshid_client.call_as(env, READER0, onshid_client.READER_IFACE, "Authenticate",
                                    ["pin", {"bytes": base64.b64encode(b"agent test").decode()}, {}],
                                    "saya{sv}")
        rep.check("agent: another client's Authenticate gets the PIN from it",
                  res[0] == "ok" and "signature" in res[1][0], repr(res)[:300])
    finally:
        p.send_signal(signal.SIGINT)
        try:
            out, err = p.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
    try:
        obj = json.loads(out)
    except ValueError:
        obj = {}
    rep.check("agent: Ctrl-C ends it with exit 0 and the count answered",
              p.returncode == 0 and obj.get("answered") == 1, "exit %s %r %r" % (p.returncode, out, err))
    rep.check("agent: the PIN is not printed", not e2elib.secret_in_text(out + err, conf["auth_pin"]))


def test_pinpad(rep, work, card, conf):
    with TestEnv(profile="pinpad", card="vcard:" + card,
                 dbus_policy_files=[onshid_client.write_policy(work)]) as env:
        rep.attach(env)
        env.wait_readers(1)
        d = onshid_client.Daemon(env)
        try:
            r = run(env, "--json", "wait-card", "--timeout", 30)
            obj = parse_json(rep, "pinpad: wait-card", r)
            rep.check("pinpad: the reader has a PIN pad", obj.get("pinpad") is True, r.out)
            env.control("keypad " + conf["auth_pin"])
            r = run(env, "auth", "--pin", stdin=b"")
            check_rc(rep, "pinpad: auth with the PIN typed on the keypad", r,
                     want_out="signature: ",
                     want_err="enter your PIN on the reader's keypad (3 tries left)")
        finally:
            d.stop()


def main():
    global onshid_client
    e2elib.require_built(e2elib.emu_path(), e2elib.probe_path(), ctl_path(),
                         os.path.join(e2elib.onshi_testenv.top_builddir(), "daemon", "onshid"))
    e2elib.require_file(e2elib.mkcard_path())
    try:
        import onshid_client  # needs python3-gi
    except ImportError as e:
        print("SKIP: %s" % e)
        return e2elib.SKIP
    if os.geteuid() != 0 or onshid_client.ensure_groups("onshi", "onshi-personal") is None:
        print("SKIP: needs root (groups for the bus policy, private pcscd namespace)")
        return e2elib.SKIP
    rep = e2elib.Report("test-onshictl")
    work = e2elib.workdir("octl")
    try:
        card = e2elib.make_card(work, "card")
        conf = e2elib.card_conf(card)
        with TestEnv(profile="tpdu-t1", card="vcard:" + card,
                     dbus_policy_files=[onshid_client.write_policy(work)]) as env:
            rep.attach(env)
            env.wait_readers(1)
            # Started before onshid: waits for the service, then the card.
            early = subprocess.Popen([ctl_path(), "wait-card", "--timeout", "40"], env=env.env(),
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            d = onshid_client.Daemon(env)
            try:
                out, err = early.communicate(timeout=60)
                rep.check("wait-card started before onshid returns once it is up",
                          early.returncode == 0 and b"card-type: mynumber" in out,
                          "exit %s %r %r" % (early.returncode, out, err))
                test_main_card(rep, env, card, conf, work)
                test_agent_verb(rep, env, conf)
            finally:
                d.stop()
            r = run(env, "readers")
            check_rc(rep, "onshid gone: exit 3", r, EX_NO_SERVICE)
        test_pinpad(rep, work, e2elib.make_card(work, "card2"), conf)
    except (EnvError, OSError, RuntimeError, subprocess.SubprocessError) as e:
        rep.check("environment", False, str(e))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return rep.finish()


if __name__ == "__main__":
    sys.exit(main())
