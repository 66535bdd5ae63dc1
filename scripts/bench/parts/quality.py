"""(d) Output quality: SSIM of pixgate's and sharp's profile/image outputs against a Pillow full-decode
Lanczos3 reference, the JPEG q80 ceiling, and output bytes vs sharp, over the corpus JPEGs."""
import csv
import io
import os
import re
import shutil

from .common import WORK, log, save
from .pipeline import pixgate_ops, sharp_ops


def gaussian_ssim(a, b):
    """Mean SSIM (Wang et al. 2004) of two luma planes: 11x11 Gaussian window, sigma 1.5, K1 0.01,
    K2 0.03, L 255, computed over the 'valid' region (the window entirely inside the image)."""
    import numpy as np
    x = np.arange(11) - 5
    w = np.exp(-(x ** 2) / (2 * 1.5 ** 2))
    w /= w.sum()

    def filt(img):
        if img.shape[0] < 11 or img.shape[1] < 11:
            raise ValueError("image smaller than the 11x11 window")
        h = sum(w[k] * img[:, k:img.shape[1] - 10 + k] for k in range(11))
        return sum(w[k] * h[k:h.shape[0] - 10 + k, :] for k in range(11))

    a = a.astype(np.float64)
    b = b.astype(np.float64)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mu_a, mu_b = filt(a), filt(b)
    saa = filt(a * a) - mu_a ** 2
    sbb = filt(b * b) - mu_b ** 2
    sab = filt(a * b) - mu_a * mu_b
    ssim = ((2 * mu_a * mu_b + c1) * (2 * sab + c2)) / ((mu_a ** 2 + mu_b ** 2 + c1) * (saa + sbb + c2))
    return float(ssim.mean())


def luma(im):
    import numpy as np
    rgb = np.asarray(im.convert("RGB"), dtype=np.float64)
    return rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114


def reference_source(path):
    """Full decode (no draft/DCT scaling), EXIF orientation applied, embedded ICC converted to sRGB."""
    from PIL import Image, ImageCms, ImageOps
    im = Image.open(path)
    im.load()
    icc = im.info.get("icc_profile")
    im = ImageOps.exif_transpose(im)
    icc_converted = False
    if icc:
        try:
            src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            im = ImageCms.profileToProfile(im, src, ImageCms.createProfile("sRGB"),
                                           outputMode="RGB" if im.mode != "CMYK" else "RGB")
            icc_converted = True
        except Exception:  # noqa: BLE001 - an unreadable profile: compare in the decoded space
            pass
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        im = Image.alpha_composite(white, rgba)
    return im.convert("RGB"), icc_converted


def quality_inputs(cfg):
    rows = []
    manifest = os.path.join(cfg.shared, "corpus", "images", "manifest.tsv")
    with open(manifest, newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            try:
                px = int(row["width"]) * int(row["height"])
            except ValueError:
                continue
            if row["format"] == "JPEG" and row["expected"].startswith("accept") and px >= 1_000_000:
                rows.append((row["file"], os.path.join(cfg.shared, "corpus", "images", row["file"]), row["category"]))
    rows.append(("phone-12mp.jpg (generated)", os.path.join(cfg.img, "phone-12mp.jpg"), "bench input"))
    rows.append(("phone-12mp-noisy.jpg (generated)", os.path.join(cfg.img, "phone-12mp-noisy.jpg"), "bench input"))
    return rows


def part_quality(cfg, results):
    from PIL import Image
    inputs = quality_inputs(cfg)
    log(f"(d) quality: {len(inputs)} JPEGs x (profile, image): SSIM vs Pillow full decode + LANCZOS, size vs sharp")
    rows = []
    results["quality"] = rows
    base = os.path.join(WORK, "quality")
    shutil.rmtree(base, ignore_errors=True)
    for name, path, category in inputs:
        d = os.path.join(base, re.sub(r"[^A-Za-z0-9._-]", "_", name))
        os.makedirs(os.path.join(d, "pixgate"))
        os.makedirs(os.path.join(d, "sharp"))
        pixgate_ops(cfg, path, ["profile", "image"], 1, 0, os.path.join(d, "pixgate"))
        sharp_ops(cfg, path, ["profile", "image"], 1, 0, os.path.join(d, "sharp"))
        src, icc_converted = reference_source(path)
        row = {"name": name, "category": category, "source_size": list(Image.open(path).size),
               "icc_converted": icc_converted}
        refs = {}
        for op in ("profile", "image"):
            entry = {}
            for who in ("pixgate", "sharp"):
                out = os.path.join(d, who, op)
                with Image.open(out) as im:
                    im.load()
                    size, fmt = im.size, im.format
                    if size not in refs:
                        refs[size] = luma(src.resize(size, Image.LANCZOS))
                    entry[who] = {"size": list(size), "format": fmt, "bytes": os.path.getsize(out),
                                  "ssim": gaussian_ssim(luma(im), refs[size])}
            entry["bytes_ratio"] = entry["pixgate"]["bytes"] / entry["sharp"]["bytes"]
            # The codec's ceiling: the reference itself through JPEG q80 (Pillow's libjpeg, 4:2:0). No JPEG
            # q80 output can be expected to score much above this.
            size = tuple(entry["pixgate"]["size"])
            buf = io.BytesIO()
            src.resize(size, Image.LANCZOS).save(buf, "JPEG", quality=80)
            buf.seek(0)
            with Image.open(buf) as im:
                entry["ceiling_ssim"] = gaussian_ssim(luma(im), refs[size])
            row[op] = entry
        rows.append(row)
        log(f"  {name}: profile SSIM {row['profile']['pixgate']['ssim']:.4f} (sharp "
            f"{row['profile']['sharp']['ssim']:.4f}, q80 ceiling {row['profile']['ceiling_ssim']:.4f}) bytes "
            f"x{row['profile']['bytes_ratio']:.2f}; image SSIM {row['image']['pixgate']['ssim']:.4f} (sharp "
            f"{row['image']['sharp']['ssim']:.4f}, ceiling {row['image']['ceiling_ssim']:.4f}) "
            f"bytes x{row['image']['bytes_ratio']:.2f}")
        save(results)
