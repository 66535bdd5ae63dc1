#!/usr/bin/env python3
"""Prints a digest line per (corpus image, pipeline op): the SHA-256 of what `pixgate bench`
made, or the error it gave. Two builds that print the same lines store the same keys (a key's
hash part is the hash of the stored bytes) and render the same bytes, so diffing two runs checks
that a refactor changed no output. Usage: scripts/corpus-digest.py path/to/pixgate > digest.txt
(SHARED=dir for the shared folder, default ../shared beside the repo)."""
import hashlib
import os
import subprocess
import sys
import tempfile

OPS = [
    "profile",
    "image",
    "transform:w=200&h=150",
    "transform:w=300&f=jpeg&q=70",
    "transform:w=400&h=300&f=webp",
    "transform:w=120&h=120&fit=contain&f=png",
    "transform:w=160&h=90&fit=fill&f=webp&q=60",
    "transform:w=96&f=avif",
]


def main():
    binary = sys.argv[1]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    shared = os.environ.get("SHARED", os.path.join(root, "..", "shared"))
    images = os.path.join(shared, "corpus", "images")
    names = sorted(n for n in os.listdir(images) if n != "manifest.tsv")
    with tempfile.TemporaryDirectory() as out:
        for name in names:
            for op in OPS:
                print(f"{name}\t{op}\t{digest(binary, os.path.join(images, name), op, out)}", flush=True)


def digest(binary, path, op, out):
    cmd = [binary, "bench", "--input", path, "--op", op, "--iterations", "1", "--warmup", "0",
           "--save-dir", out]
    run = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, RUST_LOG="off"))
    if run.returncode != 0:
        return "error: " + run.stderr.strip().splitlines()[-1] if run.stderr.strip() else "error"
    saved = os.path.join(out, op.replace("/", "_").replace(":", "_").replace("&", "_").replace("=", "_"))
    with open(saved, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


if __name__ == "__main__":
    main()
