"""The animated part's media: makes its GIF inputs (deterministic: fixed seeds, Pillow + numpy), reads what an
animation declares (GIF and WebP containers walked block by block: frame count, per-frame delays, loop count)
and walks composited frames (Pillow) for the SSIM against a Lanczos reference. Used by scripts/bench/animated."""
from __future__ import annotations

import math
import os
import struct

SEED = 13  # issue 13

# name, canvas, frames, how it is made. Delays 40 ms, loop 0 (forever) for all.
INPUTS = [
    {"name": "pan-640x360-150f.gif", "size": (640, 360), "frames": 150, "kind": "pan",
     "what": "640×360, 150 frames: a noisy panning crop, a palette per frame"},
    {"name": "pan-2400x1350-60f.gif", "size": (2400, 1350), "frames": 60, "kind": "pan",
     "what": "2400×1350, 60 frames: the same, downscaled into the box"},
    {"name": "clip-480x270-500f.gif", "size": (480, 270), "frames": 500, "kind": "clip",
     "what": "480×270, 500 frames: a still scene with a moving subject, one palette, changed rectangles only"},
]
DELAY_MS = 40
PHOTO = "gain-map.jpg"  # 3840x2160 corpus photo (sharp's fixture): smooth gradients, light, fine lines


def _quantize(frame, palette=None):
    """What GIF encoders do to a frame: an adaptive 256-colour palette (median cut) unless one is given,
    then Floyd-Steinberg dithering onto it."""
    from PIL import Image
    if palette is None:
        palette = frame.quantize(256, method=Image.Quantize.MEDIANCUT)
    return frame.quantize(palette=palette, dither=Image.Dither.FLOYDSTEINBERG), palette


def _noisy(np, rgb, rng, sigma):
    noise = rng.normal(0.0, sigma, rgb.shape)
    return (rgb.astype(np.float32) + noise).clip(0, 255).astype(np.uint8)


def _pan_frames(photo, w, h, count):
    """A window of w x h panning across the photo (scaled so the pan covers about 1.6 windows across and
    1.6 down), right and down with a slow vertical wobble, sensor-like noise (sigma 3) per frame, a palette
    per frame (as ImageMagick, Photoshop and most converters write GIFs: local colour tables)."""
    import numpy as np
    from PIL import Image
    scale = max(w * 1.6 / photo.width, h * 1.6 / photo.height)
    src = photo if abs(scale - 1) < 1e-9 else photo.resize(
        (round(photo.width * scale), round(photo.height * scale)), Image.LANCZOS)
    src = np.asarray(src)
    span_x, span_y = src.shape[1] - w, src.shape[0] - h
    rng = np.random.RandomState(SEED)
    for i in range(count):
        t = i / max(1, count - 1)
        x = round(span_x * t)
        y = round(span_y * (0.5 + 0.45 * math.sin(2 * math.pi * t) * (1 - t) + 0.5 * t) * 0.999)
        y = min(max(y, 0), span_y)
        crop = _noisy(np, src[y:y + h, x:x + w], rng, 3.0)
        yield _quantize(Image.fromarray(crop, "RGB"))[0]


def _clip_frames(photo, w, h, count):
    """A still camera: the photo as background, a subject (a 4x zoomed 112x84 detail of the photo, with
    noise) gliding along a Lissajous path. One global palette, and each frame replaces only the rectangle
    that changed (as ffmpeg's paletteuse diff_mode=rectangle and gifski do), so 500 frames stay a few MB."""
    import numpy as np
    from PIL import Image
    bg = np.asarray(photo.resize((w, h), Image.LANCZOS))
    sw, sh = 112, 84
    detail = photo.crop((1700, 1100, 1700 + sw * 4, 1100 + sh * 4)).resize((sw, sh), Image.LANCZOS)
    detail = np.asarray(detail)
    rng = np.random.RandomState(SEED + 1)
    palette = None
    shown = None  # the quantised frame on screen so far (palette indices)
    prev_box = None
    for i in range(count):
        t = i / count
        x = round((w - sw) * (0.5 + 0.5 * math.sin(2 * math.pi * 3 * t)))
        y = round((h - sh) * (0.5 + 0.5 * math.sin(2 * math.pi * 2 * t + 0.7)))
        frame = bg.copy()
        frame[y:y + sh, x:x + sw] = _noisy(np, detail, rng, 4.0)
        q, palette = _quantize(Image.fromarray(frame, "RGB"), palette)
        q = np.asarray(q)
        box = (x, y, x + sw, y + sh)
        if shown is None:
            shown = q.copy()
        else:
            # the union of where the subject was and is: the only pixels that differ from the last frame
            x0, y0 = min(box[0], prev_box[0]), min(box[1], prev_box[1])
            x1, y1 = max(box[2], prev_box[2]), max(box[3], prev_box[3])
            shown[y0:y1, x0:x1] = q[y0:y1, x0:x1]
        prev_box = box
        im = Image.fromarray(shown.copy(), "P")
        im.putpalette(palette.getpalette())
        yield im


