"""(a) Pipeline ops on one core: `pixgate bench` against scripts/bench/sharp-ops.js, each pair back to
back, plus the libjpeg-turbo floor (djpeg, tjbench). Also the two op runners quality.py reuses."""
import json
import os
import re
import shutil
import subprocess
import tempfile
import time

from .common import CORE, HERE, log, median, node_env, run, save

WEBP_QUERY = "transform:w=1920&h=1080&fit=inside&f=webp"  # = sharp's webp op (1440x1080 from 4:3, q80)
PROFILE_JPEG_QUERY = "transform:w=200&h=200&fit=inside&f=jpeg"  # = sharp's profile op on RGBA (flattened)
IMAGE_JPEG_QUERY = "transform:w=1920&h=1080&fit=inside&f=jpeg"  # = sharp's image op on RGBA (flattened)

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


def op_args(path, ops, iterations, warmup, save_dir):
    """The command-line tail both op runners take."""
    args = ["--input", path, "--iterations", str(iterations), "--warmup", str(warmup)]
    for op in ops:
        args += ["--op", op]
    if save_dir:
        args += ["--save-dir", save_dir]
    return args


def json_lines(out):
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def pixgate_ops(cfg, path, ops, iterations, warmup, save_dir=None):
    cmd = ["taskset", "-c", CORE, cfg.bin, "bench"] + op_args(path, ops, iterations, warmup, save_dir)
    return json_lines(run(cmd, env=dict(os.environ, RUST_LOG="warn")))


def sharp_ops(cfg, path, ops, iterations, warmup, save_dir=None):
    cmd = (["taskset", "-c", CORE, "node", os.path.join(HERE, "sharp-ops.js")]
           + op_args(path, ops, iterations, warmup, save_dir))
    return json_lines(run(cmd, env=node_env(cfg, UV_THREADPOOL_SIZE="1"), cwd=cfg.peer))


def djpeg_loop(path, runs):
    """libjpeg-turbo's own djpeg at 1/8, one process per decode (so each time includes exec)."""
    if not shutil.which("djpeg"):
        return None

    def timed(cmd):
        ms = []
        for _ in range(runs):
            t = time.perf_counter()
            subprocess.run(cmd, check=True)
            ms.append((time.perf_counter() - t) * 1000)
        return ms

    cmd = ["taskset", "-c", CORE, "djpeg", "-scale", "1/8", "-outfile", os.devnull, path]
    subprocess.run(cmd, check=True)
    ms = timed(cmd)
    # the same loop with a process that does nothing: the exec cost inside each djpeg time
    true_ms = timed(["taskset", "-c", CORE, "true"])
    return {"ms": ms, "median_ms": median(ms), "exec_overhead_median_ms": median(true_ms)}


def tjbench_decode(cfg, path, scale):
    """libjpeg-turbo's tjbench: in-process decode loop (Debian's libjpeg-turbo), ms per decode."""
    if not shutil.which("tjbench"):
        return None
    with tempfile.TemporaryDirectory() as d:
        shutil.copy(path, d)
        cmd = ["taskset", "-c", CORE, "tjbench", os.path.basename(path), "-rgb", "-nowrite",
               "-benchtime", str(cfg.tjbench_secs), "-warmup", str(cfg.tjbench_secs / 2)]
        if scale:
            cmd += ["-scale", scale]
        out = subprocess.run(cmd, capture_output=True, text=True, cwd=d, timeout=120).stdout
    m = re.search(r"Decompress\s+-->\s+Frame rate:\s+([\d.]+) fps", out)
    return {"scale": scale, "fps": float(m.group(1)), "ms": 1000 / float(m.group(1))} if m else None


def part_pipeline(cfg, results):
    log(f"(a) pipeline ops, one core (taskset -c {CORE}), {cfg.rounds} rounds x {cfg.pipe_iter} iterations "
        f"(+{cfg.pipe_warmup} warm-up), pixgate and sharp back to back per op")
    rounds = []
    results["pipeline"] = {"iterations": cfg.pipe_iter, "warmup": cfg.pipe_warmup, "core": CORE, "rounds": rounds}
    for r in range(cfg.rounds):
        for name, pairs in PIPE_INPUTS:
            path = os.path.join(cfg.img, name)
            entry = {"round": r + 1, "input": name, "pixgate": {}, "sharp": {}, "order": []}
            for k, (pix_ops, sharp_op_map) in enumerate(pairs):
                order = ["pixgate", "sharp"] if (r + k) % 2 == 0 else ["sharp", "pixgate"]
                entry["order"].append(order)
                for who in order:
                    if who == "pixgate":
                        for line in pixgate_ops(cfg, path, list(pix_ops), cfg.pipe_iter, cfg.pipe_warmup):
                            entry["pixgate"][pix_ops[line["op"]]] = line
                    else:
                        for line in sharp_ops(cfg, path, list(sharp_op_map), cfg.pipe_iter, cfg.pipe_warmup):
                            entry["sharp"][sharp_op_map[line["op"]]] = line
            if name.endswith(".jpg"):
                entry["djpeg_1_8"] = djpeg_loop(path, cfg.djpeg_runs)
                entry["tjbench_1_8"] = tjbench_decode(cfg, path, "1/8")
                entry["tjbench_full"] = tjbench_decode(cfg, path, None)
            rounds.append(entry)
            p, s = entry["pixgate"], entry["sharp"]
            summary = ", ".join(f"{k} {p[k]['median_ms']:.1f}/{s[k]['median_ms']:.1f} ms"
                                for k in ("profile", "image", "webp") if k in p and k in s)
            log(f"  round {r + 1}/{cfg.rounds} {name}: pixgate/sharp {summary}")
            save(results)
