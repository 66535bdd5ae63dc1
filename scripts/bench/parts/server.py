"""(b) The servers under the peer's load.sh at c=1 and c=4, a fresh server per run; and Server, a
pixgate or peer server on a free loopback port that cold.py starts too."""
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from .common import WORK, free_port, log, node_env, proc_status, save


class Server:
    """A fresh server on a free loopback port with its own data directory."""

    def __init__(self, cfg, kind):
        self.kind = kind
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix=f"bench-{kind}-", dir=os.path.join(WORK, "tmp"))
        self.log = open(os.path.join(self.dir, "server.log"), "wb")
        if kind == "pixgate":
            env = dict(os.environ, PIXGATE_ADDR=f"127.0.0.1:{self.port}", PIXGATE_STORAGE="fs",
                       PIXGATE_DATA_DIR=os.path.join(self.dir, "data"), RUST_LOG="warn")
            env.pop("AWS_LAMBDA_RUNTIME_API", None)
            self.cmd, self.cwd = [cfg.bin, "serve"], self.dir
        else:
            env = node_env(cfg, PORT=str(self.port), HOST="127.0.0.1", OUT_DIR=os.path.join(self.dir, "out"))
            self.cmd, self.cwd = ["node", "server.js"], cfg.peer
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


def part_server(cfg, results):
    configs = [("profile", 1), ("profile", 4), ("image", 1), ("image", 4)]
    img = os.path.join(cfg.img, "phone-12mp.jpg")
    log(f"(b) servers under load.sh: {cfg.rounds} rounds x {len(configs)} configs x 2 servers, {cfg.load_reqs} "
        f"requests each (+2*c warm-up), a fresh server per run")
    runs = []
    results["server"] = {"requests": cfg.load_reqs, "image": os.path.basename(img), "runs": runs}
    for r in range(cfg.rounds):
        for i, (typ, conc) in enumerate(configs):
            order = ["pixgate", "sharp"] if (r + i) % 2 == 0 else ["sharp", "pixgate"]
            line = []
            for who in order:
                srv = Server(cfg, who).start()
                try:
                    srv.wait_healthy()
                    out = subprocess.run([os.path.join(cfg.peer, "load.sh"), srv.url, typ, img, str(cfg.load_reqs),
                                          str(conc), str(srv.proc.pid)], check=True, capture_output=True, text=True,
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
            log(f"  round {r + 1}/{cfg.rounds} {typ} c={conc}: " + "; ".join(line))
            save(results)
