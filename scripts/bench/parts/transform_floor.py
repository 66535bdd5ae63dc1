"""libwebp's encoder alone, for the transform part's WebP floor: encodes an already decoded and resized RGB image
(the Lanczos reference at the output's size) to lossy WebP with the settings both tools use (quality q, method 4,
libwebp's default preset), through Pillow, in a warm loop; prints one JSON line like `pixgate bench`.
    python3 transform_floor.py IMAGE WIDTH HEIGHT QUALITY ITERATIONS WARMUP
The source is decoded and resized before the loop, so only the encoder is timed."""
import io
import json
import statistics
import sys
import time

from PIL import Image, features


def main():
    path, w, h, q, iterations, warmup = sys.argv[1], *map(int, sys.argv[2:7])
    with Image.open(path) as im:
        pixels = im.convert("RGB").resize((w, h), Image.LANCZOS)
    out = b""

    def encode():
        buf = io.BytesIO()
        pixels.save(buf, "WEBP", quality=q, method=4)
        return buf.getvalue()

    for _ in range(warmup):
        encode()
    ms = []
    for _ in range(iterations):
        t = time.perf_counter()
        out = encode()
        ms.append((time.perf_counter() - t) * 1000)
    print(json.dumps({"op": f"libwebp-encode-{w}x{h}-q{q}", "iterations": iterations, "ms": ms,
                      "median_ms": statistics.median(ms), "output_bytes": len(out),
                      "libwebp": features.version("webp")}))


if __name__ == "__main__":
    main()
