#!/usr/bin/env python3
"""Turns target/bench/results.json (written by measure.py) into BENCHMARKS.md and docs/bench-ratios.png.
Every ratio is pixgate / sharp (or ours / peer) per round, then the median over rounds and its min-max.
usage: python3 scripts/bench/report.py   (scripts/bench/run calls it; REPORT_ONLY=1 scripts/bench/run too)"""
import json
import os
import statistics

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
RESULTS = os.path.join(ROOT, "target", "bench", "results.json")
OUT_MD = os.path.join(ROOT, "BENCHMARKS.md")
OUT_PNG = os.path.join(ROOT, "docs", "bench-ratios.png")

# Lambda arm64 prices (us-east-1) and the memory sizes the cost table assumes.
PRICE_GB_S = 0.0000133334
PRICE_PER_M_REQ = 0.20
ONE_VCPU_MB = 1769
MEM_PIXGATE_MB = 512
MEM_SHARP_MB = 1536

OK, BAD = "✅", "❌"


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def spread(xs):
    xs = [x for x in xs if x is not None]
    return (min(xs), max(xs)) if xs else (None, None)


def f(x, nd=2):
    return "–" if x is None else f"{x:.{nd}f}"


def fr(xs, nd=2):
    """median (min–max)"""
    lo, hi = spread(xs)
    if lo is None:
        return "–"
    return f"{med(xs):.{nd}f} ({lo:.{nd}f}–{hi:.{nd}f})"


def check(value, op, target):
    if value is None:
        return "–"
    return OK if (value <= target if op == "<=" else value >= target) else BAD


def target_text(op, target):
    return f"{'≤' if op == '<=' else '≥'} {target:g}"


class Scorecard:
    """The rows with a target from the issue: ratio (median of per-round), min-max, target, verdict."""

    def __init__(self):
        self.rows = []

    def add(self, what, ratios, op, target, note="", chart=True, unit="×", nd=2):
        m = med(ratios)
        self.rows.append({"what": what, "ratios": [r for r in ratios if r is not None], "median": m, "op": op,
                          "target": target, "verdict": check(m, op, target), "note": note, "chart": chart,
                          "unit": unit, "nd": nd})


# ---------------------------------------------------------------------------------------------