def make_inputs(shared, out_dir, log=print):
    """Writes every input missing from out_dir; returns {name: path}."""
    from PIL import Image
    os.makedirs(out_dir, exist_ok=True)
    paths = {}
    photo = None
    for spec in INPUTS:
        path = os.path.join(out_dir, spec["name"])
        paths[spec["name"]] = path
        if os.path.exists(path):
            continue
        if photo is None:
            photo = Image.open(os.path.join(shared, "corpus", "images", PHOTO)).convert("RGB")
        w, h = spec["size"]
        log(f"making {spec['name']} ({spec['what']})")
        maker = _pan_frames if spec["kind"] == "pan" else _clip_frames
        frames = list(maker(photo, w, h, spec["frames"]))
        tmp = path + ".tmp"
        frames[0].save(tmp, "GIF", save_all=True, append_images=frames[1:], duration=DELAY_MS, loop=0,
                       disposal=1, optimize=False)
        os.replace(tmp, path)
    return paths


# --- what a file declares ------------------------------------------------------------------------------


def gif_info(path):
    """A GIF's canvas, frames, per-frame delays (ms) and loop count as a WebP would store it (NETSCAPE
    block: 0 forever, n as written; none: 1)."""
    data = open(path, "rb").read()
    w, h, flags = struct.unpack_from("<HHB", data, 6)
    at = 13 + (3 * (2 << (flags & 7)) if flags & 0x80 else 0)
    delays, loop, delay = [], 1, 0
    while at < len(data):
        block = data[at]
        if block == 0x3B:
            break
        if block == 0x21:
            label = data[at + 1]
            at += 2
            first = True
            while data[at]:
                n = data[at]
                sub = data[at + 1:at + 1 + n]
                if label == 0xF9 and first:
                    delay = struct.unpack_from("<H", sub, 1)[0] * 10
                if label == 0xFF and first is False and sub[:1] == b"\x01" and len(sub) >= 3:
                    loop = struct.unpack_from("<H", sub, 1)[0]
                first = False
                at += 1 + n
            at += 1
        elif block == 0x2C:
            fl = data[at + 9]
            at += 10 + (3 * (2 << (fl & 7)) if fl & 0x80 else 0) + 1  # descriptor, local table, LZW min size
            while data[at]:
                at += 1 + data[at]
            at += 1
            delays.append(delay)
            delay = 0
        else:
            raise ValueError(f"{path}: unexpected GIF block 0x{block:02x} at {at}")
    return {"format": "GIF", "width": w, "height": h, "frames": len(delays), "durations_ms": delays,
            "loop": loop, "bytes": len(data)}


def webp_info(path):
    """A WebP's canvas, frames, per-frame durations (ms), loop count and whether it is lossy, from its
    chunks (VP8X, ANIM, ANMF with their VP8/VP8L/ALPH sub-chunks)."""
    data = open(path, "rb").read()
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise ValueError(f"{path}: not a WebP")
    info = {"format": "WebP", "animated": False, "frames": 0, "durations_ms": [], "loop": None,
            "codecs": set(), "alpha_chunks": 0, "bytes": len(data)}
    at = 12
    while at + 8 <= len(data):
        tag, size = data[at:at + 4], struct.unpack_from("<I", data, at + 4)[0]
        body = data[at + 8:at + 8 + size]
        if tag == b"VP8X":
            info["animated"] = bool(body[0] & 0x02)
            info["width"] = 1 + int.from_bytes(body[4:7], "little")
            info["height"] = 1 + int.from_bytes(body[7:10], "little")
        elif tag == b"ANIM":
            info["loop"] = struct.unpack_from("<H", body, 4)[0]
        elif tag == b"ANMF":
            info["frames"] += 1
            info["durations_ms"].append(int.from_bytes(body[12:15], "little"))
            sub = 16
            while sub + 8 <= len(body):
                stag, ssize = body[sub:sub + 4], struct.unpack_from("<I", body, sub + 4)[0]
                if stag == b"ALPH":
                    info["alpha_chunks"] += 1
                else:
                    info["codecs"].add(stag.decode().strip())
                sub += 8 + ssize + (ssize & 1)
        elif tag in (b"VP8 ", b"VP8L"):
            info["codecs"].add(tag.decode().strip())
            info["frames"] = info["frames"] or 1
        at += 8 + size + (size & 1)
    info["codecs"] = sorted(info["codecs"])
    return info


def declared(path):
    """gif_info or webp_info; any other image (a still JPEG or PNG) as one frame, no loop."""
    with open(path, "rb") as f:
        head = f.read(12)
    if head[:3] == b"GIF":
        return gif_info(path)
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return webp_info(path)
    from PIL import Image
    with Image.open(path) as im:
        return {"format": im.format, "animated": False, "width": im.width, "height": im.height, "frames": 1,
                "durations_ms": [0], "loop": None, "bytes": os.path.getsize(path)}


# --- frames ----------------------------------------------------------------------------------------------


def frames_rgb(path):
    """Every frame of an animation, composited onto its canvas as a player shows it (Pillow does GIF
    disposal and WebP blending), as (index, start ms, RGB image); also yields whether any pixel was not
    opaque through the frame's "transparent" flag in the tuple's 4th place."""
    from PIL import Image
    with Image.open(path) as im:
        t = 0
        for i in range(getattr(im, "n_frames", 1)):
            im.seek(i)
            frame = im.convert("RGBA")
            transparent = frame.getchannel("A").getextrema()[0] < 255
            if transparent:  # what a browser shows on a white page
                white = Image.new("RGBA", frame.size, (255, 255, 255, 255))
                frame = Image.alpha_composite(white, frame)
            yield i, t, frame.convert("RGB"), transparent
            t += im.info.get("duration", 0)
