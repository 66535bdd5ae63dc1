"""(e) The Lambda zip: `cargo lambda build --release --arm64 --output-format zip` of the checkout (what
template.yaml deploys: arm64, provided.al2023) in its own target dir, target/lambda-arm64, so it never
waits on the main target dir's lock; plus the benched binary zipped the same way, for comparison."""
import os
import platform
import shutil
import signal
import subprocess
import time
import zipfile

from .common import ROOT, WORK, log, save, try_run

ARM64_TARGET = "aarch64-unknown-linux-gnu"
BINARY = "pixgate"  # template.yaml's BuildProperties Binary
TARGET_DIR = os.path.join(ROOT, "target", "lambda-arm64")
BUILD = ["cargo", "lambda", "build", "--release", "--locked", "--arm64", "--output-format", "zip", "--bin", BINARY]


def build_arm64(cfg, env):
    """Runs cargo lambda build; returns {"built": True, ...} with the zip's size, or {"built": False,
    "reason": ...}. The build's output goes to target/bench/lambda-arm64.log."""
    out_dir = os.path.join(WORK, "lambda-arm64")
    shutil.rmtree(out_dir, ignore_errors=True)  # a stale zip must not pass for this build's
    cmd = BUILD + ["--lambda-dir", out_dir]
    # The env var, not --target-dir: cargo-lambda 1.9 passes --target-dir on to `cargo metadata`, which refuses it.
    env = dict(env, CARGO_TARGET_DIR=TARGET_DIR)
    log_path = os.path.join(WORK, "lambda-arm64.log")
    t = time.monotonic()
    with open(log_path, "wb") as logf:
        # A session of its own, so a timeout ends cargo and every rustc/zig under it, not only cargo-lambda.
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=logf, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            rc = proc.wait(timeout=cfg.lambda_zip_timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return {"built": False, "reason": f"cargo lambda build took over LAMBDA_ZIP_TIMEOUT="
                    f"{cfg.lambda_zip_timeout} s (log: {os.path.relpath(log_path, ROOT)})"}
    build_s = round(time.monotonic() - t)
    zip_path = os.path.join(out_dir, BINARY, "bootstrap.zip")
    if rc != 0 or not os.path.isfile(zip_path):
        tail = open(log_path, "rb").read().decode("utf-8", "replace").strip()[-400:]
        return {"built": False, "reason": f"cargo lambda build failed (exit {rc}): {tail}"}
    with zipfile.ZipFile(zip_path) as zf:
        bootstrap_bytes = sum(i.file_size for i in zf.infolist())
    return {"built": True, "zip": zip_path, "bytes": os.path.getsize(zip_path), "bootstrap_bytes": bootstrap_bytes,
            "target": ARM64_TARGET, "target_dir": TARGET_DIR, "command": " ".join(BUILD), "build_s": build_s}


def part_zip(cfg, results):
    log("(e) Lambda zip (arm64)")
    z = {}
    results["lambda_zip"] = z
    env = dict(os.environ)
    if cfg.cargo_lambda_path:  # cargo-lambda's venv: `cargo lambda` finds zig there (python -m ziglang)
        env["PATH"] = cfg.cargo_lambda_path + os.pathsep + env.get("PATH", "")
    targets = try_run(["rustup", "target", "list", "--installed"]) or ""
    z["rustup_targets"] = targets.split()
    z["cargo_lambda"] = try_run(["cargo", "lambda", "--version"], env=env)
    if not z["cargo_lambda"]:
        z["arm64"] = {"built": False, "reason": "cargo-lambda is not installed (pip install cargo-lambda)"}
    elif ARM64_TARGET not in z["rustup_targets"]:
        z["arm64"] = {"built": False, "reason": f"the {ARM64_TARGET} Rust target is not installed "
                      f"(`rustup target list --installed`: {', '.join(z['rustup_targets']) or 'none'}; "
                      f"`rustup target add {ARM64_TARGET}` adds it)"}
    else:
        log(f"  cargo lambda build --release --arm64 (target dir {os.path.relpath(TARGET_DIR, ROOT)}; "
            f"6-15 min from clean on 2 cores, depending on load)")
        z["arm64"] = build_arm64(cfg, env)
    # The benched binary zipped the way cargo-lambda packs it (one file named bootstrap, deflate): the
    # size on this machine's architecture, next to the arm64 zip.
    proxy = os.path.join(WORK, "bootstrap-x86_64.zip")
    with zipfile.ZipFile(proxy, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        zf.write(cfg.bin, "bootstrap")
    z["proxy"] = {"arch": platform.machine(), "binary_bytes": os.path.getsize(cfg.bin),
                  "zip_bytes": os.path.getsize(proxy)}
    a = z["arm64"]
    if a["built"]:
        log(f"  arm64 zip {a['bytes']} bytes = {a['bytes'] / 1e6:.2f} MB = {a['bytes'] / 1048576:.2f} MiB "
            f"(bootstrap {a['bootstrap_bytes'] / 1e6:.1f} MB), built in {a['build_s']} s")
    else:
        log(f"  arm64 zip not built here: {a['reason']}")
    log(f"  {platform.machine()} stand-in: binary {z['proxy']['binary_bytes'] / 1e6:.1f} MB -> zip "
        f"{z['proxy']['zip_bytes'] / 1e6:.2f} MB")
    save(results)
