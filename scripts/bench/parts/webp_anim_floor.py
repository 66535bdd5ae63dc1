"""The animated part's encoder floor: libwebp's WebPAnimEncoder alone (through Pillow, libwebp 1.6) on frames
already decoded and resized, with the settings pixgate and sharp both use (lossy q80, method 4, keyframes off
as libwebp's own defaults, no mixed, no minimize_size). Neither tool can make the animation faster than
this encoder takes on its own, so the floor divided by sharp's whole op bounds the time ratio reachable with it.

    python3 webp_anim_floor.py INPUT WIDTH HEIGHT ITERATIONS WARMUP [SAVE]   (run pinned: taskset -c 1)

Prints one JSON line: ms per timed iteration, median, output bytes, the decode+resize time (not in the floor)."""
import io
import json
import statistics
import sys
import time

from PIL import Image, features


def main():
    path, w, h, iterations, warmup = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    save = sys.argv[6] if len(sys.argv) > 6 else None
    t = time.perf_counter()
    frames, durations = [], []
    with Image.open(path) as im:
        for i in range(im.n_frames):
            im.seek(i)
            frame = im.convert("RGBA")
            if frame.size != (w, h):
                frame = frame.resize((w, h), Image.LANCZOS)
            frames.append(frame)
            durations.append(im.info.get("duration", 0))
        loop = im.info.get("loop", 1)
    prepare_ms = (time.perf_counter() - t) * 1000
    int_max = 2**31 - 1

    def once():
        buf = io.BytesIO()
        frames[0].save(buf, "WEBP", save_all=True, append_images=frames[1:], duration=durations, loop=loop,
                       quality=80, method=4, lossless=False, allow_mixed=False, minimize_size=False,
                       kmin=int_max - 1, kmax=int_max, background=(255, 255, 255, 255))
        return buf.getvalue()

    for _ in range(warmup):
        once()
    ms, out = [], b""
    for _ in range(iterations):
        t = time.perf_counter()
        out = once()
        ms.append((time.perf_counter() - t) * 1000)
    if save:
        with open(save, "wb") as f:
            f.write(out)
    print(json.dumps({"op": "webp-anim-floor", "ms": ms, "median_ms": statistics.median(ms), "output_bytes": len(out),
                      "prepare_ms": prepare_ms, "libwebp": features.version("webp"), "saved": save}))


if __name__ == "__main__":
    main()