def pipeline_section(res, card, out):
    p = res.get("pipeline")
    if not p:
        return
    rounds = p["rounds"]
    by_input = {}
    for e in rounds:
        by_input.setdefault(e["input"], []).append(e)

    def series(entries, who, label):
        return [e[who][label]["median_ms"] if label in e[who] else None for e in entries]

    def ratio(entries, a_who, a_label, b_who, b_label):
        out_r = []
        for e in entries:
            a, b = e[a_who].get(a_label), e[b_who].get(b_label)
            out_r.append(a["median_ms"] / b["median_ms"] if a and b else None)
        return out_r

    out.append("## (a) Pipeline ops, one core\n")
    out.append(f"`pixgate bench` and `scripts/bench/sharp-ops.js` (sharp with `sharp.concurrency(1)`, "
               f"`UV_THREADPOOL_SIZE=1`), both under `taskset -c {p['core']}`, one image held in memory, "
               f"{p['warmup']} warm-up + {p['iterations']} timed iterations per op per round; for each op the pixgate "
               f"process and the sharp process run back to back, the order flipping every round. Times: median over rounds of each round's median "
               f"(min–max over rounds). Ratio: pixgate / sharp per round, median (min–max).\n")
    out.append("| input | op | pixgate ms | sharp ms | ratio | target | |")
    out.append("|---|---|---:|---:|---:|---:|:-:|")
    specs = [
        ("phone-12mp.jpg", "12 MP JPEG", [("profile", "profile", "→ profile JPEG", 0.60),
                                          ("image", "image", "→ image JPEG", 0.60),
                                          ("webp", "webp", "→ WebP q80", 0.70)]),
        ("phone-12mp-noisy.jpg", "12 MP noisy JPEG", [("profile", "profile", "→ profile JPEG", 0.60),
                                                      ("image", "image", "→ image JPEG", 0.60),
                                                      ("webp", "webp", "→ WebP q80", 0.70)]),
        ("alpha-1.9mp.png", "1.9 MP RGBA PNG", [
            ("profile", "profile", "→ profile JPEG on white (equal work: `transform:w=200&h=200&fit=inside&f=jpeg`)", 0.60),
            ("image", "image", "→ image JPEG on white (equal work: `transform:w=1920&h=1080&fit=inside&f=jpeg`)", 0.60),
            ("profile-png-out", "profile", "→ profile, pixgate's upload op (keeps alpha: PNG out) vs sharp's JPEG", None),
            ("image-png-out", "image", "→ image, pixgate's upload op (keeps alpha: PNG out) vs sharp's JPEG", None)]),
    ]
    for name, label, ops in specs:
        entries = by_input.get(name, [])
        if not entries:
            continue
        for pix_label, sharp_label, desc, target in ops:
            rs = ratio(entries, "pixgate", pix_label, "sharp", sharp_label)
            verdict = check(med(rs), "<=", target) if target else "info"
            out.append(f"| {label} | {desc} | {fr(series(entries, 'pixgate', pix_label), 1)} | "
                       f"{fr(series(entries, 'sharp', sharp_label), 1)} | {fr(rs)} | "
                       f"{target_text('<=', target) if target else '(not the target row)'} | {verdict} |")
            if target:
                short = desc.split(" (")[0].replace("→ ", "→ ")
                card.add(f"{label} {short} (1 core)", rs, "<=", target)
    out.append("")
    out.append("On the PNG the target rows use pixgate's equal-work transform op: the same output as sharp's "
               "(alpha flattened on white, JPEG q80, same size). pixgate's upload op keeps real transparency and "
               "so writes a PNG, which is more work than sharp's JPEG; it is shown for information only.\n")

    # the floor
    out.append("### The decode floor (12 MP JPEG → profile)\n")
    out.append("The issue's floor is libjpeg-turbo decoding the file at 1/8 scale. It is measured three ways, "
               "each in the same rounds as the ops above: `pixgate bench --op jpeg-decode-1/8` (the libjpeg-turbo "
               "pixgate links, decode alone, in process: the strict floor the target row uses), Debian's "
               "`djpeg -scale 1/8` run once per decode (so each time includes an exec, shown separately) and "
               "Debian's `tjbench -scale 1/8` (in-process loop).\n")
    out.append("| input | pixgate profile ms | floor: pixgate decode-1/8 ms | djpeg -scale 1/8 ms per exec "
               "(exec alone) | tjbench 1/8 ms | tjbench full decode ms | profile / floor (in-process) | "
               "profile / djpeg | target | | floor / sharp's profile |")
    out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|:-:|---:|")
    floor_notes = []
    for name, label in (("phone-12mp.jpg", "12 MP JPEG"), ("phone-12mp-noisy.jpg", "12 MP noisy JPEG")):
        entries = by_input.get(name, [])
        if not entries:
            continue
        floor_r = ratio(entries, "pixgate", "profile", "pixgate", "decode-1/8")
        dj = [e.get("djpeg_1_8") for e in entries]
        dj_ms = [d["median_ms"] if d else None for d in dj]
        dj_exec = [d["exec_overhead_median_ms"] if d else None for d in dj]
        dj_r = [e["pixgate"]["profile"]["median_ms"] / d if d else None for e, d in zip(entries, dj_ms)]
        tj8 = [(e.get("tjbench_1_8") or {}).get("ms") for e in entries]
        tjf = [(e.get("tjbench_full") or {}).get("ms") for e in entries]
        floor_sharp = ratio(entries, "pixgate", "decode-1/8", "sharp", "profile")
        floor_notes.append((label, med(floor_sharp)))
        out.append(f"| {label} | {fr(series(entries, 'pixgate', 'profile'), 1)} | "
                   f"{fr(series(entries, 'pixgate', 'decode-1/8'), 1)} | {fr(dj_ms, 1)} ({f(med(dj_exec), 1)}) | "
                   f"{fr(tj8, 1)} | {fr(tjf, 1)} | {fr(floor_r)} | {fr(dj_r)} | ≤ 1.2 | "
                   f"{check(med(floor_r), '<=', 1.2)} | {fr(floor_sharp)} |")
        card.add(f"{label} → profile / 1/8 decode floor", floor_r, "<=", 1.2)
    djv = res["meta"].get("djpeg")
    out.append("")
    if floor_notes:
        out.append("The last column is the floor alone divided by sharp's whole profile op: a profile op cannot be "
                   "faster than its own 1/8 decode, so where that column is above 0.60 the \"≤ 0.60× sharp\" "
                   "profile target is out of reach for any pipeline built on libjpeg-turbo's scaled decode (here: "
                   + ", ".join(f"{label} {v:.2f}" for label, v in floor_notes if v is not None)
                   + "). The issue's own figures (sharp 23 ms, djpeg 1/8 18 ms) put it at 0.78.\n")
    out.append(f"djpeg/tjbench: {djv or 'not installed'} (Debian's build; pixgate bundles its own libjpeg-turbo "
               f"through the turbojpeg crate).\n")


