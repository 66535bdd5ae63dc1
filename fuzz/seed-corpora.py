#!/usr/bin/env python3
"""Writes the starting corpora of the fuzz targets into fuzz/seeds/<target>/ from the team's
shared corpus (../shared/corpus) and the canonical-form vectors (tests/fixtures/canonical.json).
They are then minimised with `cargo fuzz cmin` into fuzz/corpus/<target>/, which is committed;
this script is kept so that the corpus can be rebuilt when the shared corpus grows.

- pipeline: every corpus image as it is, plus a 16x16 copy of each in its own format (made with
  ImageMagick when it is installed), so the fuzzer starts from files that decode under the
  target's small pixel limits. The first byte is the target's control byte.
- multipart: each captured request body, de-chunked, its boundary rewritten to the target's fixed
  one and each part's data cut to 64 bytes (the reader's paths do not depend on the data).
- transform_query, canonical_diff: each vector's query, with `\\0` and the Accept header if any.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(ROOT), "shared", "corpus")
OUT = os.path.join(ROOT, "fuzz", "seeds")
BOUNDARY = b"pixgate-fuzz-boundary"


def write(target, name, data):
    os.makedirs(os.path.join(OUT, target), exist_ok=True)
    with open(os.path.join(OUT, target, name), "wb") as f:
        f.write(data)


def pipeline():
    images = os.path.join(SHARED, "images")
    tmp = tempfile.mkdtemp()
    for i, name in enumerate(sorted(os.listdir(images))):
        if name == "manifest.tsv":
            continue
        with open(os.path.join(images, name), "rb") as f:
            data = f.read()
        write("pipeline", name, bytes([i % 64]) + data)
        if shutil.which("convert") and data:
            small = os.path.join(tmp, "small-" + name)
            ok = subprocess.run(
                ["convert", os.path.join(images, name) + "[0]", "-resize", "16x16!", small],
                capture_output=True,
            ).returncode == 0
            if ok and os.path.exists(small):
                with open(small, "rb") as f:
                    write("pipeline", "small-" + name, bytes([(i * 7) % 64]) + f.read())
    shutil.rmtree(tmp)


def dechunk(body):
    out, rest = b"", body
    while rest:
        line, _, rest = rest.partition(b"\r\n")
        size = int(line.split(b";")[0], 16)
        if size == 0:
            break
        out, rest = out + rest[:size], rest[size + 2:]
    return out


def multipart():
    folder = os.path.join(SHARED, "multipart")
    for i, name in enumerate(sorted(n for n in os.listdir(folder) if n.endswith(".http"))):
        with open(os.path.join(folder, name), "rb") as f:
            raw = f.read()
        head, _, body = raw.partition(b"\r\n\r\n")
        if re.search(rb"(?im)^transfer-encoding:\s*chunked", head):
            body = dechunk(body)
        found = re.search(rb"(?im)^content-type:.*boundary=\"?([^\";\r\n]+)", head)
        if found:
            body = body.replace(b"--" + found.group(1), b"--" + BOUNDARY)
        # Cut each part's data, keeping its headers and the delimiters around it.
        parts = body.split(b"--" + BOUNDARY)
        cut = []
        for part in parts:
            headers, sep, data = part.partition(b"\r\n\r\n")
            if sep and len(data) > 66:
                data = data[:64] + b"\r\n"
            cut.append(headers + sep + data)
        body = (b"--" + BOUNDARY).join(cut)
        for control in (0x7F, 0x80 | (i * 5 % 32)):
            write("multipart", f"{name}-{control:02x}", bytes([control]) + body)


def queries():
    with open(os.path.join(ROOT, "tests", "fixtures", "canonical.json")) as f:
        cases = json.load(f)["cases"]
    for case in cases:
        data = case["query"].encode()
        if case["accept"] is not None:
            data += b"\0" + case["accept"].encode()
        name = re.sub(r"[^A-Za-z0-9_.-]", "_", case["name"])
        write("transform_query", name, data)
        write("canonical_diff", name, data)


if __name__ == "__main__":
    shutil.rmtree(OUT, ignore_errors=True)
    pipeline()
    multipart()
    queries()
    for target in sorted(os.listdir(OUT)):
        print(target, len(os.listdir(os.path.join(OUT, target))), file=sys.stderr)
