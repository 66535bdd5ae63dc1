"""libwebp's encoder alone, for the transform part's WebP floor: encodes an already decoded and resized RGB image
(the source, Lanczos-resized to the output's size) to lossy WebP at quality q with libwebp's simple API
`WebPEncodeRGB` (the default preset: method 4, as both tools use), called through ctypes on the libwebp that
Pillow bundles (pillow.libs/libwebp-*.so; 1.6.0 here, sharp's version), in a warm loop; prints one JSON line like
`pixgate bench`. Without that library it falls back to Pillow's WebP save (which goes through WebPAnimEncoder,
so it is a slower, looser floor; the line says which).
    python3 transform_floor.py IMAGE WIDTH HEIGHT QUALITY ITERATIONS WARMUP
The image is decoded and resized before the loop, so only the encoder (its RGB→YUV import included) is timed."""
import ctypes
import glob
import io
import json
import os
import statistics
import sys
import time

import PIL
from PIL import Image, features


def bundled_libwebp():
    libs = glob.glob(os.path.join(os.path.dirname(os.path.dirname(PIL.__file__)), "pillow.libs", "libwebp-*.so*"))
    if not libs:
        return None
    lib = ctypes.CDLL(libs[0])
    lib.WebPEncodeRGB.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_float,
                                  ctypes.POINTER(ctypes.c_void_p)]
    lib.WebPEncodeRGB.restype = ctypes.c_size_t
    lib.WebPFree.argtypes = [ctypes.c_void_p]
    return lib


def main():
    path, w, h, q, iterations, warmup = sys.argv[1], *map(int, sys.argv[2:7])
    with Image.open(path) as im:
        pixels = im.convert("RGB").resize((w, h), Image.LANCZOS)
    lib = bundled_libwebp()
    if lib:
        rgb = pixels.tobytes()
        version = lib.WebPGetEncoderVersion()
        how = f"WebPEncodeRGB, libwebp {version >> 16}.{(version >> 8) & 255}.{version & 255} (Pillow's)"

        def encode():
            out = ctypes.c_void_p()
            n = lib.WebPEncodeRGB(rgb, w, h, 3 * w, float(q), ctypes.byref(out))
            if not n:
                raise RuntimeError("WebPEncodeRGB failed")
            lib.WebPFree(out)
            return n
    else:
        how = f"Pillow WEBP save (WebPAnimEncoder), libwebp {features.version('webp')}"

        def encode():
            buf = io.BytesIO()
            pixels.save(buf, "WEBP", quality=q, method=4)
            return len(buf.getvalue())

    for _ in range(warmup):
        encode()
    ms, size = [], 0
    for _ in range(iterations):
        t = time.perf_counter()
        size = encode()
        ms.append((time.perf_counter() - t) * 1000)
    print(json.dumps({"op": f"libwebp-encode-{w}x{h}-q{q}", "iterations": iterations, "ms": ms,
                      "median_ms": statistics.median(ms), "output_bytes": size, "libwebp": how}))


if __name__ == "__main__":
    main()
