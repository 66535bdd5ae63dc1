"""The transform part's servers and load: a fresh `pixgate serve` or sharp transform peer on a free loopback port
over the stored originals, a bounded loader sending DISTINCT /img URLs (so pixgate's single-flight cannot merge
any two of them) at a fixed concurrency over keep-alive connections, and the server's peak RSS (VmHWM)."""
from __future__ import annotations

import http.client
import os
import shutil
import signal
import statistics
import subprocess
import tempfile
import threading
import time

from .common import free_port, proc_status


class TransformServer:
    """pixgate serve over a copy-free data dir (the uploads' own), or the peer's transform.js over its
    SOURCE_DIR: both 127.0.0.1, both unpinned (the machine's two cores, as a deployment would run them)."""

    def __init__(self, kind, binary, peer, data_dir, source_dir, work, extra_env=None):
        self.kind = kind
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix=f"transform-{kind}-", dir=work)
        self.log = open(os.path.join(self.dir, "server.log"), "wb")
        if kind == "pixgate":
            self.env = dict(os.environ, PIXGATE_ADDR=f"127.0.0.1:{self.port}", PIXGATE_STORAGE="fs",
                            PIXGATE_DATA_DIR=data_dir, RUST_LOG="warn")
            self.env.pop("AWS_LAMBDA_RUNTIME_API", None)
            self.cmd, self.cwd = [binary, "serve"], self.dir
        else:
            # The peer as its README runs it: sharp's own defaults (libvips threads, the libuv pool).
            self.env = dict(os.environ, NODE_PATH=os.path.join(peer, "node_modules"), HOST="127.0.0.1",
                            PORT=str(self.port), SOURCE_DIR=source_dir)
            self.cmd, self.cwd = ["node", "transform.js"], peer
        self.env.update(extra_env or {})
        self.proc = None

    def __enter__(self):
        self.proc = subprocess.Popen(self.cmd, cwd=self.cwd, env=self.env, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.kind} exited ({self.proc.returncode}); see {self.dir}/server.log")
            try:
                status, _, _ = get(self.port, "/healthz")
                if status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.01)
        raise RuntimeError(f"{self.kind} not healthy in 20 s; see {self.dir}/server.log")

    def __exit__(self, *exc):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def rss_mib(self):
        kb = proc_status(self.proc.pid, "VmHWM")
        return kb / 1024 if kb else None

    def threads(self):
        return proc_status(self.proc.pid, "Threads")


def get(port, path, conn=None, timeout=120):
    """One GET on `conn` (a new connection when None): (status, body bytes, the connection to reuse)."""
    conn = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    conn.request("GET", path)
    resp = conn.getresponse()
    body = resp.read()
    if resp.getheader("connection", "").lower() == "close":
        conn.close()
        conn = None
    return resp.status, body, conn


def load(port, paths, concurrency, max_seconds):
    """GETs each path once, `concurrency` keep-alive connections taking the next path from a shared list,
    until all are answered or `max_seconds` have passed (requests in flight then finish and count).
    Returns req/s over answered requests, latency percentiles, statuses and bytes."""
    lock = threading.Lock()
    queue = list(reversed(paths))
    lat, statuses, sizes, errors = [], {}, [], []
    start = time.perf_counter()
    stop_at = start + max_seconds

    def worker():
        conn = None
        while True:
            with lock:
                if not queue or time.perf_counter() > stop_at:
                    break
                path = queue.pop()
            t = time.perf_counter()
            try:
                status, body, conn = get(port, path, conn)
            except (OSError, http.client.HTTPException) as e:
                conn = None
                with lock:
                    errors.append(f"{path}: {e}")
                continue
            dt = time.perf_counter() - t
            with lock:
                lat.append(dt * 1000)
                statuses[status] = statuses.get(status, 0) + 1
                sizes.append(len(body))
        if conn:
            conn.close()

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    elapsed = time.perf_counter() - start
    lat.sort()

    def pct(p):
        return lat[min(len(lat) - 1, int(round(p / 100 * (len(lat) - 1))))] if lat else None

    ok = statuses.get(200, 0)
    return {"requests": len(lat), "ok": ok, "statuses": {str(k): v for k, v in statuses.items()},
            "errors": errors[:5], "seconds": elapsed, "rps": ok / elapsed if elapsed else None,
            "p50_ms": pct(50), "p90_ms": pct(90), "p99_ms": pct(99), "mean_ms": statistics.mean(lat) if lat else None,
            "mean_bytes": statistics.mean(sizes) if sizes else None, "asked": len(paths),
            "timed_out": len(lat) < len(paths)}