def server_section(res, card, out, cost_inputs):
    s = res.get("server")
    if not s:
        return
    runs = s["runs"]
    out.append("## (b) Server under load\n")
    out.append(f"Release `pixgate serve` (fresh data dir, default workers: one per core) and the peer "
               f"(`node server.js`: busboy + sharp, libuv/sharp defaults), each started fresh for every "
               f"(type, concurrency) run so its peak RSS (VmHWM) is that load's. The peer's `load.sh` posts the "
               f"12 MP JPEG ({s['image']}) {s['requests']} times (after 2×c warm-up requests) with `ab -k` at "
               f"c=1 and c=4; pixgate and the peer alternate, order flipping each round. Ratios are ours / peer "
               f"per round, median (min–max). The load generator runs on the same 2 cores.\n")
    out.append("| type | c | pixgate req/s | peer req/s | req/s ratio (≥ 2) | | pixgate p99 ms | peer p99 ms | "
               "p99 ratio (≤ 0.5) | | pixgate peak RSS MiB | peer peak RSS MiB | RSS ratio (≤ 0.25) | |")
    out.append("|---|---:|---:|---:|---:|:-:|---:|---:|---:|:-:|---:|---:|---:|:-:|")
    failures = 0
    for typ in ("profile", "image"):
        for conc in (1, 4):
            pairs = {}
            for r in runs:
                if r["type"] == typ and r["conc"] == conc:
                    pairs.setdefault(r["round"], {})[r["server"]] = r["load"]
                    failures += r["load"]["failed"] + r["load"]["non2xx"]
            rounds = [v for _, v in sorted(pairs.items()) if "pixgate" in v and "sharp" in v]
            if not rounds:
                continue

            def col(who, key, scale=1.0):
                return [(v[who][key] / scale) if v[who][key] is not None else None for v in rounds]

            def rat(key, scale=1.0):
                a, b = col("pixgate", key, scale), col("sharp", key, scale)
                return [x / y if x is not None and y else None for x, y in zip(a, b)]

            rps_r, p99_r, rss_r = rat("rps"), rat("p99_ms"), rat("server_peak_rss_kb")
            out.append(f"| {typ} | {conc} | {fr(col('pixgate', 'rps'), 1)} | {fr(col('sharp', 'rps'), 1)} | "
                       f"{fr(rps_r)} | {check(med(rps_r), '>=', 2)} | {fr(col('pixgate', 'p99_ms'), 0)} | "
                       f"{fr(col('sharp', 'p99_ms'), 0)} | {fr(p99_r)} | {check(med(p99_r), '<=', 0.5)} | "
                       f"{fr(col('pixgate', 'server_peak_rss_kb', 1024), 0)} | "
                       f"{fr(col('sharp', 'server_peak_rss_kb', 1024), 0)} | {fr(rss_r)} | "
                       f"{check(med(rss_r), '<=', 0.25)} |")
            card.add(f"server {typ} c={conc}: req/s", rps_r, ">=", 2)
            card.add(f"server {typ} c={conc}: p99", p99_r, "<=", 0.5)
            card.add(f"server {typ} c={conc}: peak RSS", rss_r, "<=", 0.25)
            if conc == 1:
                cost_inputs[typ] = {
                    "pixgate_p50": med(col("pixgate", "p50_ms")), "sharp_p50": med(col("sharp", "p50_ms")),
                    "pixgate_rss": med(col("pixgate", "server_peak_rss_kb", 1024)),
                    "sharp_rss": med(col("sharp", "server_peak_rss_kb", 1024))}
    threads = {}
    for r in runs:
        threads.setdefault((r["server"], r["conc"]), []).append(r.get("threads_after"))
    out.append("")
    out.append(f"Failed or non-2xx responses over all runs: {failures}. Threads in the server process after "
               f"the load: pixgate {sorted(set(x for k, v in threads.items() if k[0] == 'pixgate' for x in v if x))}, "
               f"peer {sorted(set(x for k, v in threads.items() if k[0] == 'sharp' for x in v if x))}. "
               f"With only {s['requests']} requests per run, p99 is close to the slowest request.\n")


