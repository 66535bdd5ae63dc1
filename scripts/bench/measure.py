#!/usr/bin/env python3
"""Measures pixgate against sharp, alternating the two for every measurement; writes raw numbers to
target/bench/results.json (report.py turns them into BENCHMARKS.md). Run through scripts/bench/run,
which installs what this needs and sets PIXGATE_BIN, BENCH_PEER, BENCH_IMG, BENCH_SHARED.

env: ROUNDS (default 5; QUICK=1 -> 2), QUICK=1 (fewer iterations/requests), PARTS (comma list of
pipeline,server,cold,quality,zip; default all). Only 127.0.0.1 is ever listened on or loaded.
"""
import csv
import io
import datetime
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
WORK = os.path.join(ROOT, "target", "bench")
RESULTS = os.path.join(WORK, "results.json")

BIN = os.environ["PIXGATE_BIN"]
PEER = os.environ.get("BENCH_PEER", os.path.join(WORK, "peer"))
IMG = os.environ.get("BENCH_IMG", os.path.join(WORK, "img"))
SHARED = os.environ.get("BENCH_SHARED", os.path.join(ROOT, "..", "shared"))
QUICK = os.environ.get("QUICK", "") not in ("", "0")
ROUNDS = int(os.environ.get("ROUNDS") or (2 if QUICK else 5))
ALL_PARTS = ["pipeline", "server", "cold", "quality", "zip"]
PARTS = [p.strip() for p in (os.environ.get("PARTS") or ",".join(ALL_PARTS)).split(",") if p.strip()]
for p in PARTS:
    if p not in ALL_PARTS:
        sys.exit(f"unknown part {p!r}: use {','.join(ALL_PARTS)}")

# Sizes of the work (QUICK keeps the structure, with less of everything).
PIPE_ITER, PIPE_WARMUP = (4, 1) if QUICK else (15, 3)
DJPEG_RUNS = 5 if QUICK else 20
TJBENCH_SECS = 0.5 if QUICK else 1.0
LOAD_REQS = 16 if QUICK else 60
COLD_RUNS = 3 if QUICK else 10
CORE = "1"  # the core the one-core measurements are pinned to

WEBP_QUERY = "transform:w=1920&h=1080&fit=inside&f=webp"  # = sharp's webp op (1440x1080 from 4:3, q80)
PROFILE_JPEG_QUERY = "transform:w=200&h=200&fit=inside&f=jpeg"  # = sharp's profile op on RGBA (flattened)
IMAGE_JPEG_QUERY = "transform:w=1920&h=1080&fit=inside&f=jpeg"  # = sharp's image op on RGBA (flattened)

T0 = time.monotonic()


def log(msg):
    print(f"[bench +{time.monotonic() - T0:6.0f}s] {msg}", flush=True)


def median(xs):
    return statistics.median(xs) if xs else None


def save(results):
    tmp = RESULTS + ".tmp"
    with open(tmp, "w") as f:
        json.dump(results, f, indent=1)
    os.replace(tmp, RESULTS)


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw).stdout


def try_run(cmd, **kw):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=60, **kw).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


def node_env(**extra):
    env = dict(os.environ, NODE_PATH=os.path.join(PEER, "node_modules"))
    env.update(extra)
    return env


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def loadavg():
    try:
        return open("/proc/loadavg").read().split()[:3]
    except OSError:
        return None


def proc_status(pid, key):
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


# ---------------------------------------------------------------------------------------------
# machine and versions


