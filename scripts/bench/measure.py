#!/usr/bin/env python3
"""Measures pixgate against sharp, alternating the two for every measurement; writes raw numbers to
target/bench/results.json (report.py turns them into BENCHMARKS.md). Run through scripts/bench/run,
which installs what this needs and sets PIXGATE_BIN, BENCH_PEER, BENCH_IMG, BENCH_SHARED.

env: ROUNDS (default 5; QUICK=1 -> 2), QUICK=1 (fewer iterations/requests), PARTS (comma list of
pipeline,server,cold,quality,zip; default all), LAMBDA_ZIP_TIMEOUT (seconds, default 1800). Only
127.0.0.1 is ever listened on or loaded. The parts themselves are in scripts/bench/parts/.
"""
import os
import time

from parts.cold import part_cold
from parts.common import RESULTS, ROOT, WORK, loadavg, log, meta, save, settings_from_env
from parts.lambda_zip import part_zip
from parts.pipeline import part_pipeline
from parts.quality import part_quality
from parts.server import part_server

PARTS = (("pipeline", part_pipeline), ("server", part_server), ("cold", part_cold), ("quality", part_quality),
         ("zip", part_zip))


def main():
    cfg = settings_from_env()
    os.makedirs(os.path.join(WORK, "tmp"), exist_ok=True)
    results = {"meta": meta(cfg)}
    m = results["meta"]
    log(f"pixgate {m['pixgate_version']} ({cfg.bin}); node {m['node']}; sharp {(m['sharp'] or {}).get('sharp')}; "
        f"rounds {cfg.rounds}{' QUICK' if cfg.quick else ''}; parts {','.join(cfg.parts)}; load average "
        f"{' '.join(m['loadavg_start'] or [])}")
    save(results)
    t = time.monotonic()
    for part, fn in PARTS:
        if part in cfg.parts:
            p0 = time.monotonic()
            fn(cfg, results)
            m.setdefault("part_seconds", {})[part] = round(time.monotonic() - p0)
    m["measure_seconds"] = round(time.monotonic() - t)
    m["loadavg_end"] = loadavg()
    save(results)
    log(f"measured in {m['measure_seconds']} s -> {os.path.relpath(RESULTS, ROOT)}")


if __name__ == "__main__":
    main()