def cold_section(res, card, out):
    c = res.get("cold_start")
    if not c:
        return
    out.append("## (c) Cold start\n")
    out.append(f"Spawn → first `GET /healthz` answered 200, polled with connect + request about every 1 ms; "
               f"{c['runs']} runs each, alternating, after one untimed start of each (page cache warm).\n")
    out.append("| process | median ms (min–max) | target | |")
    out.append("|---|---:|---:|:-:|")
    out.append(f"| `pixgate serve` | {fr(c['serve'], 1)} | ≤ 20 | {check(med(c['serve']), '<=', 20)} |")
    out.append(f"| peer `node server.js` | {fr(c['node'], 1)} | (peer) | |")
    ratio = [a / b for a, b in zip(c["serve"], c["node"])]
    out.append(f"| ratio pixgate / peer | {fr(ratio)} | | |")
    card.add("cold start: exec → first /healthz answered (ms)", c["serve"], "<=", 20, chart=False, unit=" ms", nd=1)
    good = [x for x in c["lambda"] if x.get("ok")]
    out.append("")
    out.append("Lambda init path: the release binary started with `AWS_LAMBDA_RUNTIME_API` pointing at a fake "
               "Runtime API (Python, 127.0.0.1; `PIXGATE_STORAGE=fs`), which hands it one API Gateway v2 "
               "`GET /healthz` event.\n")
    out.append("| Lambda path | median ms (min–max) |")
    out.append("|---|---:|")
    out.append(f"| spawn → first `GET /2018-06-01/runtime/invocation/next` (init done) | "
               f"{fr([x['next_ms'] for x in good], 1)} |")
    out.append(f"| spawn → response posted to `/invocation/{{id}}/response` (one request served) | "
               f"{fr([x['response_ms'] for x in good], 1)} |")
    out.append(f"\n{len(good)} of {len(c['lambda'])} invocations answered statusCode 200.\n")