def meta():
    cpu = None
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_kb = None
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    except OSError:
        pass
    os_name = None
    try:
        for line in open("/etc/os-release"):
            if line.startswith("PRETTY_NAME="):
                os_name = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    sharp_versions = try_run(["node", "-e", "const s = require('sharp'); console.log(JSON.stringify("
                              "Object.assign({}, s.versions, {default_concurrency: s.concurrency()})))"],
                             env=node_env(), cwd=PEER)
    git_head = try_run(["git", "-C", ROOT, "rev-parse", "HEAD"])
    git_dirty = try_run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no", "--", "src", "Cargo.toml",
                         "Cargo.lock"])
    st = os.stat(BIN)
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": os.environ.get("BENCH_COMMAND", "scripts/bench/run"),
        "cpu": cpu, "cores": os.cpu_count(), "mem_gib": round(mem_kb / 1048576, 1) if mem_kb else None,
        "os": os_name, "kernel": platform.release(), "machine": platform.machine(),
        "rustc": try_run(["rustc", "-V"]),
        "git_head": git_head, "git_src_dirty": bool(git_dirty),
        "pixgate_bin": BIN, "pixgate_bin_mtime": datetime.datetime.fromtimestamp(st.st_mtime, datetime.timezone.utc)
        .strftime("%Y-%m-%d %H:%M UTC"), "pixgate_bin_bytes": st.st_size,
        "pixgate_bin_given": bool(os.environ.get("PIXGATE_BIN_GIVEN")),
        "pixgate_bin_commit": os.environ.get("PIXGATE_BIN_COMMIT"),
        "pixgate_version": try_run([BIN, "--version"]),
        "node": try_run(["node", "--version"]),
        "sharp": json.loads(sharp_versions) if sharp_versions else None,
        "djpeg": (try_run(["sh", "-c", "djpeg -version 2>&1 | head -1"]) or None) if shutil.which("djpeg") else None,
        "rounds": ROUNDS, "quick": QUICK, "parts": PARTS,
        "sizes": {"pipeline_iterations": PIPE_ITER, "pipeline_warmup": PIPE_WARMUP, "djpeg_runs": DJPEG_RUNS,
                  "tjbench_secs": TJBENCH_SECS, "load_requests": LOAD_REQS, "cold_runs": COLD_RUNS},
        "loadavg_start": loadavg(),
    }


# ---------------------------------------------------------------------------------------------
# (a) pipeline ops, one core


def pixgate_ops(path, ops, iterations, warmup, save_dir=None):
    cmd = ["taskset", "-c", CORE, BIN, "bench", "--input", path, "--iterations", str(iterations),
           "--warmup", str(warmup)]
    for op in ops:
        cmd += ["--op", op]
    if save_dir:
        cmd += ["--save-dir", save_dir]
    out = run(cmd, env=dict(os.environ, RUST_LOG="warn"))
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def sharp_ops(path, ops, iterations, warmup, save_dir=None):
    cmd = ["taskset", "-c", CORE, "node", os.path.join(HERE, "sharp-ops.js"), "--input", path,
           "--iterations", str(iterations), "--warmup", str(warmup)]
    for op in ops:
        cmd += ["--op", op]
    if save_dir:
        cmd += ["--save-dir", save_dir]
    out = run(cmd, env=node_env(UV_THREADPOOL_SIZE="1"), cwd=PEER)
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def djpeg_loop(path, runs):
    """libjpeg-turbo's own djpeg at 1/8, one process per decode (so each time includes exec)."""
    if not shutil.which("djpeg"):
        return None
    cmd = ["taskset", "-c", CORE, "djpeg", "-scale", "1/8", "-outfile", os.devnull, path]
    subprocess.run(cmd, check=True)
    ms = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(cmd, check=True)
        ms.append((time.perf_counter() - t) * 1000)
    # the same loop with a process that does nothing: the exec cost inside each djpeg time
    true_ms = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(["taskset", "-c", CORE, "true"], check=True)
        true_ms.append((time.perf_counter() - t) * 1000)
    return {"ms": ms, "median_ms": median(ms), "exec_overhead_median_ms": median(true_ms)}


