#!/usr/bin/env python3
"""Very large phone photos through the direct upload path, with the server's peak memory.

For each size (108 MP 12000x9000 and 200 MP 16320x12240 by default), a phone-like JPEG is made
(gradients and sensor noise, quality 90, cached under target/bench/direct/), then a fresh
`pixgate serve` on a temporary data directory takes it the way a client would: POST
/direct/image/s3/multipart, the part URLs from the batch call, PUTs of 5 MiB parts to those URLs
(the disk staging area's own signed URLs), POST complete. The server's peak RSS (VmHWM) is read
from /proc before and after, and the time of the complete call (which joins, reads and processes
the staged original) is taken on the client.

The same file then goes through sharp in a fresh Node process (`rotate().resize(1920, 1080,
{fit: 'inside'}).jpeg()`, the image preset's box), its own peak RSS from process.resourceUsage().

Usage: scripts/bench/direct_upload.py PIXGATE_BIN [--sizes 12000x9000,16320x12240] [--rounds 3]
Needs Pillow (and numpy, for speed) and, for the sharp side, target/bench/peer/node_modules
(made by scripts/bench/run); without it the sharp side is skipped.
"""
import argparse
import json
import os
import pathlib
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parents[2]
WORK = ROOT / "target/bench/direct"
PEER = ROOT / "target/bench/peer"
PART = 5 << 20


def phone_jpeg(width, height):
    """A JPEG that compresses like a phone photo: smooth gradients under fine noise."""
    path = WORK / f"phone-{width}x{height}.jpg"
    if path.exists():
        return path
    WORK.mkdir(parents=True, exist_ok=True)
    from PIL import Image

    try:
        import numpy as np

        rng = np.random.default_rng(7)
        x = np.linspace(0, 1, width, dtype=np.float32)[None, :]
        y = np.linspace(0, 1, height, dtype=np.float32)[:, None]
        rows = []
        for start in range(0, height, 1024):
            yy = y[start:start + 1024]
            noise = rng.normal(0, 9, (yy.shape[0], width, 3)).astype(np.float32)
            base = np.stack(
                [60 + 150 * x + 0 * yy, 40 + 120 * yy + 0 * x, 90 + 60 * (x * yy)], axis=-1
            )
            rows.append(np.clip(base + noise, 0, 255).astype(np.uint8))
        image = Image.fromarray(np.concatenate(rows, axis=0), "RGB")
    except ImportError:
        noise = Image.effect_noise((width, height), 24)
        gradient = Image.linear_gradient("L").resize((width, height))
        image = Image.merge("RGB", (gradient, noise, gradient.transpose(Image.Transpose.FLIP_LEFT_RIGHT)))
    image.save(path, "JPEG", quality=90)
    return path


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def vm_kib(pid, field):
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field}")