def quality_section(res, card, out):
    q = res.get("quality")
    if not q:
        return
    out.append("## (d) Quality\n")
    out.append("Every JPEG photo in `../shared/corpus/images` that the manifest accepts and that has ≥ 1 MP, plus the "
               "two generated 12 MP inputs. Reference: Pillow full decode (no DCT scaling), EXIF orientation "
               "applied (`ImageOps.exif_transpose`), an embedded ICC profile converted to sRGB, then Pillow "
               "`LANCZOS` (Lanczos3) straight to each output's size. SSIM: mean Gaussian-window SSIM on luma "
               "(BT.601), 11×11, σ 1.5, K1 0.01, K2 0.03, valid region. Bytes: pixgate / sharp, both JPEG q80.\n")
    out.append("| image | source | profile: pixgate SSIM | sharp SSIM | q80 ceiling | bytes ours/sharp | "
               "image: pixgate SSIM | sharp SSIM | q80 ceiling | bytes ours/sharp | output size (image) |")
    out.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for row in q:
        p, i = row["profile"], row["image"]
        icc = " (ICC→sRGB)" if row.get("icc_converted") else ""
        out.append(f"| {row['name']}{icc} | {row['source_size'][0]}×{row['source_size'][1]} | "
                   f"{p['pixgate']['ssim']:.4f} | {p['sharp']['ssim']:.4f} | {f(p.get('ceiling_ssim'), 4)} | "
                   f"{p['bytes_ratio']:.3f} | {i['pixgate']['ssim']:.4f} | {i['sharp']['ssim']:.4f} | "
                   f"{f(i.get('ceiling_ssim'), 4)} | {i['bytes_ratio']:.3f} | "
                   f"{i['pixgate']['size'][0]}×{i['pixgate']['size'][1]}"
                   + ("" if i['pixgate']['size'] == i['sharp']['size'] else
                      f" (sharp {i['sharp']['size'][0]}×{i['sharp']['size'][1]})") + " |")
    ssim_pix = [r[op]["pixgate"]["ssim"] for r in q for op in ("profile", "image")]
    ssim_sharp = [r[op]["sharp"]["ssim"] for r in q for op in ("profile", "image")]
    sizes = [r[op]["bytes_ratio"] for r in q for op in ("profile", "image")]
    ceiling = [r[op].get("ceiling_ssim") for r in q for op in ("profile", "image")]
    ceiling = [x for x in ceiling if x is not None]
    diff = [r[op]["pixgate"]["ssim"] - r[op]["sharp"]["ssim"] for r in q for op in ("profile", "image")]
    out.append("")
    out.append("| over all outputs | min | median | max | target | |")
    out.append("|---|---:|---:|---:|---:|:-:|")
    out.append(f"| pixgate SSIM | {min(ssim_pix):.4f} | {med(ssim_pix):.4f} | {max(ssim_pix):.4f} | "
               f"≥ 0.97 (every output) | {check(min(ssim_pix), '>=', 0.97)} |")
    out.append(f"| sharp SSIM | {min(ssim_sharp):.4f} | {med(ssim_sharp):.4f} | {max(ssim_sharp):.4f} | (peer) | "
               f"{check(min(ssim_sharp), '>=', 0.97)} |")
    if ceiling:
        out.append(f"| q80 ceiling: the reference itself saved as JPEG q80 (Pillow) | {min(ceiling):.4f} | "
                   f"{med(ceiling):.4f} | {max(ceiling):.4f} | | |")
    out.append(f"| pixgate SSIM − sharp SSIM (same output) | {min(diff):+.4f} | {med(diff):+.4f} | "
               f"{max(diff):+.4f} | | |")
    out.append(f"| bytes pixgate / sharp | {min(sizes):.3f} | {med(sizes):.3f} | {max(sizes):.3f} | ≤ 1.05 "
               f"(every output) | {check(max(sizes), '<=', 1.05)} |")
    out.append("")
    out.append("The q80 ceiling column is what JPEG q80 alone costs: the Lanczos3 reference itself, encoded at "
               "q80 and decoded, scored against itself. Where it is below 0.97 no q80 output can reach the "
               "issue's SSIM target, whatever its resize; compare pixgate with sharp and with that ceiling.\n")
    card.add("quality: lowest pixgate SSIM over the corpus outputs", [min(ssim_pix)], ">=", 0.97, chart=False,
             unit="", nd=4, note=f"sharp's lowest {min(ssim_sharp):.4f}"
             + (f", q80 ceiling's lowest {min(ceiling):.4f}" if ceiling else ""))
    card.add("quality: largest bytes ratio (JPEG q80)", [max(sizes)], "<=", 1.05,
             note=f"median {med(sizes):.3f}")


def zip_section(res, card, out):
    z = res.get("lambda_zip")
    if not z:
        return
    out.append("## (e) Lambda zip\n")
    a = z["arm64"]
    pr = z["proxy"]
    if a.get("built"):
        out.append(f"`{a['command']}` ({a['target']}; what template.yaml deploys: arm64, provided.al2023): "
                   f"**{a['bytes'] / 1e6:.2f} MB** ({a['bytes']:,} bytes, {a['bytes'] / 1048576:.2f} MiB; `bootstrap` "
                   f"{a['bootstrap_bytes'] / 1e6:.1f} MB unzipped; built in {a['build_s']} s) "
                   f"(target ≤ 10 MB: {check(a['bytes'] / 1e6, '<=', 10)}).\n")
        card.add("release Lambda zip, arm64 (MB)", [a["bytes"] / 1e6], "<=", 10, chart=False, unit=" MB")
        out.append(f"For comparison, the benched {pr['arch']} release binary ({pr['binary_bytes'] / 1e6:.1f} MB, "
                   f"stripped) zipped the same way (one `bootstrap`, deflate): {pr['zip_bytes'] / 1e6:.2f} MB.\n")
        return
    out.append(f"arm64 zip: **not built here** — {a['reason']}.\n")
    out.append(f"Stand-in measured on this machine: the {pr['arch']} release binary ({pr['binary_bytes'] / 1e6:.1f} MB, "
               f"stripped) zipped the way cargo-lambda packs it (one `bootstrap`, deflate): "
               f"**{pr['zip_bytes'] / 1e6:.2f} MB**. The arm64 build is expected to be of similar size; it is "
               f"not the target measurement.\n")


