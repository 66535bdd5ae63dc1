"""What every measurement shares: the paths, the settings read from the environment (once, by
settings_from_env, which main calls), and the small helpers (log, median, save, run, node_env,
free_port, proc_status, meta)."""
from __future__ import annotations

import dataclasses
import datetime
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # scripts/bench
ROOT = os.path.dirname(os.path.dirname(HERE))
WORK = os.path.join(ROOT, "target", "bench")
RESULTS = os.path.join(WORK, "results.json")

ALL_PARTS = ["pipeline", "server", "cold", "quality", "zip"]
CORE = "1"  # the core the one-core measurements are pinned to

T0 = time.monotonic()


@dataclasses.dataclass(frozen=True)
class Settings:
    """Everything the environment decides, read once (see settings_from_env)."""
    bin: str  # PIXGATE_BIN: the pixgate binary timed
    bin_given: bool  # PIXGATE_BIN_GIVEN: the binary was given, not built by scripts/bench/run
    bin_commit: str | None  # PIXGATE_BIN_COMMIT: the commit it was built from, if stated
    peer: str  # BENCH_PEER: the sharp peer with its node_modules
    img: str  # BENCH_IMG: the generated inputs
    shared: str  # BENCH_SHARED: ../shared (corpus, peers)
    command: str  # BENCH_COMMAND: how the run was started, for the report
    cargo_lambda_path: str | None  # BENCH_CARGO_LAMBDA_PATH: a bin dir with cargo-lambda (and python -m ziglang)
    lambda_zip_timeout: int  # LAMBDA_ZIP_TIMEOUT: seconds the arm64 build may take
    quick: bool  # QUICK: fewer iterations and requests
    rounds: int  # ROUNDS
    parts: list  # PARTS
    # Sizes of the work (QUICK keeps the structure, with less of everything).
    pipe_iter: int
    pipe_warmup: int
    djpeg_runs: int
    tjbench_secs: float
    load_reqs: int
    cold_runs: int


def settings_from_env(env=os.environ):
    """Reads and checks every knob; an unknown part or a missing PIXGATE_BIN stops the run."""
    if not env.get("PIXGATE_BIN"):
        sys.exit("PIXGATE_BIN is not set (scripts/bench/run sets it)")
    quick = env.get("QUICK", "") not in ("", "0")
    parts = [p.strip() for p in (env.get("PARTS") or ",".join(ALL_PARTS)).split(",") if p.strip()]
    for p in parts:
        if p not in ALL_PARTS:
            sys.exit(f"unknown part {p!r}: use {','.join(ALL_PARTS)}")
    return Settings(
        bin=env["PIXGATE_BIN"], bin_given=bool(env.get("PIXGATE_BIN_GIVEN")),
        bin_commit=env.get("PIXGATE_BIN_COMMIT"),
        peer=env.get("BENCH_PEER", os.path.join(WORK, "peer")),
        img=env.get("BENCH_IMG", os.path.join(WORK, "img")),
        shared=env.get("BENCH_SHARED", os.path.join(ROOT, "..", "shared")),
        command=env.get("BENCH_COMMAND", "scripts/bench/run"),
        cargo_lambda_path=env.get("BENCH_CARGO_LAMBDA_PATH") or None,
        lambda_zip_timeout=int(env.get("LAMBDA_ZIP_TIMEOUT", "1800")),
        quick=quick, rounds=int(env.get("ROUNDS") or (2 if quick else 5)), parts=parts,
        pipe_iter=4 if quick else 15, pipe_warmup=1 if quick else 3,
        djpeg_runs=5 if quick else 20, tjbench_secs=0.5 if quick else 1.0,
        load_reqs=16 if quick else 60, cold_runs=3 if quick else 10,
    )


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


def node_env(cfg, **extra):
    env = dict(os.environ, NODE_PATH=os.path.join(cfg.peer, "node_modules"))
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


def first_field(path, prefix, parse):
    """parse(rest of the first line of path that starts with prefix), or None."""
    try:
        for line in open(path):
            if line.startswith(prefix):
                return parse(line[len(prefix):])
    except (OSError, ValueError):
        pass
    return None


def meta(cfg):
    """The machine, the versions and the settings of this run (results.json's "meta")."""
    cpu = first_field("/proc/cpuinfo", "model name", lambda rest: rest.split(":", 1)[1].strip())
    mem_kb = first_field("/proc/meminfo", "MemTotal:", lambda rest: int(rest.split()[0]))
    os_name = first_field("/etc/os-release", "PRETTY_NAME=", lambda rest: rest.strip().strip('"'))
    sharp_versions = try_run(["node", "-e", "const s = require('sharp'); console.log(JSON.stringify("
                              "Object.assign({}, s.versions, {default_concurrency: s.concurrency()})))"],
                             env=node_env(cfg), cwd=cfg.peer)
    git_head = try_run(["git", "-C", ROOT, "rev-parse", "HEAD"])
    git_dirty = try_run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no", "--", "src", "Cargo.toml",
                         "Cargo.lock"])
    st = os.stat(cfg.bin)
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": cfg.command,
        "cpu": cpu, "cores": os.cpu_count(), "mem_gib": round(mem_kb / 1048576, 1) if mem_kb else None,
        "os": os_name, "kernel": platform.release(), "machine": platform.machine(),
        "rustc": try_run(["rustc", "-V"]),
        "git_head": git_head, "git_src_dirty": bool(git_dirty),
        "pixgate_bin": cfg.bin, "pixgate_bin_mtime": datetime.datetime.fromtimestamp(st.st_mtime, datetime.timezone.utc)
        .strftime("%Y-%m-%d %H:%M UTC"), "pixgate_bin_bytes": st.st_size,
        "pixgate_bin_given": cfg.bin_given,
        "pixgate_bin_commit": cfg.bin_commit,
        "pixgate_version": try_run([cfg.bin, "--version"]),
        "node": try_run(["node", "--version"]),
        "sharp": json.loads(sharp_versions) if sharp_versions else None,
        "djpeg": (try_run(["sh", "-c", "djpeg -version 2>&1 | head -1"]) or None) if shutil.which("djpeg") else None,
        "rounds": cfg.rounds, "quick": cfg.quick, "parts": cfg.parts,
        "sizes": {"pipeline_iterations": cfg.pipe_iter, "pipeline_warmup": cfg.pipe_warmup,
                  "djpeg_runs": cfg.djpeg_runs, "tjbench_secs": cfg.tjbench_secs, "load_requests": cfg.load_reqs,
                  "cold_runs": cfg.cold_runs},
        "loadavg_start": loadavg(),
    }
