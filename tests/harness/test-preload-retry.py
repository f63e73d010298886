#!/usr/bin/python3
"""The test preload (preload-connect-retry.c) retries a connect to an
emulator ioctl socket that appears late, reports errno, and leaves every
other connect alone.  Runs a child Python with the library preloaded."""
import os
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import onshi_testenv  # noqa: E402

CHILD = r'''
import os, socket, sys, threading, time
path, late = sys.argv[1], float(sys.argv[2])
def serve():
    time.sleep(late)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)
    c, _ = srv.accept()
    c.sendall(b"hello")
if late >= 0:
    threading.Thread(target=serve, daemon=True).start()
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    s.connect(path)
except OSError as e:
    print("connect failed: %s" % e.strerror)
    sys.exit(3)
print("got %r" % s.recv(5))
'''


def run(so, umockdev_dir, path, late):
    env = dict(os.environ, LD_PRELOAD=so, UMOCKDEV_DIR=umockdev_dir)
    return subprocess.run([sys.executable, "-c", CHILD, path, str(late)], env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=30)


def main():
    so = onshi_testenv.test_preload_path()
    if not os.path.exists(so):
        print("SKIP: %s is not built" % so)
        return 77
    failed = 0

    def check(name, ok, detail=""):
        nonlocal failed
        print("%s: %s%s" % ("PASS" if ok else "FAIL", name, "" if ok else " -- " + detail))
        failed += not ok

    with tempfile.TemporaryDirectory(prefix="opr") as d:
        os.makedirs(os.path.join(d, "ioctl", "dev"))
        sock = os.path.join(d, "ioctl", "dev", "late")
        r = run(so, d, sock, 0.3)
        check("a late ioctl socket is connected after retries", r.returncode == 0 and
              "got b'hello'" in r.stdout, r.stdout + r.stderr)
        check("the first failure is reported with its errno",
              "connect(%s): No such file or directory; retrying" % sock in r.stderr, r.stderr)
        check("the success after retrying is reported", "succeeded after" in r.stderr, r.stderr)

        never = os.path.join(d, "ioctl", "dev", "never")
        r = run(so, d, never, -1)
        check("a socket that never appears fails after the retry budget",
              r.returncode == 3 and "gave up: No such file or directory" in r.stderr,
              r.stdout + r.stderr)

        other = os.path.join(d, "elsewhere")
        r = run(so, d, other, -1)
        check("a socket outside $UMOCKDEV_DIR/ioctl fails at once, untouched",
              r.returncode == 3 and "onshi-test-preload" not in r.stderr, r.stdout + r.stderr)
    print("test-preload-retry: %d failed" % failed)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