def tjbench_decode(path, scale):
    """libjpeg-turbo's tjbench: in-process decode loop (Debian's libjpeg-turbo), ms per decode."""
    if not shutil.which("tjbench"):
        return None
    with tempfile.TemporaryDirectory() as d:
        shutil.copy(path, d)
        cmd = ["taskset", "-c", CORE, "tjbench", os.path.basename(path), "-rgb", "-nowrite",
               "-benchtime", str(TJBENCH_SECS), "-warmup", str(TJBENCH_SECS / 2)]
        if scale:
            cmd += ["-scale", scale]
        out = subprocess.run(cmd, capture_output=True, text=True, cwd=d, timeout=120).stdout
    m = re.search(r"Decompress\s+-->\s+Frame rate:\s+([\d.]+) fps", out)
    return {"scale": scale, "fps": float(m.group(1)), "ms": 1000 / float(m.group(1))} if m else None


# Per input, the measurements as adjacent pairs: each pixgate process and the sharp process it is
# compared with run back to back (order flipping by round and pair), so a change in machine load
# between them is as short-lived as possible. Ops: {op as the tool names it: label in results}.
PIPE_INPUTS = [
    ("phone-12mp.jpg", [
        ({"profile": "profile", "jpeg-decode-1/8": "decode-1/8"}, {"profile": "profile"}),
        ({"image": "image"}, {"image": "image"}),
        ({WEBP_QUERY: "webp"}, {"webp": "webp"})]),
    ("phone-12mp-noisy.jpg", [
        ({"profile": "profile", "jpeg-decode-1/8": "decode-1/8"}, {"profile": "profile"}),
        ({"image": "image"}, {"image": "image"}),
        ({WEBP_QUERY: "webp"}, {"webp": "webp"})]),
    ("alpha-1.9mp.png", [
        ({PROFILE_JPEG_QUERY: "profile", "profile": "profile-png-out"}, {"profile": "profile"}),
        ({IMAGE_JPEG_QUERY: "image", "image": "image-png-out"}, {"image": "image"})]),
]


def part_pipeline(results):
    log(f"(a) pipeline ops, one core (taskset -c {CORE}), {ROUNDS} rounds x {PIPE_ITER} iterations "
        f"(+{PIPE_WARMUP} warm-up), pixgate and sharp back to back per op")
    rounds = []
    results["pipeline"] = {"iterations": PIPE_ITER, "warmup": PIPE_WARMUP, "core": CORE, "rounds": rounds}
    for r in range(ROUNDS):
        for name, pairs in PIPE_INPUTS:
            path = os.path.join(IMG, name)
            entry = {"round": r + 1, "input": name, "pixgate": {}, "sharp": {}, "order": []}
            for k, (pix_ops, sharp_op_map) in enumerate(pairs):
                order = ["pixgate", "sharp"] if (r + k) % 2 == 0 else ["sharp", "pixgate"]
                entry["order"].append(order)
                for who in order:
                    if who == "pixgate":
                        for line in pixgate_ops(path, list(pix_ops), PIPE_ITER, PIPE_WARMUP):
                            entry["pixgate"][pix_ops[line["op"]]] = line
                    else:
                        for line in sharp_ops(path, list(sharp_op_map), PIPE_ITER, PIPE_WARMUP):
                            entry["sharp"][sharp_op_map[line["op"]]] = line
            if name.endswith(".jpg"):
                entry["djpeg_1_8"] = djpeg_loop(path, DJPEG_RUNS)
                entry["tjbench_1_8"] = tjbench_decode(path, "1/8")
                entry["tjbench_full"] = tjbench_decode(path, None)
            rounds.append(entry)
            p, s = entry["pixgate"], entry["sharp"]
            summary = ", ".join(f"{k} {p[k]['median_ms']:.1f}/{s[k]['median_ms']:.1f} ms"
                                for k in ("profile", "image", "webp") if k in p and k in s)
            log(f"  round {r + 1}/{ROUNDS} {name}: pixgate/sharp {summary}")
            save(results)


# ---------------------------------------------------------------------------------------------
# servers


