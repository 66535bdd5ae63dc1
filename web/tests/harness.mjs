// What the browser tests share: a `pixgate serve` child per test (free port, fresh data dir,
// waited for on /healthz, stopped at the end), Chromium through playwright-core, the test images,
// and a console watcher that fails a test on any console error or warning the test did not expect.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const pixgateBin = resolve(repoRoot, process.env.PIXGATE_BIN || 'target/debug/pixgate');
export const corpus = join(resolve(repoRoot, process.env.SHARED || '../shared'), 'corpus/images');
export const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';

/// A port nobody listens on right now (the kernel's pick, released for the child to take).
export async function freePort() {
  return new Promise((done, fail) => {
    const probe = createServer();
    probe.once('error', fail);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => done(port));
    });
  });
}

/// `pixgate serve` on a free port with a fresh data dir; `stop()` ends it and removes the dir.
export async function startPixgate(extraArgs = []) {
  if (!existsSync(pixgateBin)) throw new Error(`no pixgate binary at ${pixgateBin} (set PIXGATE_BIN or cargo build)`);
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'pixgate-page-'));
  // Only the flags configure it (no PIXGATE_* from the caller's environment), and it logs at
  // info: its "listening" line is what the readiness wait below waits on.
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('PIXGATE_')));
  const child = spawn(pixgateBin, [
    'serve', '--addr', `127.0.0.1:${port}`, '--data-dir', dataDir, '--shutdown-timeout-secs', '1',
    ...extraArgs,
  ], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...env, NO_COLOR: '1', RUST_LOG: 'info' } });
  let output = '';
  let chunks = 0;
  let nextChunk = null;
  const onChunk = (chunk) => {
    output += chunk;
    chunks += 1;
    if (nextChunk) nextChunk();
  };
  child.stdout.on('data', onChunk);
  child.stderr.on('data', onChunk);
  const exited = new Promise((done) => child.once('exit', (code, signal) => done({ code, signal })));
  let gone = false;
  exited.then(() => { gone = true; });
  const origin = `http://127.0.0.1:${port}`;

  // Ready when /healthz answers. pixgate logs a line once it listens: a failed try waits for the
  // next line (or the child's exit, or the deadline) before trying again.
  let timedOut = false;
  const deadline = setTimeout(() => { timedOut = true; if (nextChunk) nextChunk(); }, 15000);
  try {
    for (;;) {
      if (gone) throw new Error(`pixgate exited before it was ready:\n${output}`);
      if (timedOut) throw new Error(`pixgate did not answer /healthz within 15 s:\n${output}`);
      const before = chunks;
      try {
        const answer = await fetch(`${origin}/healthz`);
        if (answer.ok && (await answer.text()) === 'ok') break;
      } catch (_) { /* not listening yet */ }
      if (chunks === before) {
        await Promise.race([exited, new Promise((done) => { nextChunk = done; })]);
        nextChunk = null;
      }
    }
  } catch (error) {
    child.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
    throw error;
  } finally {
    clearTimeout(deadline);
  }

  return {
    port,
    origin,
    dataDir,
    log: () => output,
    async stop() {
      if (!gone) {
        child.kill('SIGTERM');
        const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(killer);
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/// Every file under `dir`, as paths relative to it ([] when `dir` does not exist).
export function filesUnder(dir) {
  if (!existsSync(dir)) return [];
  const found = [];
  const walk = (at) => {
    for (const name of readdirSync(at)) {
      const path = join(at, name);
      if (statSync(path).isDirectory()) walk(path);
      else found.push(relative(dir, path));
    }
  };
  walk(dir);
  return found;
}

/// The stored images of a data dir: files under its `images/` and `profile/` prefixes.
export function storedImages(dataDir) {
  return [
    ...filesUnder(join(dataDir, 'images')).map((path) => `images/${path}`),
    ...filesUnder(join(dataDir, 'profile')).map((path) => `profile/${path}`),
  ];
}

/// Test inputs in a temp dir: the generated 48 MP JPEG (8064×6048, noise, ~15 MB), a text file,
/// a corpus JPEG cut to 2 KiB; and the size (EXIF orientation applied) of every image named.
export function makeInputs(corpusNames) {
  const dir = mkdtempSync(join(tmpdir(), 'pixgate-page-inputs-'));
  const big = join(dir, 'big-48mp.jpg');
  // Noise does not compress: three shifted copies of one noise plane as RGB at quality 42 make
  // ~15 MB (4:2:0) in about 3 s, most of it effect_noise.
  const script = `
import json, sys
from PIL import Image, ImageOps
noise = Image.effect_noise((8064, 6048), 64)
rgb = Image.merge('RGB', [noise, noise.transpose(Image.FLIP_LEFT_RIGHT), noise.transpose(Image.FLIP_TOP_BOTTOM)])
rgb.save(sys.argv[1], 'JPEG', quality=42)
sizes = {}
for path in sys.argv[1:]:
    with Image.open(path) as im:
        sizes[path] = ImageOps.exif_transpose(im).size
print(json.dumps(sizes))
`;
  const paths = corpusNames.map((name) => join(corpus, name));
  const run = spawnSync('python3', ['-c', script, big, ...paths], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`generating the 48 MP JPEG failed (is Pillow installed? scripts/setup installs it):\n${run.stderr}`);
  const sizes = JSON.parse(run.stdout);
  const text = join(dir, 'notes.txt');
  writeFileSync(text, 'These are notes, not an image.\n');
  const truncated = join(dir, 'truncated.jpg');
  writeFileSync(truncated, readFileSync(join(corpus, 'DSCN0010.jpg')).subarray(0, 2048));
  return {
    dir,
    big,
    text,
    truncated,
    corpus: Object.fromEntries(corpusNames.map((name, i) => [name, paths[i]])),
    sizeOf: (path) => sizes[path],
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export async function launchBrowser() {
  return chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox'] });
}

/// A list that events append to, and a way to wait until it holds what a test expects (events
/// from the browser may arrive after the page call that caused them returned).
export function recorder() {
  const items = [];
  const checks = new Set();
  return {
    items,
    push(item) {
      items.push(item);
      for (const check of [...checks]) check();
    },
    until(predicate, what, ms = 10000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          checks.delete(check);
          reject(new Error(`timed out waiting for ${what}; have ${JSON.stringify(items)}`));
        }, ms);
        const check = () => {
          if (!predicate(items)) return false;
          clearTimeout(timer);
          checks.delete(check);
          resolve(items);
          return true;
        };
        if (!check()) checks.add(check);
      });
    },
  };
}

// Chromium's own network log line for an answer the test expects to be refused (4xx).
const EXPECTED_4XX = /^Failed to load resource: the server responded with a status of 4\d\d\b/;

/// Collects what a page logs. `unexpected()` lists console errors and warnings (other than the
/// browser's own "Failed to load resource … 4xx" lines and what `allow` matches) and page errors.
export function watchConsole(page, allow = []) {
  const seen = recorder();
  page.on('console', (message) => {
    if (message.type() === 'error' || message.type() === 'warning') {
      seen.push({ kind: message.type(), text: message.text(), url: message.location().url });
    }
  });
  page.on('pageerror', (error) => seen.push({ kind: 'pageerror', text: String(error) }));
  return {
    seen: seen.items,
    until: seen.until,
    unexpected: () => seen.items.filter(({ kind, text }) =>
      kind === 'pageerror' || !(EXPECTED_4XX.test(text) || allow.some((pattern) => pattern.test(text)))),
  };
}

/// Every request the page makes, as { method, path (with query), url }.
export function recordRequests(page) {
  const requests = [];
  page.on('request', (request) => {
    const url = new URL(request.url());
    requests.push({ method: request.method(), path: url.pathname + url.search, url: request.url() });
  });
  return requests;
}

/// A fresh pixgate (`args` added to `serve`) and a page in a fresh context of `browser`, both
/// closed when the test ends; `assertCleanConsole()` fails on console errors and warnings but the
/// expected 4xx lines and what `allow` matches.
export async function openSession(browser, t, { args = [], allow = [], viewport = { width: 1280, height: 900 } } = {}) {
  const server = await startPixgate(args);
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  const logged = watchConsole(page, allow);
  const requests = recordRequests(page);
  t.after(async () => {
    await context.close();
    await server.stop();
  });
  return {
    server, page, requests, console: logged,
    assertCleanConsole: () => assert.deepEqual(logged.unexpected(), [], 'console errors or warnings'),
  };
}
