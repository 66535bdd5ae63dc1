"""The transform part's inputs and one-process runners: the stored originals (corpus photos uploaded through a
fresh `pixgate serve` as type=image, so they are what pixgate stores, plus full-size originals put in place as
the seed stored them), the same files under the same keys in the peer's SOURCE_DIR, the 50 MP source of the
worst case, and the runners of `pixgate bench --op transform:Q` and `scripts/bench/sharp-ops.js --op transform:Q` (each a
fresh process pinned to one core, its own peak RSS read through a small launcher)."""
from __future__ import annotations

import json
import mimetypes
import os
import shutil
import subprocess
import sys
import time
import urllib.request

from .common import CORE, HERE
from .transform_load import TransformServer

# Uploaded through pixgate (type=image: fit inside 1920x1080 / 1080x1920, JPEG q80): name -> corpus file.
UPLOADS = [("landscape-1440", "jolla.jpg"), ("wide-1920", "gain-map.jpg"), ("portrait-1080", "canon_hdr_NO.jpg")]
# Put in place as full-size files under the upload prefix (the seed stored originals as they came): name -> file
# in target/bench/img (make_images.py). pixgate's /img reads any image under its transform prefixes.
ORIGINALS = [("phone-12mp", "phone-12mp.jpg")]
WORST_SOURCE = (8660, 5773)  # the largest a source may decode to (--max-pixels 50 MP), as the README's table


def multipart(path):
    boundary = "pixgate-bench-" + os.urandom(8).hex()
    ctype = mimetypes.guess_type(path)[0] or "application/octet-stream"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{os.path.basename(path)}\""
            f"\r\nContent-Type: {ctype}\r\n\r\n").encode()
    with open(path, "rb") as f:
        body = head + f.read() + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def prepare_sources(binary, peer, shared, img_dir, out, log):
    """Fills out/data (pixgate's data dir) and out/src (the peer's SOURCE_DIR) with the same files under the
    same keys; returns [{name, key, width, height, bytes, how, path}] and writes out/sources.json. Reuses a
    previous preparation when its manifest and files are all there."""
    manifest = os.path.join(out, "sources.json")
    try:
        with open(manifest) as f:
            sources = json.load(f)
        if all(os.path.exists(s["path"]) and os.path.exists(os.path.join(out, "src", s["key"])) for s in sources):
            return sources
    except (OSError, ValueError, KeyError):
        pass
    from PIL import Image
    shutil.rmtree(out, ignore_errors=True)
    data, src = os.path.join(out, "data"), os.path.join(out, "src")
    os.makedirs(data)
    sources = []
    with TransformServer("pixgate", binary, peer, data, src, out) as srv:
        for name, file in UPLOADS:
            body, ctype = multipart(os.path.join(shared, "corpus", "images", file))
            req = urllib.request.Request(f"http://127.0.0.1:{srv.port}/upload?type=image", data=body, method="POST",
                                         headers={"content-type": ctype})
            with urllib.request.urlopen(req, timeout=120) as resp:
                item = json.loads(resp.read())[0]
            sources.append({"name": name, "key": item["key"], "width": item["width"], "height": item["height"],
                            "bytes": item["size"], "how": f"corpus {file} uploaded as type=image"})
            log(f"stored {file} as {item['key']} ({item['width']}x{item['height']}, {item['size']} bytes)")
    for name, file in ORIGINALS:
        key = f"images/originals/{file}"
        os.makedirs(os.path.dirname(os.path.join(data, key)), exist_ok=True)
        shutil.copyfile(os.path.join(img_dir, file), os.path.join(data, key))
        with Image.open(os.path.join(data, key)) as im:
            w, h = im.size
        sources.append({"name": name, "key": key, "width": w, "height": h, "bytes": os.path.getsize(os.path.join(data, key)),
                        "how": f"{file} (make_images.py) put in place full size, as the seed stored originals"})
    for s in sources:
        s["path"] = os.path.join(data, s["key"])
        os.makedirs(os.path.dirname(os.path.join(src, s["key"])), exist_ok=True)
        shutil.copyfile(s["path"], os.path.join(src, s["key"]))
    with open(manifest, "w") as f:
        json.dump(sources, f, indent=1)
    return sources