class Server:
    """A fresh server on a free loopback port with its own data directory."""

    def __init__(self, kind):
        self.kind = kind
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix=f"bench-{kind}-", dir=os.path.join(WORK, "tmp"))
        self.log = open(os.path.join(self.dir, "server.log"), "wb")
        if kind == "pixgate":
            env = dict(os.environ, PIXGATE_ADDR=f"127.0.0.1:{self.port}", PIXGATE_STORAGE="fs",
                       PIXGATE_DATA_DIR=os.path.join(self.dir, "data"), RUST_LOG="warn")
            env.pop("AWS_LAMBDA_RUNTIME_API", None)
            self.cmd, self.cwd = [BIN, "serve"], self.dir
        else:
            env = node_env(PORT=str(self.port), HOST="127.0.0.1", OUT_DIR=os.path.join(self.dir, "out"))
            self.cmd, self.cwd = ["node", "server.js"], PEER
        self.env = env
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = None

    def start(self):
        self.t_spawn = time.perf_counter()
        self.proc = subprocess.Popen(self.cmd, cwd=self.cwd, env=self.env, stdout=self.log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        return self

    def wait_healthy(self, timeout=15.0):
        """Polls GET /healthz (connect + request, ~1 ms apart); returns ms from spawn to the 200."""
        deadline = time.perf_counter() + timeout
        req = f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nConnection: close\r\n\r\n".encode()
        while time.perf_counter() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.kind} exited with {self.proc.returncode}; see {self.dir}/server.log")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=2) as s:
                    s.sendall(req)
                    data = b""
                    while b"\r\n" not in data:
                        chunk = s.recv(4096)
                        if not chunk:
                            break
                        data += chunk
                    if data.startswith(b"HTTP/1.1 200") or data.startswith(b"HTTP/1.0 200"):
                        return (time.perf_counter() - self.t_spawn) * 1000
            except OSError:
                pass
            time.sleep(0.001)
        raise RuntimeError(f"{self.kind} not healthy after {timeout} s; see {self.dir}/server.log")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def part_server(results):
    configs = [("profile", 1), ("profile", 4), ("image", 1), ("image", 4)]
    img = os.path.join(IMG, "phone-12mp.jpg")
    log(f"(b) servers under load.sh: {ROUNDS} rounds x {len(configs)} configs x 2 servers, {LOAD_REQS} requests each"
        f" (+2*c warm-up), a fresh server per run")
    runs = []
    results["server"] = {"requests": LOAD_REQS, "image": os.path.basename(img), "runs": runs}
    for r in range(ROUNDS):
        for i, (typ, conc) in enumerate(configs):
            order = ["pixgate", "sharp"] if (r + i) % 2 == 0 else ["sharp", "pixgate"]
            line = []
            for who in order:
                srv = Server(who).start()
                try:
                    srv.wait_healthy()
                    out = subprocess.run([os.path.join(PEER, "load.sh"), srv.url, typ, img, str(LOAD_REQS), str(conc),
                                          str(srv.proc.pid)], check=True, capture_output=True, text=True,
                                         timeout=600).stdout
                    load = json.loads(out.split("LOAD ", 1)[1])
                    threads = proc_status(srv.proc.pid, "Threads")
                finally:
                    srv.stop()
                runs.append({"round": r + 1, "server": who, "type": typ, "conc": conc, "order": order,
                             "threads_after": threads, "load": load})
                line.append(f"{who} {load['rps']:.1f} req/s p99 {load['p99_ms']:.0f} ms "
                            f"rss {(load['server_peak_rss_kb'] or 0) / 1024:.0f} MiB"
                            + (f" FAILED {load['failed']}+{load['non2xx']}" if load['failed'] or load['non2xx'] else ""))
            log(f"  round {r + 1}/{ROUNDS} {typ} c={conc}: " + "; ".join(line))
            save(results)


# ---------------------------------------------------------------------------------------------
# (c) cold start, and the Lambda init path against a fake Runtime API


def healthz_event():
    now = int(time.time() * 1000)
    return {
        "version": "2.0", "routeKey": "GET /healthz", "rawPath": "/healthz", "rawQueryString": "",
        "headers": {"host": "bench.execute-api.us-east-1.amazonaws.com", "user-agent": "bench"},
        "requestContext": {
            "accountId": "123456789012", "apiId": "bench", "domainName": "bench.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "bench", "http": {"method": "GET", "path": "/healthz", "protocol": "HTTP/1.1",
                                               "sourceIp": "127.0.0.1", "userAgent": "bench"},
            "requestId": str(uuid.uuid4()), "routeKey": "GET /healthz", "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime()), "timeEpoch": now},
        "isBase64Encoded": False,
    }


