#!/usr/bin/env python3
"""Issue 10's abuse cases against a `pixgate serve` binary, on loopback, bounded in count and
time. Prints one JSON line per case with what the server did and what it cost (CPU seconds,
peak and idle RSS read from /proc). Run it against two builds to compare them:

    scripts/abuse/measure.py target/release/pixgate [case ...]

Cases: idle_sockets, slow_head_shutdown, abandoned_renders, abandoned_flood, outside_enlarge,
big_uploads.
"""

import io
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

CORPUS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared", "corpus", "images")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A pixgate serve process on a fresh data dir, with the open-file limit of a default shell."""

    def __init__(self, binary, *flags, nofile=1024):
        self.dir = tempfile.mkdtemp(prefix="pixgate-abuse-")
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"

        def limits():
            import resource
            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

        self.proc = subprocess.Popen(
            [binary, "serve", "--addr", f"127.0.0.1:{self.port}", "--data-dir", self.dir, *flags],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=limits,
        )
        for _ in range(200):
            try:
                urllib.request.urlopen(self.base + "/healthz", timeout=1).read()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("server did not start")

    def status(self, field):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) // 1024  # MiB
        return None

    def cpu_seconds(self):
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def http(base, method, path, body=None, headers=None, timeout=120):
    request = urllib.request.Request(base + path, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except OSError as e:
        return None, str(e).encode()


def multipart(files):
    boundary = "abuse-boundary-7d1f"
    out = io.BytesIO()
    for name, data in files:
        out.write(f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
                  f"Content-Type: image/jpeg\r\n\r\n".encode())
        out.write(data)
        out.write(b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"


def upload_photo(server, name="jolla.jpg"):
    with open(os.path.join(CORPUS, name), "rb") as f:
        body, ctype = multipart([(name, f.read())])
    status, answer = http(server.base, "POST", "/upload?type=image", body, {"Content-Type": ctype})
    assert status == 200, answer
    return json.loads(answer)[0]["key"]


def idle_sockets(binary):
    server = Server(binary)
    try:
        held = []
        for _ in range(1100):
            try:
                held.append(socket.create_connection(("127.0.0.1", server.port), timeout=2))
            except OSError:
                break
        time.sleep(1)
        answered = sum(1 for _ in range(20) if http(server.base, "GET", "/healthz", timeout=3)[0] == 200)
        time.sleep(12)  # past the default 10 s head deadline
        later = sum(1 for _ in range(20) if http(server.base, "GET", "/healthz", timeout=3)[0] == 200)
        closed = 0
        for s in held:
            s.setblocking(False)
            try:
                closed += s.recv(1) == b""
            except BlockingIOError:
                pass
            except OSError:
                closed += 1
            s.close()
        return {"sockets": len(held), "ok_while_held": answered, "ok_after_12s": later,
                "closed_by_server": closed}
    finally:
        server.stop()


def slow_head_shutdown(binary):
    server = Server(binary)
    try:
        slow = socket.create_connection(("127.0.0.1", server.port))
        slow.sendall(b"GET /heal")
        time.sleep(0.5)
        start = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        try:
            server.proc.wait(timeout=60)
            exited = round(time.monotonic() - start, 2)
        except subprocess.TimeoutExpired:
            exited = None
        return {"exit_after_sigterm_s": exited}
    finally:
        server.stop()


def abandoned_renders(binary):
    """Sixteen distinct large AVIF renders whose clients leave after 1 s."""
    server = Server(binary)
    try:
        key = upload_photo(server)
        cpu0 = server.cpu_seconds()
        threads = []
        for i in range(16):
            path = f"/img/{key}?w={2000 + i}&h={2000 + i}&enlarge=1&f=avif"  # canonical: no 301
            t = threading.Thread(target=http, args=(server.base, "GET", path, None, None, 1))
            t.start()
            threads.append(t)
        for t in threads:
            t.join()
        left = time.monotonic()
        cpu_left = server.cpu_seconds()
        # CPU the server spends after every client has gone: until it is idle (two quiet
        # seconds in a row), at most 120 s. CPU seconds, not wall time, so that other load on
        # the machine does not change the figure.
        quiet, last = 0, cpu_left
        while quiet < 2 and time.monotonic() - left < 120:
            time.sleep(1)
            now = server.cpu_seconds()
            quiet = quiet + 1 if now - last < 0.05 else 0
            last = now
        return {"cpu_s_while_clients_waited": round(cpu_left - cpu0, 1),
                "cpu_s_after_clients_left": round(server.cpu_seconds() - cpu_left, 1),
                "busy_s_after_clients_left": round(time.monotonic() - left - quiet, 1)}
    finally:
        server.stop()


def abandoned_flood(binary):
    """300 distinct render URLs sent and abandoned at once, on a fresh server."""
    server = Server(binary)
    try:
        key = upload_photo(server)
        rss0 = server.status("VmRSS")
        for i in range(300):
            try:
                s = socket.create_connection(("127.0.0.1", server.port))
                s.sendall(f"GET /img/{key}?w={1000 + i}&h={1000 + i}&f=avif HTTP/1.1\r\nHost: x\r\n\r\n".encode())
                s.close()
            except OSError:
                pass
        time.sleep(5)
        return {"rss_mib_start": rss0, "peak_rss_mib": server.status("VmHWM"),
                "rss_mib_after_5s": server.status("VmRSS")}
    finally:
        server.stop()


def outside_enlarge(binary):
    server = Server(binary)
    try:
        from PIL import Image
        buf = io.BytesIO()
        Image.effect_noise((372, 1080), 64).convert("RGB").save(buf, "JPEG", quality=90)
        body, ctype = multipart([("tall.jpg", buf.getvalue())])
        status, answer = http(server.base, "POST", "/upload?type=image", body, {"Content-Type": ctype})
        item = json.loads(answer)[0]
        key = item["key"]
        cpu0 = server.cpu_seconds()
        start = time.monotonic()
        status, answer = http(server.base, "GET", f"/img/{key}?w=4096&h=4096&fit=outside&enlarge=1&f=avif",
                              timeout=120)
        return {"stored": [item["width"], item["height"]], "status": status,
                "seconds": round(time.monotonic() - start, 2),
                "cpu_s": round(server.cpu_seconds() - cpu0, 1), "peak_rss_mib": server.status("VmHWM"),
                "answer": answer[:160].decode(errors="replace") if status != 200 else f"{len(answer)} bytes"}
    finally:
        server.stop()


def big_uploads(binary, clients=40):
    """40 concurrent ~46 MiB uploads (five 9.2 MiB noisy 12 MP JPEGs each: under the default
    50 MiB request and 10 MiB file limits)."""
    from PIL import Image
    random.seed(1)
    photo = io.BytesIO()
    Image.effect_noise((4000, 3000), 90).convert("RGB").save(photo, "JPEG", quality=90)
    data = photo.getvalue()
    body, ctype = multipart([(f"p{i}.jpg", data) for i in range(5)])
    server = Server(binary)
    try:
        rss0 = server.status("VmRSS")
        results = []
        start = time.monotonic()

        def one():
            results.append(http(server.base, "POST", "/upload?type=image", body,
                                {"Content-Type": ctype}, timeout=300)[0])
        threads = [threading.Thread(target=one) for _ in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        took = round(time.monotonic() - start, 1)
        time.sleep(3)
        return {"body_mib": round(len(body) / 2**20, 1), "clients": clients,
                "statuses": {str(s): results.count(s) for s in set(results)}, "seconds": took,
                "rss_mib_start": rss0, "peak_rss_mib": server.status("VmHWM"),
                "rss_mib_idle_after_3s": server.status("VmRSS")}
    finally:
        server.stop()


CASES = {f.__name__: f for f in (idle_sockets, slow_head_shutdown, abandoned_renders, abandoned_flood,
                                  outside_enlarge, big_uploads)}

if __name__ == "__main__":
    binary = sys.argv[1]
    for name in sys.argv[2:] or CASES:
        print(json.dumps({"case": name, "binary": binary, **CASES[name](binary)}), flush=True)
