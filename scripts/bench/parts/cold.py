"""(c) Cold start: spawn -> first GET /healthz answered, pixgate serve against node server.js; and the
Lambda init path of the same binary against the fake Runtime API (fake_runtime.py)."""
from .common import log, median, save
from .fake_runtime import FakeRuntime
from .server import Server


def part_cold(cfg, results):
    log(f"(c) cold start: exec -> first GET /healthz answered 200, {cfg.cold_runs} alternating runs each "
        f"(+1 untimed each first); Lambda init against a fake Runtime API")
    cold = {"serve": [], "node": [], "lambda": [], "runs": cfg.cold_runs}
    results["cold_start"] = cold
    for who in ("pixgate", "sharp"):  # untimed: page cache warm for both
        s = Server(cfg, who).start()
        try:
            s.wait_healthy()
        finally:
            s.stop()
    for r in range(cfg.cold_runs):
        for who in (["pixgate", "sharp"] if r % 2 == 0 else ["sharp", "pixgate"]):
            s = Server(cfg, who).start()
            try:
                ms = s.wait_healthy()
            finally:
                s.stop()
            cold["serve" if who == "pixgate" else "node"].append(ms)
    log(f"  pixgate serve median {median(cold['serve']):.1f} ms, node server.js median {median(cold['node']):.1f} ms")
    rt = FakeRuntime(cfg.bin)
    try:
        rt.one_run()  # untimed
        for _ in range(cfg.cold_runs):
            cold["lambda"].append(rt.one_run())
    finally:
        rt.shutdown()
    good = [x for x in cold["lambda"] if x["ok"]]
    if good:
        log(f"  Lambda: spawn -> first /next median {median([x['next_ms'] for x in good]):.1f} ms, "
            f"-> response posted median {median([x['response_ms'] for x in good]):.1f} ms "
            f"({len(good)}/{len(cold['lambda'])} ok)")
    else:
        log(f"  Lambda init path failed: {cold['lambda'][-1] if cold['lambda'] else 'no runs'}")
    save(results)