def call(method, url, body=None, headers=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if body is not None:
        request.add_header("content-type", "application/json")
    with urllib.request.urlopen(request, timeout=600) as response:
        return response.status, dict(response.headers), response.read()


def direct_upload(base, photo):
    """The protocol as a client runs it; returns (seconds of the complete call, stored item)."""
    data = photo.read_bytes()
    endpoint = f"{base}/direct/image"
    _, _, raw = call("POST", f"{endpoint}/s3/multipart",
                     {"filename": photo.name, "type": "image/jpeg", "metadata": {}})
    created = json.loads(raw)
    upload_id, key = created["uploadId"], created["key"]
    quoted = urllib.parse.quote(key, safe="")
    count = (len(data) + PART - 1) // PART
    numbers = ",".join(str(n) for n in range(1, count + 1))
    _, _, raw = call("GET", f"{endpoint}/s3/multipart/{upload_id}/batch?key={quoted}&partNumbers={numbers}")
    urls = json.loads(raw)["presignedUrls"]
    parts = []
    for number in range(1, count + 1):
        chunk = data[(number - 1) * PART:number * PART]
        request = urllib.request.Request(urls[str(number)], data=chunk, method="PUT")
        with urllib.request.urlopen(request, timeout=600) as response:
            parts.append({"PartNumber": number, "ETag": response.headers["ETag"]})
    start = time.perf_counter()
    _, _, raw = call("POST", f"{endpoint}/s3/multipart/{upload_id}/complete?key={quoted}", {"parts": parts})
    return time.perf_counter() - start, json.loads(raw)


def run_pixgate(binary, photo):
    data_dir = tempfile.mkdtemp(prefix="pixgate-direct-")
    port = free_port()
    server = subprocess.Popen(
        [binary, "serve", "--addr", f"127.0.0.1:{port}", "--data-dir", data_dir],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                call("GET", f"{base}/healthz")
                break
            except OSError:
                time.sleep(0.05)
        idle = vm_kib(server.pid, "VmHWM")
        seconds, item = direct_upload(base, photo)
        peak = vm_kib(server.pid, "VmHWM")
        staged_left = list(pathlib.Path(data_dir, "incoming").glob("*"))
        return {
            "idle_rss_mib": idle / 1024,
            "peak_rss_mib": peak / 1024,
            "complete_s": seconds,
            "stored": f"{item['width']}x{item['height']}",
            "staged_left": len(staged_left),
        }
    finally:
        server.terminate()
        server.wait(timeout=30)
        subprocess.run(["rm", "-rf", data_dir], check=False)


SHARP = """
const fs = require('fs');
const sharp = require('sharp');
sharp.concurrency(1);
(async () => {
  const start = process.hrtime.bigint();
  const input = fs.readFileSync(process.argv[1]);
  const out = await sharp(input).rotate()
    .resize(1920, 1080, { fit: 'inside', withoutEnlargement: true }).jpeg({ quality: 80 })
    .toBuffer({ resolveWithObject: true });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  console.log(JSON.stringify({ seconds, maxRssKib: process.resourceUsage().maxRSS,
                               size: `${out.info.width}x${out.info.height}` }));
})();
"""


def run_sharp(photo):
    if not (PEER / "node_modules/sharp").exists():
        return None
    out = subprocess.run(["node", "-e", SHARP, str(photo)], cwd=PEER, capture_output=True,
                         text=True, check=True)
    result = json.loads(out.stdout)
    return {"peak_rss_mib": result["maxRssKib"] / 1024, "seconds": result["seconds"],
            "stored": result["size"]}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("--sizes", default="12000x9000,16320x12240")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    results = {}
    for size in args.sizes.split(","):
        width, height = (int(v) for v in size.split("x"))
        photo = phone_jpeg(width, height)
        runs = {"pixgate": [], "sharp": []}
        for _ in range(args.rounds):
            runs["pixgate"].append(run_pixgate(args.binary, photo))
            sharp = run_sharp(photo)
            if sharp:
                runs["sharp"].append(sharp)
        mp = width * height / 1e6
        summary = {
            "file_mib": photo.stat().st_size / 2**20,
            "megapixels": mp,
            "pixgate_peak_rss_mib": statistics.median(r["peak_rss_mib"] for r in runs["pixgate"]),
            "pixgate_idle_rss_mib": statistics.median(r["idle_rss_mib"] for r in runs["pixgate"]),
            "pixgate_complete_s": statistics.median(r["complete_s"] for r in runs["pixgate"]),
            "pixgate_stored": runs["pixgate"][0]["stored"],
            "staged_left": max(r["staged_left"] for r in runs["pixgate"]),
        }
        if runs["sharp"]:
            summary["sharp_peak_rss_mib"] = statistics.median(r["peak_rss_mib"] for r in runs["sharp"])
            summary["sharp_s"] = statistics.median(r["seconds"] for r in runs["sharp"])
            summary["rss_ratio_pixgate_to_sharp"] = summary["pixgate_peak_rss_mib"] / summary["sharp_peak_rss_mib"]
        results[size] = {"summary": summary, "runs": runs}
        print(json.dumps({size: summary}, indent=1), flush=True)
    WORK.mkdir(parents=True, exist_ok=True)
    (WORK / "results.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    sys.exit(main())