def cost_section(res, out, cost_inputs):
    if not cost_inputs:
        return
    out.append("## Cost on Lambda arm64\n")
    out.append(f"Assumptions: arm64 price ${PRICE_GB_S:.10f} per GB-s and ${PRICE_PER_M_REQ:.2f} per million requests "
               f"(us-east-1), billed per 1 ms; one upload per invocation, warm (cold starts excluded); duration = "
               f"the server's median p50 at c=1 above (HTTP + multipart + pipeline + write to disk; S3 upload "
               f"time not included, the same for both). Memory: pixgate {MEM_PIXGATE_MB} MB, sharp "
               f"{MEM_SHARP_MB} MB (a common setting for sharp Lambdas); measured peak RSS at c=1 is shown "
               f"beside them. Lambda's CPU share grows with memory up to one vCPU at {ONE_VCPU_MB} MB: "
               f"column A uses the measured times as they are (as if each function had a full core); column B "
               f"stretches CPU-bound time by {ONE_VCPU_MB}/MB below {ONE_VCPU_MB} MB, which makes the cost of "
               f"CPU-bound work nearly independent of the memory setting. The c=1 times were taken on 2 cores: "
               f"sharp's default here is one libvips thread per image, but Node's event loop (busboy) and "
               f"pixgate's runtime can use the second core next to the image work, which Lambda below "
               f"{ONE_VCPU_MB} MB does not give either of them.\n")
    out.append("| upload | function | memory MB | peak RSS MiB (c=1) | duration ms | A: $ per 1M | "
               "B: duration ms at that memory | B: $ per 1M |")
    out.append("|---|---|---:|---:|---:|---:|---:|---:|")

    def cost(mem_mb, dur_ms):
        billed = int(-(-dur_ms // 1))
        return 1e6 * (mem_mb / 1024) * (billed / 1000) * PRICE_GB_S + PRICE_PER_M_REQ

    ratios = {}
    for typ in ("profile", "image"):
        c = cost_inputs.get(typ)
        if not c or c["pixgate_p50"] is None:
            continue
        for who, mem, dur, rss in (("pixgate", MEM_PIXGATE_MB, c["pixgate_p50"], c["pixgate_rss"]),
                                   ("sharp (Node)", MEM_SHARP_MB, c["sharp_p50"], c["sharp_rss"])):
            stretched = dur * max(1.0, ONE_VCPU_MB / mem)
            a, b = cost(mem, dur), cost(mem, stretched)
            ratios.setdefault(typ, {})[who] = (a, b)
            out.append(f"| {typ} | {who} | {mem} | {f(rss, 0)} | {dur:.0f} | ${a:.2f} | {stretched:.0f} | ${b:.2f} |")
    out.append("")
    for typ, v in ratios.items():
        if "pixgate" in v and "sharp (Node)" in v:
            out.append(f"- {typ}: pixgate costs {v['pixgate'][0] / v['sharp (Node)'][0]:.2f}× sharp's under A and "
                       f"{v['pixgate'][1] / v['sharp (Node)'][1]:.2f}× under B.")
    out.append("")


def chart(card):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    rows = [r for r in card.rows if r["chart"] and r["median"] is not None]
    if not rows:
        return False
    rows = list(reversed(rows))
    fig, ax = plt.subplots(figsize=(11, 0.36 * len(rows) + 1.5))
    ys = range(len(rows))
    meds = [r["median"] for r in rows]
    lo = [r["median"] - min(r["ratios"]) for r in rows]
    hi = [max(r["ratios"]) - r["median"] for r in rows]
    colors = ["#2e9d47" if r["verdict"] == OK else "#d0453a" for r in rows]
    ax.barh(list(ys), meds, xerr=[lo, hi], color=colors, alpha=0.85, capsize=2, error_kw={"lw": 0.8})
    for y, r in zip(ys, rows):
        ax.plot([r["target"], r["target"]], [y - 0.42, y + 0.42], color="black", lw=1.6)
        ax.text(max(max(r["ratios"]), r["target"]) * 1.06, y,
                f"{r['median']:.2f}  (target {target_text(r['op'], r['target'])})", va="center", fontsize=7)
    ax.set_yticks(list(ys))
    ax.set_yticklabels([r["what"] for r in rows], fontsize=7.5)
    ax.set_xscale("log")
    xmax = max(max(max(r["ratios"]), r["target"]) for r in rows) * 2.2
    xmin = min(min(min(r["ratios"]), r["target"]) for r in rows) / 1.5
    ax.set_xlim(xmin, xmax)
    ticks = [t for t in (0.1, 0.2, 0.25, 0.3, 0.5, 0.6, 0.7, 1, 1.2, 1.5, 2, 3, 5, 10) if xmin <= t <= xmax]
    ax.set_xticks(ticks)
    ax.set_xticklabels([f"{t:g}" for t in ticks], fontsize=7.5)
    ax.minorticks_off()
    ax.axvline(1.0, color="grey", lw=0.6, ls=":")
    ax.set_xlabel("ratio, log scale: pixgate / sharp (floor rows: pixgate profile / pixgate 1/8 decode)\n"
                  "bar = median of per-round ratios, whiskers min–max, black tick = target; green met, red missed",
                  fontsize=7.5)
    ax.set_title("pixgate vs sharp, same machine, alternating rounds", fontsize=10)
    fig.subplots_adjust(left=0.3, right=0.98, top=1 - 0.45 / fig.get_figheight(),
                        bottom=0.75 / fig.get_figheight())
    os.makedirs(os.path.dirname(OUT_PNG), exist_ok=True)
    fig.savefig(OUT_PNG, dpi=130)
    plt.close(fig)
    return True


# The sections other scripts measure and write into BENCHMARKS.md themselves, between these markers.
KEPT = [("<!-- big-jpeg: written by scripts/bench/big-jpeg -->", "<!-- /big-jpeg -->"),
        ("<!-- animated: written by scripts/bench/animated -->", "<!-- /animated -->"),
        ("<!-- transform: written by scripts/bench/transform -->", "<!-- /transform -->")]


def kept_sections():
    """The blocks other scripts wrote into BENCHMARKS.md (see KEPT), as they stand, in KEPT's order."""
    try:
        text = open(OUT_MD).read()
    except FileNotFoundError:
        return []
    blocks = []
    for start_marker, end_marker in KEPT:
        start, end = text.find(start_marker), text.find(end_marker)
        if 0 <= start < end:
            blocks.append(text[start:end + len(end_marker)] + "\n")
    return blocks


def animated_card(res, card):
    """The animated part's target rows (scripts/bench/animated measures them and writes its own section;
    its raw numbers are results.json's "animated" when it ran after measure.py)."""
    a = res.get("animated")
    if not a or not a.get("complete"):
        return
    for name, label in (("pan-640x360-150f.gif", "640×360 150 f"), ("pan-2400x1350-60f.gif", "2400×1350 60 f"),
                        ("clip-480x270-500f.gif", "480×270 500 f")):
        ratios = [e["ratio"] for e in a.get("timing", []) if e["input"] == name]
        if ratios:
            card.add(f"animated GIF {label} → WebP: time (1 core)", ratios, "<=", 0.6)
    for name, label in (("pan-640x360-150f.gif", "640×360 150 f"), ("pan-2400x1350-60f.gif", "2400×1350 60 f"),
                        ("clip-480x270-500f.gif", "480×270 500 f")):
        q = (a.get("quality") or {}).get(name)
        if q and q.get("bytes_ratio_equal_ssim"):
            card.add(f"animated GIF {label} → WebP: bytes at equal SSIM", [q["bytes_ratio_equal_ssim"]], "<=", 1.0,
                     note=f"q80 vs q80: {q['bytes_ratio_q80']:.3f}")


def main():
    res = json.load(open(RESULTS))
    m = res["meta"]
    card = Scorecard()
    body, cost_inputs = [], {}
    pipeline_section(res, card, body)
    server_section(res, card, body, cost_inputs)
    cold_section(res, card, body)
    quality_section(res, card, body)
    zip_section(res, card, body)
    cost_section(res, body, cost_inputs)
    animated_card(res, card)
    has_chart = chart(card)

    out = ["# Benchmarks: pixgate vs sharp\n"]
    out.append("<!-- generated by scripts/bench/run (scripts/bench/report.py); edits are overwritten -->\n")
    out.append(f"Measured {m['date']} with `{m['command']}`"
               + (" (QUICK: fewer iterations and requests; a trial, not the reference numbers)" if m["quick"] else "")
               + f": {m['rounds']} alternating rounds. Every figure that has a target is a ratio against sharp "
               f"measured in the same run on the same machine, pixgate and sharp taking turns, so machine noise "
               f"hits both; absolute times on this shared 2-core machine are noisy and only there for context. "
               f"Raw numbers: `target/bench/results.json`.\n")
    bin_note = (f"`{m['pixgate_bin']}` (given with PIXGATE_BIN, file time "
                f"{m['pixgate_bin_mtime']})" if m.get("pixgate_bin_given") else
                f"`cargo build --release --locked` of the checkout ({m['pixgate_bin_mtime']})")
    sharp_v = m.get("sharp") or {}
    out.append("| | |")
    out.append("|---|---|")
    out.append(f"| machine | {m['cpu']}, {m['cores']} cores, {m['mem_gib']} GiB, {m['os']}, Linux {m['kernel']} "
               f"({m['machine']}) |")
    out.append(f"| load average at start / end | {' '.join(m.get('loadavg_start') or [])} / "
               f"{' '.join(m.get('loadavg_end') or [])} |")
    built_from = (f"commit {m['pixgate_bin_commit'][:12]}" if m.get("pixgate_bin_commit") else
                  "the commit of the checkout" if not m.get("pixgate_bin_given") else "an unstated commit")
    out.append(f"| pixgate | binary {bin_note}, built from {built_from}; checkout at "
               f"{m['git_head'][:12] if m.get('git_head') else '?'}"
               f"{' with uncommitted edits under src/' if m.get('git_src_dirty') else ''}; {m['rustc']} |")
    out.append(f"| peer | node {m['node']}, sharp {sharp_v.get('sharp', '?')}, libvips {sharp_v.get('vips', '?')}, "
               f"JPEG codec mozjpeg {sharp_v.get('mozjpeg', '?')}, libwebp {sharp_v.get('webp', '?')}; sharp's "
               f"default concurrency here (libvips threads per image, as the peer server runs): "
               f"{sharp_v.get('default_concurrency', '?')} |")
    out.append(f"| runtime | {m.get('measure_seconds', '?')} s of measuring "
               + (f"({', '.join(f'{k} {v} s' for k, v in m.get('part_seconds', {}).items())})" if m.get('part_seconds')
                  else "") + " |")
    out.append("")
    out.append("## Targets\n")
    if has_chart:
        out.append("![pixgate / sharp ratios with their targets](docs/bench-ratios.png)\n")
    out.append("| what | pixgate / sharp (median of rounds) | min–max | target | |")
    out.append("|---|---:|---:|---:|:-:|")
    for r in card.rows:
        lo, hi = spread(r["ratios"])
        rng = "" if len(r["ratios"]) < 2 else f"{lo:.{r['nd']}f}–{hi:.{r['nd']}f}"
        out.append(f"| {r['what']} | {r['median']:.{r['nd']}f}{r['unit']} | {rng} | "
                   f"{target_text(r['op'], r['target'])}{'' if r['unit'] == '×' else r['unit']} | {r['verdict']}"
                   f"{' ' + r['note'] if r['note'] else ''} |")
    met = sum(r["verdict"] == OK for r in card.rows)
    out.append(f"\n{met} of {len(card.rows)} targets met in this run.\n")
    missing = [p for p in ("pipeline", "server", "cold", "quality", "zip") if p not in m.get("parts", [])]
    if missing:
        out.append(f"Not measured in this run: {', '.join(missing)}.\n")
    out.extend(body)
    # scripts/bench/big-jpeg and scripts/bench/animated measure and write their own sections; a rerun of this
    # report keeps them.
    out.extend(kept_sections())
    out.append("## How to rerun\n")
    out.append("```\nscripts/bench/run                    # 10-20 min (machine load) plus the release and arm64 builds; ../shared beside the repo\n"
               "QUICK=1 scripts/bench/run            # a quick trial of the harness\n"
               "PIXGATE_BIN=path scripts/bench/run   # time an existing binary\n"
               "PARTS=animated scripts/bench/run     # one part (animated, big, transform: only their own sections are rewritten)\n```\n")
    out.append("It installs what it needs (apt: apache2-utils, nodejs/npm, libjpeg-turbo-progs; pip: Pillow, numpy, "
               "matplotlib, and for the zip part cargo-lambda, which brings zig; rustup: the aarch64-unknown-linux-gnu "
               "target), builds release, generates the inputs with `../shared/peers/make_images.py`, copies the "
               "peer to `target/bench/peer` and runs `npm ci` there. Everything listens on 127.0.0.1.\n")
    with open(OUT_MD, "w") as fh:
        fh.write("\n".join(out))
    print(f"report: {os.path.relpath(OUT_MD, ROOT)}" + (f", {os.path.relpath(OUT_PNG, ROOT)}" if has_chart else "")
          + f" ({met}/{len(card.rows)} targets met)")


if __name__ == "__main__":
    main()