class FakeRuntime:
    """The Lambda Runtime API (2018-06-01) on 127.0.0.1: hands out one event per run, records when the
    first /next arrives and when the response is posted. Later /next calls wait until the run ends."""

    def __init__(self):
        self.lock = threading.Lock()
        self.reset()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _reply(self, code, body=b"", headers=None):
                self.send_response(code)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                if self.path.endswith("/runtime/invocation/next"):
                    t = time.perf_counter()
                    with outer.lock:
                        first = outer.t_next is None
                        if first:
                            outer.t_next = t
                        done = outer.done
                    if not first:
                        done.wait(10)
                        return self._reply(500, b'{"errorMessage":"bench run over"}')
                    body = json.dumps(outer.event).encode()
                    return self._reply(200, body, {
                        "Content-Type": "application/json", "Lambda-Runtime-Aws-Request-Id": outer.request_id,
                        "Lambda-Runtime-Deadline-Ms": str(int(time.time() * 1000) + 30000),
                        "Lambda-Runtime-Invoked-Function-Arn":
                            "arn:aws:lambda:us-east-1:123456789012:function:pixgate-bench",
                        "Lambda-Runtime-Trace-Id": "Root=1-00000000-000000000000000000000000;Sampled=0"})
                self._reply(404, b"{}")

            def do_POST(self):
                t = time.perf_counter()
                n = int(self.headers.get("Content-Length") or 0)
                if n:
                    body = self.rfile.read(n)
                elif "chunked" in (self.headers.get("Transfer-Encoding") or ""):
                    body = b""
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                        if size == 0:
                            self.rfile.readline()
                            break
                        body += self.rfile.read(size)
                        self.rfile.readline()
                else:
                    body = b""
                with outer.lock:
                    if self.path.endswith("/response") and outer.t_response is None:
                        outer.t_response, outer.response = t, body
                    elif self.path.endswith("/error"):
                        outer.errors.append({"path": self.path, "body": body.decode("utf-8", "replace")[:500]})
                self._reply(202, b'{"status":"OK"}', {"Content-Type": "application/json"})
                if self.path.endswith("/response") or self.path.endswith("/error"):
                    outer.posted.set()

        class Quiet(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass  # the runtime is killed while its next /next waits: a broken pipe is expected

        self.httpd = Quiet(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def reset(self):
        with self.lock:
            if getattr(self, "done", None):
                self.done.set()
            self.t_next = self.t_response = self.response = None
            self.errors = []
            self.request_id = str(uuid.uuid4())
            self.event = healthz_event()
            self.done = threading.Event()
            self.posted = threading.Event()

    def one_run(self):
        self.reset()
        d = tempfile.mkdtemp(prefix="bench-lambda-", dir=os.path.join(WORK, "tmp"))
        env = {k: v for k, v in os.environ.items() if not k.startswith("PIXGATE_")}
        env.update({
            "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{self.port}", "PIXGATE_STORAGE": "fs",
            "PIXGATE_DATA_DIR": os.path.join(d, "data"), "AWS_LAMBDA_FUNCTION_NAME": "pixgate-bench",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512", "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/pixgate-bench", "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
            "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1", "RUST_LOG": "warn",
        })
        logf = open(os.path.join(d, "lambda.log"), "wb")
        t0 = time.perf_counter()
        proc = subprocess.Popen([BIN], cwd=d, env=env, stdout=logf, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
        try:
            ok = self.posted.wait(15)
            with self.lock:
                t_next, t_resp, body, errors = self.t_next, self.t_response, self.response, list(self.errors)
        finally:
            self.done.set()
            proc.kill()
            proc.wait()
            logf.close()
            log_text = open(os.path.join(d, "lambda.log"), "rb").read().decode("utf-8", "replace")[-800:]
            shutil.rmtree(d, ignore_errors=True)
        status = None
        if body:
            try:
                status = json.loads(body).get("statusCode")
            except (ValueError, AttributeError):
                pass
        return {"next_ms": (t_next - t0) * 1000 if t_next else None,
                "response_ms": (t_resp - t0) * 1000 if t_resp else None,
                "status": status, "errors": errors, "ok": bool(ok and status == 200),
                "log_tail": None if (ok and status == 200) else log_text}


def part_cold(results):
    log(f"(c) cold start: exec -> first GET /healthz answered 200, {COLD_RUNS} alternating runs each "
        f"(+1 untimed each first); Lambda init against a fake Runtime API")
    cold = {"serve": [], "node": [], "lambda": [], "runs": COLD_RUNS}
    results["cold_start"] = cold
    for who in ("pixgate", "sharp"):  # untimed: page cache warm for both
        s = Server(who).start()
        try:
            s.wait_healthy()
        finally:
            s.stop()
    for r in range(COLD_RUNS):
        for who in (["pixgate", "sharp"] if r % 2 == 0 else ["sharp", "pixgate"]):
            s = Server(who).start()
            try:
                ms = s.wait_healthy()
            finally:
                s.stop()
            cold["serve" if who == "pixgate" else "node"].append(ms)
    log(f"  pixgate serve median {median(cold['serve']):.1f} ms, node server.js median {median(cold['node']):.1f} ms")
    rt = FakeRuntime()
    try:
        rt.one_run()  # untimed
        for _ in range(COLD_RUNS):
            cold["lambda"].append(rt.one_run())
    finally:
        rt.httpd.shutdown()
    good = [x for x in cold["lambda"] if x["ok"]]
    if good:
        log(f"  Lambda: spawn -> first /next median {median([x['next_ms'] for x in good]):.1f} ms, "
            f"-> response posted median {median([x['response_ms'] for x in good]):.1f} ms "
            f"({len(good)}/{len(cold['lambda'])} ok)")
    else:
        log(f"  Lambda init path failed: {cold['lambda'][-1] if cold['lambda'] else 'no runs'}")
    save(results)


# ---------------------------------------------------------------------------------------------
# (d) quality: SSIM vs a full-decode Lanczos3 reference, and size vs sharp


def gaussian_ssim(a, b):
    """Mean SSIM (Wang et al. 2004) of two luma planes: 11x11 Gaussian window, sigma 1.5, K1 0.01,
    K2 0.03, L 255, computed over the 'valid' region (the window entirely inside the image)."""
    import numpy as np
    x = np.arange(11) - 5
    w = np.exp(-(x ** 2) / (2 * 1.5 ** 2))
    w /= w.sum()

    def filt(img):
        if img.shape[0] < 11 or img.shape[1] < 11:
            raise ValueError("image smaller than the 11x11 window")
        h = sum(w[k] * img[:, k:img.shape[1] - 10 + k] for k in range(11))
        return sum(w[k] * h[k:h.shape[0] - 10 + k, :] for k in range(11))

    a = a.astype(np.float64)
    b = b.astype(np.float64)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mu_a, mu_b = filt(a), filt(b)
    saa = filt(a * a) - mu_a ** 2
    sbb = filt(b * b) - mu_b ** 2
    sab = filt(a * b) - mu_a * mu_b
    ssim = ((2 * mu_a * mu_b + c1) * (2 * sab + c2)) / ((mu_a ** 2 + mu_b ** 2 + c1) * (saa + sbb + c2))
    return float(ssim.mean())


def luma(im):
    import numpy as np
    rgb = np.asarray(im.convert("RGB"), dtype=np.float64)
    return rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114


def reference_source(path):
    """Full decode (no draft/DCT scaling), EXIF orientation applied, embedded ICC converted to sRGB."""
    from PIL import Image, ImageCms, ImageOps
    im = Image.open(path)
    im.load()
    icc = im.info.get("icc_profile")
    im = ImageOps.exif_transpose(im)
    icc_converted = False
    if icc:
        try:
            src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            im = ImageCms.profileToProfile(im, src, ImageCms.createProfile("sRGB"),
                                           outputMode="RGB" if im.mode != "CMYK" else "RGB")
            icc_converted = True
        except Exception:  # noqa: BLE001 - an unreadable profile: compare in the decoded space
            pass
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        im = Image.alpha_composite(white, rgba)
    return im.convert("RGB"), icc_converted


def quality_inputs():
    rows = []
    manifest = os.path.join(SHARED, "corpus", "images", "manifest.tsv")
    with open(manifest, newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            try:
                px = int(row["width"]) * int(row["height"])
            except ValueError:
                continue
            if row["format"] == "JPEG" and row["expected"].startswith("accept") and px >= 1_000_000:
                rows.append((row["file"], os.path.join(SHARED, "corpus", "images", row["file"]), row["category"]))
    rows.append(("phone-12mp.jpg (generated)", os.path.join(IMG, "phone-12mp.jpg"), "bench input"))
    rows.append(("phone-12mp-noisy.jpg (generated)", os.path.join(IMG, "phone-12mp-noisy.jpg"), "bench input"))
    return rows


def part_quality(results):
    from PIL import Image
    inputs = quality_inputs()
    log(f"(d) quality: {len(inputs)} JPEGs x (profile, image): SSIM vs Pillow full decode + LANCZOS, size vs sharp")
    rows = []
    results["quality"] = rows
    base = os.path.join(WORK, "quality")
    shutil.rmtree(base, ignore_errors=True)
    for name, path, category in inputs:
        d = os.path.join(base, re.sub(r"[^A-Za-z0-9._-]", "_", name))
        os.makedirs(os.path.join(d, "pixgate"))
        os.makedirs(os.path.join(d, "sharp"))
        pixgate_ops(path, ["profile", "image"], 1, 0, os.path.join(d, "pixgate"))
        sharp_ops(path, ["profile", "image"], 1, 0, os.path.join(d, "sharp"))
        src, icc_converted = reference_source(path)
        row = {"name": name, "category": category, "source_size": list(Image.open(path).size),
               "icc_converted": icc_converted}
        refs = {}
        for op in ("profile", "image"):
            entry = {}
            for who in ("pixgate", "sharp"):
                out = os.path.join(d, who, op)
                with Image.open(out) as im:
                    im.load()
                    size, fmt = im.size, im.format
                    if size not in refs:
                        refs[size] = luma(src.resize(size, Image.LANCZOS))
                    entry[who] = {"size": list(size), "format": fmt, "bytes": os.path.getsize(out),
                                  "ssim": gaussian_ssim(luma(im), refs[size])}
            entry["bytes_ratio"] = entry["pixgate"]["bytes"] / entry["sharp"]["bytes"]
            # The codec's ceiling: the reference itself through JPEG q80 (Pillow's libjpeg, 4:2:0). No JPEG
            # q80 output can be expected to score much above this.
            size = tuple(entry["pixgate"]["size"])
            buf = io.BytesIO()
            src.resize(size, Image.LANCZOS).save(buf, "JPEG", quality=80)
            buf.seek(0)
            with Image.open(buf) as im:
                entry["ceiling_ssim"] = gaussian_ssim(luma(im), refs[size])
            row[op] = entry
        rows.append(row)
        log(f"  {name}: profile SSIM {row['profile']['pixgate']['ssim']:.4f} (sharp "
            f"{row['profile']['sharp']['ssim']:.4f}, q80 ceiling {row['profile']['ceiling_ssim']:.4f}) bytes "
            f"x{row['profile']['bytes_ratio']:.2f}; image SSIM {row['image']['pixgate']['ssim']:.4f} (sharp "
            f"{row['image']['sharp']['ssim']:.4f}, ceiling {row['image']['ceiling_ssim']:.4f}) "
            f"bytes x{row['image']['bytes_ratio']:.2f}")
        save(results)


# ---------------------------------------------------------------------------------------------
# (e) the Lambda zip


def part_zip(results):
    log("(e) Lambda zip (arm64)")
    z = {}
    results["lambda_zip"] = z
    targets = try_run(["rustup", "target", "list", "--installed"]) or ""
    z["rustup_targets"] = targets.split()
    z["cargo_lambda"] = try_run(["cargo", "lambda", "--version"])
    arm = [t for t in z["rustup_targets"] if t.startswith("aarch64-unknown-linux")]
    if not z["cargo_lambda"]:
        z["arm64"] = {"built": False, "reason": "cargo-lambda is not installed (pip install cargo-lambda)"}
    elif not arm:
        z["arm64"] = {"built": False, "reason": "no aarch64-unknown-linux-* Rust target installed "
                      f"(`rustup target list --installed`: {', '.join(z['rustup_targets']) or 'none'}) "
                      "and rustup cannot download one here"}
    else:
        t = time.monotonic()
        out_dir = os.path.join(WORK, "lambda-arm64")
        proc = subprocess.run(["cargo", "lambda", "build", "--release", "--arm64", "--output-format", "zip",
                               "--lambda-dir", out_dir], cwd=ROOT, capture_output=True, text=True,
                              timeout=int(os.environ.get("LAMBDA_ZIP_TIMEOUT", "1800")))
        zips = [os.path.join(dp, f) for dp, _, fs in os.walk(out_dir) for f in fs if f.endswith(".zip")]
        if proc.returncode == 0 and zips:
            z["arm64"] = {"built": True, "zip": zips[0], "bytes": os.path.getsize(zips[0]),
                          "build_s": round(time.monotonic() - t)}
        else:
            z["arm64"] = {"built": False, "reason": "cargo lambda build failed: " + proc.stderr.strip()[-400:]}
    # A stand-in measured everywhere: this machine's release binary zipped the way cargo-lambda packs it
    # (one file named bootstrap, deflate).
    proxy = os.path.join(WORK, "bootstrap-x86_64.zip")
    with zipfile.ZipFile(proxy, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        zf.write(BIN, "bootstrap")
    z["proxy"] = {"arch": platform.machine(), "binary_bytes": os.path.getsize(BIN), "zip_bytes": os.path.getsize(proxy)}
    if z["arm64"]["built"]:
        log(f"  arm64 zip {z['arm64']['bytes'] / 1e6:.2f} MB")
    else:
        log(f"  arm64 zip not built here: {z['arm64']['reason']}")
    log(f"  {platform.machine()} stand-in: binary {z['proxy']['binary_bytes'] / 1e6:.1f} MB -> zip "
        f"{z['proxy']['zip_bytes'] / 1e6:.2f} MB")
    save(results)


def main():
    os.makedirs(os.path.join(WORK, "tmp"), exist_ok=True)
    results = {"meta": meta()}
    log(f"pixgate {results['meta']['pixgate_version']} ({BIN}); node {results['meta']['node']}; sharp "
        f"{(results['meta']['sharp'] or {}).get('sharp')}; rounds {ROUNDS}{' QUICK' if QUICK else ''}; "
        f"parts {','.join(PARTS)}; load average {' '.join(results['meta']['loadavg_start'] or [])}")
    save(results)
    t = time.monotonic()
    for part, fn in (("pipeline", part_pipeline), ("server", part_server), ("cold", part_cold),
                     ("quality", part_quality), ("zip", part_zip)):
        if part in PARTS:
            p0 = time.monotonic()
            fn(results)
            results["meta"].setdefault("part_seconds", {})[part] = round(time.monotonic() - p0)
    results["meta"]["measure_seconds"] = round(time.monotonic() - t)
    results["meta"]["loadavg_end"] = loadavg()
    save(results)
    log(f"measured in {results['meta']['measure_seconds']} s -> {os.path.relpath(RESULTS, ROOT)}")


if __name__ == "__main__":
    main()
