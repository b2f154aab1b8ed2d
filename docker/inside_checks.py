"""The checks image_check.py runs inside the image (its own python, standard library only).

argv: start number (1 or 2), the image's CMD and HEALTHCHECK command (JSON lists), seconds to
wait for the app. Prints one ``CHECK {"name", "ok", "detail"}`` line per check. Start 1: no
network, the user, the workspace volume, the app (CMD) serving /config and passing HEALTHCHECK,
the demo dataset listed, a 1-epoch training. Start 2 (a fresh ``buildah run`` on the same
volume): the app serves again and finds start 1's run.
"""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request


def check(name, ok, detail):
    print("CHECK " + json.dumps({"name": name, "ok": bool(ok), "detail": str(detail)[-300:]}), flush=True)


def cli(*args, timeout=900):
    p = subprocess.run([sys.executable, "-m", "yolov11", *args], capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def no_network():
    s = socket.socket()
    s.settimeout(3)
    try:
        s.connect(("1.1.1.1", 443))
        return False, "connected to 1.1.1.1:443"
    except OSError as exc:
        return True, f"1.1.1.1:443 unreachable ({exc.strerror or exc})"
    finally:
        s.close()


def serve(cmd, health, wait):
    """Start the app as the image's CMD does; (process, whether HEALTHCHECK passed, seconds)."""
    app = subprocess.Popen(cmd, stdout=open("/tmp/app.log", "w"), stderr=subprocess.STDOUT)
    t0 = time.time()
    while time.time() - t0 < wait and app.poll() is None:
        if subprocess.run(health, capture_output=True, timeout=30).returncode == 0:
            return app, True, time.time() - t0
        time.sleep(2)
    return app, False, time.time() - t0


def main():
    start, cmd, health, wait = int(sys.argv[1]), json.loads(sys.argv[2]), json.loads(sys.argv[3]), float(sys.argv[4])
    ok, detail = no_network()
    check("no network beyond the container", ok, detail)
    check("runs as uid 1000", os.getuid() == 1000, f"uid {os.getuid()}, gid {os.getgid()}")
    probe = "/workspace/.image-check-probe"
    try:
        with open(probe, "w") as f:
            f.write("ok")
        os.remove(probe)
        check("workspace volume writable", True, "/workspace")
    except OSError as exc:
        check("workspace volume writable", False, exc)
    app, healthy, took = serve(cmd, health, wait)
    log = "" if healthy else open("/tmp/app.log").read()[-300:]
    check("HEALTHCHECK passes", healthy, f"after {took:.0f} s" if healthy else f"not within {wait:.0f} s: {log}")
    try:
        with urllib.request.urlopen("http://127.0.0.1:7860/config", timeout=10) as r:
            check("serves /config on 7860", r.status == 200 and b"components" in r.read(), f"HTTP {r.status}")
    except OSError as exc:
        check("serves /config on 7860", False, exc)
    code, out, err = cli("datasets", "--json")
    names = [d.get("name") for d in json.loads(out)] if code == 0 else []
    check("demo dataset listed", "demo-hardhat" in names, names or err)
    if start == 1:
        t0 = time.time()
        code, out, err = cli("train", "--data", "demo-hardhat", "--epochs", "1", "--imgsz", "64", "--json")
        check("train --data demo-hardhat --epochs 1 --imgsz 64", code == 0 and json.loads(out)["status"] == "done",
              f"{time.time() - t0:.0f} s, run {json.loads(out)['run']}" if code == 0 else err)
    else:
        code, out, err = cli("runs", "--json")
        runs = [r["id"] for r in json.loads(out) if r["status"] == "done"] if code == 0 else []
        check("a second start finds the first start's run", len(runs) == 1, runs or err)
    app.terminate()
    try:
        app.wait(timeout=30)
    except subprocess.TimeoutExpired:
        app.kill()


if __name__ == "__main__":
    main()