def worst_source(img_dir, out, log):
    """A 50 MP (8660x5773) JPEG q90 from the 12 MP input, Lanczos-upscaled: the largest source the defaults
    decode. Also put in place for both servers under images/originals/."""
    from PIL import Image
    path = os.path.join(out, "data", "images", "originals", "worst-50mp.jpg")
    if not os.path.exists(path):
        log("making the 50 MP worst-case source (Pillow, from phone-12mp.jpg)")
        with Image.open(os.path.join(img_dir, "phone-12mp.jpg")) as im:
            im.convert("RGB").resize(WORST_SOURCE, Image.LANCZOS).save(path + ".tmp.jpg", "JPEG", quality=90)
        os.replace(path + ".tmp.jpg", path)
    peer_copy = os.path.join(out, "src", "images", "originals", "worst-50mp.jpg")
    if not os.path.exists(peer_copy):
        shutil.copyfile(path, peer_copy)
    return {"key": "images/originals/worst-50mp.jpg", "path": path, "width": WORST_SOURCE[0],
            "height": WORST_SOURCE[1], "bytes": os.path.getsize(path)}


# Runs its arguments as a child and prints that child's own peak RSS as the last line (as scripts/bench/animated
# does): this script holds decoded images, and a forked child's ru_maxrss starts from its parent's memory.
LAUNCHER = (
    "import json, os, sys\n"
    "pid = os.fork()\n"
    "if pid == 0:\n"
    "    os.execvp(sys.argv[1], sys.argv[1:])\n"
    "_, status, usage = os.wait4(pid, 0)\n"
    "print(json.dumps({'maxrss_kib': usage.ru_maxrss, 'exit': os.waitstatus_to_exitcode(status)}))\n"
)


def launch(argv, env, cwd=None, timeout=900):
    """One fresh process pinned to CORE: (its JSON lines, its peak RSS MiB)."""
    argv = ["taskset", "-c", CORE, *argv]
    done = subprocess.run([sys.executable, "-S", "-c", LAUNCHER, *argv], env=env, cwd=cwd, capture_output=True,
                          timeout=timeout)
    lines = done.stdout.decode().strip().splitlines()
    launcher = json.loads(lines[-1]) if lines else {"exit": done.returncode}
    if done.returncode != 0 or launcher.get("exit") != 0:
        raise RuntimeError(f"{' '.join(argv)} failed (exit {launcher.get('exit')}): {done.stderr.decode()[-2000:]}")
    return [json.loads(x) for x in lines[:-1] if x.startswith("{")], launcher["maxrss_kib"] / 1024


class Runners:
    """The two in-process renderers, one fresh process each call, `taskset -c CORE`."""

    def __init__(self, binary, peer):
        self.binary = binary
        self.peer = peer
        self.pix_env = dict(os.environ, RUST_LOG="warn")
        self.node_env = dict(os.environ, NODE_PATH=os.path.join(peer, "node_modules"), UV_THREADPOOL_SIZE="1")

    def pixgate(self, path, queries, iterations, warmup, save_dir=None):
        args = [self.binary, "bench", "--input", path, "--iterations", str(iterations), "--warmup", str(warmup)]
        for q in queries:
            args += ["--op", f"transform:{q}"]
        if save_dir:
            args += ["--save-dir", save_dir]
        lines, rss = launch(args, self.pix_env)
        for line in lines:
            line["query"] = line["op"].split(":", 1)[1]
        return lines, rss

    def pixgate_op(self, path, op, iterations, warmup):
        """One of `pixgate bench`'s other ops (e.g. jpeg-decode-1/8), for a floor."""
        return launch([self.binary, "bench", "--input", path, "--op", op, "--iterations", str(iterations),
                       "--warmup", str(warmup)], self.pix_env)

    def sharp(self, path, queries, iterations, warmup, save_dir=None):
        args = ["node", os.path.join(HERE, "sharp-ops.js"), "--input", path, "--iterations", str(iterations),
                "--warmup", str(warmup)]
        for q in queries:
            args += ["--op", f"transform:{q}"]
        if save_dir:
            args += ["--save-dir", save_dir]
        lines, rss = launch(args, self.node_env, cwd=self.peer)
        for line in lines:
            line["query"] = line["op"].split(":", 1)[1]
        return lines, rss


def now():
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
