// The upload page in a real browser (Chromium through playwright-core) against a real
// `pixgate serve` per test: uploads through both paths, refusals, a part lost on the network,
// another origin's page (CORS), and a phone-sized, keyboard-usable page.
//
//   PIXGATE_BIN=target/debug/pixgate node --test web/tests/
//
// PIXGATE_BIN (default target/debug/pixgate, relative to the repository), SHARED (default
// ../shared: the corpus), CHROMIUM (default /usr/bin/chromium), PAGE_SCREENSHOT=1 to write
// docs/page.png from the first test.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import {
  corpus, launchBrowser, makeInputs, openSession, recorder, repoRoot, storedImages,
} from './harness.mjs';

const PHOTOS = ['DSCN0010.jpg', 'Landscape_1.jpg'];
const UPLOAD_DONE = 60000;
// A test that hangs fails instead of holding the suite (the slowest takes ~15 s).
const TEST = { timeout: 90000 };

let browser;
let inputs;

before(async () => {
  inputs = makeInputs(PHOTOS);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  inputs?.remove();
});

/// A fresh pixgate and page for test `t` (see `openSession`).
const session = (t, options) => openSession(browser, t, options);

/// Adds `files` through the Dashboard's file input, presses upload and waits for Uppy's complete.
async function upload(page, files) {
  await page.locator('.uppy-Dashboard-input').first().setInputFiles(files);
  await page.locator('.uppy-StatusBar-actionBtn--upload').click();
  await page.waitForSelector('body[data-uploads="done"]', { timeout: UPLOAD_DONE });
}

const basename = (path) => path.split('/').pop();

/// The image preset's box: inside 1920×1080, or 1080×1920 for a portrait; never enlarged.
function imageFit([width, height]) {
  const [boxW, boxH] = width >= height ? [1920, 1080] : [1080, 1920];
  const scale = Math.min(1, boxW / width, boxH / height);
  return [Math.round(width * scale), Math.round(height * scale)];
}

test('uploads two photos through POST /upload and a 48 MP one through /direct, with previews and answers', TEST, async (t) => {
  const { server, page, requests, assertCleanConsole } = await session(t);
  await page.goto(`${server.origin}/`);
  const files = [inputs.corpus[PHOTOS[0]], inputs.corpus[PHOTOS[1]], inputs.big];
  await upload(page, files);

  assert.equal(await page.locator('#status').textContent(), '3 stored, 0 failed.');
  const log = await page.evaluate(() => window.pixgatePage.log);

  // Progress for every file; the big one's in several steps, never backwards.
  for (const file of files) {
    const name = basename(file);
    const progress = log.filter((e) => e.event === 'progress' && e.name === name).map((e) => e.bytesUploaded);
    assert.ok(progress.length > 0, `progress events for ${name}`);
    if (file === inputs.big) {
      const steps = new Set(progress.filter((bytes) => bytes > 0));
      assert.ok(steps.size >= 3, `the 48 MP upload's progress moved in several steps: ${[...steps]}`);
      assert.deepEqual(progress, [...progress].sort((a, b) => a - b), 'progress never goes back');
    }
  }
  const successes = log.filter((e) => e.event === 'success');
  assert.deepEqual(successes.map((e) => [e.name, e.via]).sort(),
    [['DSCN0010.jpg', 'xhr'], ['Landscape_1.jpg', 'xhr'], ['big-48mp.jpg', 'direct']]);
  assert.deepEqual(log.filter((e) => e.event === 'error'), []);

  // The big one went direct: create, part PUTs to pixgate's staging URLs, complete; the two
  // others, and only they, through POST /upload.
  const calls = requests.filter((r) => !r.path.startsWith('/ui/') && !r.path.startsWith('/img/'));
  assert.equal(calls.filter((r) => r.method === 'POST' && r.path.startsWith('/direct/image/s3/multipart')
    && !r.path.includes('/complete')).length, 1, 'one multipart upload created');
  const parts = calls.filter((r) => r.method === 'PUT' && r.path.startsWith('/staging/'));
  assert.equal(parts.length, 3, '15 MB in 5 MiB parts: three part PUTs');
  assert.equal(calls.filter((r) => r.method === 'POST' && /^\/direct\/image\/s3\/multipart\/[^/]+\/complete\b/.test(r.path)).length, 1);
  assert.equal(calls.filter((r) => r.method === 'POST' && r.path.startsWith('/upload')).length, 2,
    'POST /upload for the two small photos only');

  // Each file: stored, both previews loaded, the answer shown and consistent, the object on disk
  // with the size the answer gives and the preset's box.
  await page.waitForFunction(() => {
    const images = [...document.querySelectorAll('#results li.result img')];
    return images.length === 6 && images.every((img) => img.complete && img.naturalWidth > 0);
  }, null, { timeout: 30000 });
  for (const file of files) {
    const name = basename(file);
    const li = page.locator(`#results li.result[data-name="${name}"]`);
    assert.equal(await li.getAttribute('data-state'), 'stored');
    assert.equal(await li.getAttribute('data-via'), file === inputs.big ? 'direct' : 'xhr');
    const body = JSON.parse(await li.locator('pre.raw-json').textContent());
    const item = Array.isArray(body) ? body[0] : body;
    assert.equal(item.key, successes.find((e) => e.name === name).key);
    assert.match(item.key, /^images\//);
    assert.equal(item.originalName, name);
    assert.equal(await li.locator('.dims').textContent(), `${item.width}×${item.height}`);
    assert.equal(await li.locator('.bytes').textContent(), `${item.size.toLocaleString('en')} bytes`);
    assert.equal(await li.locator('input.file-url').inputValue(), item.fileUrl);
    assert.equal(await li.locator('button.copy').count(), 1);

    const expected = file === inputs.big ? [1440, 1080] : imageFit(inputs.sizeOf(file));
    assert.deepEqual([item.width, item.height], expected, `${name} fit in the image box`);
    const onDisk = join(server.dataDir, item.key);
    assert.ok(existsSync(onDisk), `${item.key} on disk`);
    assert.equal(readFileSync(onDisk).length, item.size);
    const decoded = await page.evaluate(async (url) => {
      const bitmap = await createImageBitmap(await (await fetch(url)).blob());
      return [bitmap.width, bitmap.height];
    }, `/files/${item.key}`);
    assert.deepEqual(decoded, expected, `${name}: the stored file's own size`);

    const previews = await li.locator('img').evaluateAll((images) =>
      images.map((img) => [img.className, img.naturalWidth, new URL(img.src).search]));
    assert.deepEqual(previews, [
      ['preview-small', 160, '?w=160'],
      ['preview-auto', Math.min(480, item.width), '?f=auto&w=480'],
    ]);

    // Each preview's box was sized from the answer and painted with the placeholder's colour
    // until the image loaded; once loaded, the colour is gone (the transparency checkerboard
    // shows again).
    assert.match(item.placeholder.color, /^#[0-9a-f]{6}$/);
    const boxes = await li.locator('img').evaluateAll((images) =>
      images.map((img) => [Number(img.getAttribute('width')), Number(img.getAttribute('height')), img.style.background]));
    for (const [[width, height, background], box] of boxes.map((b, i) => [b, [160, 480][i]])) {
      assert.equal(width, Math.min(box, item.width), `${name}: box width`);
      assert.equal(height, Math.max(1, Math.round(width * item.height / item.width)), `${name}: box height`);
      assert.equal(background, '', `${name}: the placeholder colour is removed once loaded`);
    }
  }
  assert.equal(storedImages(server.dataDir).length, 3);

  if (process.env.PAGE_SCREENSHOT === '1') {
    await page.screenshot({ path: join(repoRoot, 'docs/page.png'), fullPage: true });
  }
  assertCleanConsole();
});

// Uppy's fetcher calls any non-2xx answer a NetworkError, and Uppy then logs "This looks like a
// network error" for it. The page turns pixgate's refusals into errors that say what pixgate said,
// so that guess must not appear.
const UPPY_REFUSAL = /This looks like a network error/;

test('shows the error code of a text file and of a truncated JPEG, and stores nothing', TEST, async (t) => {
  const { server, page, console: seen, assertCleanConsole } = await session(t);
  await page.goto(`${server.origin}/`);
  await upload(page, [inputs.text, inputs.truncated]);

  assert.equal(await page.locator('#status').textContent(), '0 stored, 2 failed.');
  const expected = { 'notes.txt': 'unsupported_format', 'truncated.jpg': 'corrupt_image' };
  for (const [name, code] of Object.entries(expected)) {
    const li = page.locator(`#results li.result[data-name="${name}"]`);
    assert.equal(await li.getAttribute('data-state'), 'failed');
    assert.equal(await li.getAttribute('data-via'), 'xhr');
    assert.equal(await li.locator('.error-code').textContent(), code);
    assert.notEqual((await li.locator('.error-message').textContent()).trim(), '');
    assert.equal(await li.locator('img').count(), 0);
  }
  const errors = await page.evaluate(() => window.pixgatePage.log.filter((e) => e.event !== 'progress'));
  assert.deepEqual(errors.map(({ event, name, via, code }) => ({ event, name, via, code }))
    .sort((a, b) => a.name.localeCompare(b.name)), [
    { event: 'error', name: 'notes.txt', via: 'xhr', code: 'unsupported_format' },
    { event: 'error', name: 'truncated.jpg', via: 'xhr', code: 'corrupt_image' },
  ]);
  assert.deepEqual(storedImages(server.dataDir), []);
  assert.equal(seen.seen.filter(({ text }) => UPPY_REFUSAL.test(text)).length, 0, "Uppy's network-error guess");
  assertCleanConsole();
});

test('a part PUT lost on the network is retried and the upload completes once (as a profile)', TEST, async (t) => {
  // Chromium logs the aborted PUT as a failed load; Uppy logs nothing else for a retried part.
  const { server, page, requests, console: seen, assertCleanConsole } = await session(t, {
    allow: [/^Failed to load resource: net::ERR_FAILED$/],
  });
  const attempts = new Map();
  await page.route('**/staging/**', async (route) => {
    const part = new URL(route.request().url()).searchParams.get('partNumber');
    const count = (attempts.get(part) || 0) + 1;
    attempts.set(part, count);
    if (part === '2' && count === 1) await route.abort('failed');
    else await route.continue();
  });
  await page.goto(`${server.origin}/`);
  // The profile type this time: the direct path follows the page's type switch.
  await page.locator('#type-profile').check();
  await upload(page, [inputs.big]);

  assert.equal(await page.locator('#status').textContent(), '1 stored, 0 failed.');
  assert.deepEqual(Object.fromEntries(attempts), { 1: 1, 2: 2, 3: 1 }, 'PUT attempts per part');
  const parts = requests.filter((r) => r.method === 'PUT' && r.path.startsWith('/staging/'));
  assert.equal(parts.length, 4);
  assert.equal(requests.filter((r) => r.method === 'POST' && r.path === '/direct/profile/s3/multipart').length, 1);
  assert.equal(requests.filter((r) => r.method === 'POST' && /^\/direct\/profile\/s3\/multipart\/[^/]+\/complete\b/.test(r.path)).length, 1);
  const log = await page.evaluate(() => window.pixgatePage.log.filter((e) => e.event !== 'progress'));
  assert.deepEqual(log.map(({ event, name, via }) => ({ event, name, via })),
    [{ event: 'success', name: 'big-48mp.jpg', via: 'direct' }]);
  assert.deepEqual(storedImages(server.dataDir), [log[0].key]);
  assert.match(log[0].key, /^profile\//);
  const item = JSON.parse(await page.locator('#results li.result pre.raw-json').textContent()); // a direct complete answers the item
  assert.deepEqual([item.key, item.width, item.height], [log[0].key, 200, 150]);
  assert.equal(seen.seen.filter((m) => /ERR_FAILED/.test(m.text)).length, 1, 'one failed load: the aborted PUT');
  assertCleanConsole();
});

/// A page of another origin (the chat web app's case) that uploads a photo it serves to pixgate
/// with fetch and with XHR; the XHR's upload progress listener makes it preflighted.
function crossOriginPage(pixgateOrigin) {
  return `<!doctype html><html><head><meta charset="utf-8"><title>chat</title><link rel="icon" href="data:,"></head><body>
<script>
const target = ${JSON.stringify(`${pixgateOrigin}/upload?type=profile`)};
async function form(name) {
  const photo = await (await fetch('/photos/' + name)).blob();
  const data = new FormData();
  data.append('file', photo, name);
  return data;
}
window.viaFetch = async (name) => {
  const data = await form(name);
  try {
    const answer = await fetch(target, { method: 'POST', body: data });
    return { ok: true, status: answer.status, body: await answer.json() };
  } catch (error) {
    return { ok: false, error: String(error) };
  }
};
window.viaXhr = async (name) => {
  const data = await form(name);
  return new Promise((done) => {
    const xhr = new XMLHttpRequest();
    const progress = [];
    xhr.upload.addEventListener('progress', (event) => progress.push([event.loaded, event.total]));
    xhr.onload = () => {
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch (_) { /* not JSON */ }
      done({ ok: true, status: xhr.status, body, progress });
    };
    xhr.onerror = () => done({ ok: false, status: xhr.status, progress });
    xhr.open('POST', target);
    xhr.send(data);
  });
};
</script></body></html>`;
}

/// A tiny HTTP server on 127.0.0.1 serving `html()` at / and corpus photos at /photos/{name}.
async function serveOtherOrigin(t, html) {
  const server = createServer((request, response) => {
    const photo = /^\/photos\/([\w.-]+\.jpg)$/.exec(request.url);
    if (request.url === '/') {
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      response.end(html());
    } else if (photo && existsSync(join(corpus, photo[1]))) {
      response.writeHead(200, { 'content-type': 'image/jpeg' });
      response.end(readFileSync(join(corpus, photo[1])));
    } else {
      response.writeHead(404);
      response.end();
    }
  });
  await new Promise((done) => server.listen(0, '127.0.0.1', done));
  t.after(() => new Promise((done) => { server.closeAllConnections(); server.close(done); }));
  return server.address().port;
}

/// What the browser itself received for requests to pixgate's /upload, preflights included, read
/// in the browser's network stack (DevTools protocol: Fetch paused at the response stage, then let
/// through untouched) — Playwright's own response events skip what CORS blocks, and a blocked
/// response's body is gone once the page was refused it. Also each load's CORS failure, if any.
async function watchUploadWire(page) {
  const wire = recorder();
  const corsErrors = recorder();
  const cdp = await page.context().newCDPSession(page);
  cdp.on('Fetch.requestPaused', async (paused) => {
    let text = null; // a 204 preflight has no body
    try {
      const { body, base64Encoded } = await cdp.send('Fetch.getResponseBody', { requestId: paused.requestId });
      text = base64Encoded ? Buffer.from(body, 'base64').toString() : body;
    } catch (_) { /* none */ }
    wire.push({ method: paused.request.method, status: paused.responseStatusCode, body: text });
    await cdp.send('Fetch.continueRequest', { requestId: paused.requestId });
  });
  cdp.on('Network.loadingFailed', (failed) => {
    if (failed.corsErrorStatus) corsErrors.push(failed.corsErrorStatus.corsError);
  });
  await cdp.send('Network.enable');
  await cdp.send('Fetch.enable', { patterns: [{ urlPattern: '*/upload?*', requestStage: 'Response' }] });
  return { wire, corsErrors };
}

test('another origin: an allowed one uploads with fetch and XHR, an unlisted one is refused', TEST, async (t) => {
  // The pages need pixgate's origin and pixgate needs the allowed page's: they are written when
  // asked for, once pixgate runs.
  let pixgateOrigin;
  const html = () => crossOriginPage(pixgateOrigin);
  const allowedPort = await serveOtherOrigin(t, html);
  const otherPort = await serveOtherOrigin(t, html);
  const allowed = `http://127.0.0.1:${allowedPort}`;
  // The unlisted origin's refusals, as Chromium reports them.
  const blocked = [
    /^Access to fetch at '[^']+\/upload\?type=profile' from origin 'http:\/\/localhost:\d+' has been blocked by CORS policy: No 'Access-Control-Allow-Origin' header/,
    /^Access to XMLHttpRequest at '[^']+\/upload\?type=profile' from origin 'http:\/\/localhost:\d+' has been blocked by CORS policy: Response to preflight request doesn't pass access control check: No 'Access-Control-Allow-Origin' header/,
    /^Failed to load resource: net::ERR_FAILED$/,
  ];
  const { server, page, console: seen, assertCleanConsole } = await session(t, {
    args: ['--allowed-origins', allowed],
    allow: blocked,
  });
  pixgateOrigin = server.origin;
  const { wire, corsErrors } = await watchUploadWire(page);

  // The listed origin: both ways work, the answer is readable, the XHR reported progress.
  await page.goto(`${allowed}/`);
  const fetched = await page.evaluate(() => window.viaFetch('DSCN0010.jpg'));
  const sent = await page.evaluate(() => window.viaXhr('Landscape_1.jpg'));
  assert.equal(fetched.status, 200, JSON.stringify(fetched));
  assert.equal(sent.status, 200, JSON.stringify(sent));
  for (const [answer, name] of [[fetched, 'DSCN0010.jpg'], [sent, 'Landscape_1.jpg']]) {
    const [item] = answer.body;
    assert.match(item.key, /^profile\//);
    assert.equal(item.originalName, name);
    assert.ok(item.width <= 200 && item.height <= 200 && Math.max(item.width, item.height) === 200);
  }
  assert.ok(sent.progress.length > 0, 'upload progress events');
  const [loaded, total] = sent.progress.at(-1);
  assert.equal(loaded, total);
  const keys = [fetched.body[0].key, sent.body[0].key].sort();
  assert.deepEqual(storedImages(server.dataDir).sort(), keys);
  assert.deepEqual(wire.items.map(({ method, status }) => `${method} ${status}`), ['POST 200', 'OPTIONS 204', 'POST 200']);
  assert.deepEqual(corsErrors.items, []);
  assert.deepEqual(seen.seen, []);

  // An unlisted origin (localhost is not 127.0.0.1): the fetch rejects, the XHR fails at its
  // preflight; what pixgate answered both is 403 origin_not_allowed, which the page may not read.
  wire.items.length = 0;
  await page.goto(`http://localhost:${otherPort}/`);
  const refusedFetch = await page.evaluate(() => window.viaFetch('Portrait_1.jpg'));
  const refusedXhr = await page.evaluate(() => window.viaXhr('Portrait_1.jpg'));
  await corsErrors.until((errors) => errors.length === 2, 'the two CORS failures');
  await seen.until((messages) => messages.length === 4, 'the CORS console messages');
  assert.deepEqual(refusedFetch, { ok: false, error: 'TypeError: Failed to fetch' });
  assert.deepEqual(refusedXhr, { ok: false, status: 0, progress: [] });
  assert.deepEqual(wire.items.map(({ method, status }) => `${method} ${status}`), ['POST 403', 'OPTIONS 403'],
    'the XHR never sent its POST');
  for (const { body } of wire.items) assert.equal(JSON.parse(body).error.code, 'origin_not_allowed');
  assert.deepEqual(corsErrors.items, ['MissingAllowOriginHeader', 'PreflightMissingAllowOriginHeader']);
  assert.deepEqual(storedImages(server.dataDir).sort(), keys, 'nothing stored for the unlisted origin');
  assert.deepEqual(seen.seen.map(({ text }) => blocked.findIndex((pattern) => pattern.test(text))).sort(), [0, 1, 2, 2]);

  // pixgate's own page needs no listing: Chromium sends its Origin on the page's POSTs, and it is
  // the server's own.
  await page.goto(`${server.origin}/`);
  await upload(page, [inputs.corpus[PHOTOS[0]]]);
  assert.equal(await page.locator('#status').textContent(), '1 stored, 0 failed.');
  assert.equal(storedImages(server.dataDir).length, keys.length + 1);
  assertCleanConsole();
});

test('on a phone-sized viewport: no horizontal scroll, type and upload reachable by keyboard', TEST, async (t) => {
  const { server, page, assertCleanConsole } = await session(t, { viewport: { width: 390, height: 844 } });
  await page.goto(`${server.origin}/`);
  const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(await overflow() <= 0, 'no horizontal scroll on the empty page');

  // Tab from the top of the page until `selector` has the focus (at most 60 presses).
  const tabTo = async (selector) => {
    for (let presses = 0; presses < 60; presses += 1) {
      await page.keyboard.press('Tab');
      if (await page.evaluate((s) => document.activeElement?.matches(s) ?? false, selector)) return presses + 1;
    }
    assert.fail(`Tab never reached ${selector}`);
  };
  await tabTo('#type-image');
  await page.keyboard.press('ArrowDown');
  assert.ok(await page.evaluate(() => document.activeElement.id === 'type-profile' && document.activeElement.checked),
    'the arrow key moves to and selects the profile type');

  await page.locator('.uppy-Dashboard-input').first().setInputFiles([inputs.corpus[PHOTOS[0]]]);
  await page.evaluate(() => document.activeElement?.blur());
  await tabTo('.uppy-StatusBar-actionBtn--upload');
  await page.keyboard.press('Enter');
  await page.waitForSelector('body[data-uploads="done"]', { timeout: UPLOAD_DONE });
  const li = page.locator('#results li.result[data-name="DSCN0010.jpg"]');
  assert.equal(await li.getAttribute('data-state'), 'stored');
  const [item] = JSON.parse(await li.locator('pre.raw-json').textContent());
  assert.match(item.key, /^profile\//);
  assert.deepEqual([item.width, item.height], [200, 150]);
  await page.waitForFunction(() => [...document.querySelectorAll('#results img')].every((img) => img.complete && img.naturalWidth > 0));
  await li.locator('details summary').click();
  assert.ok(await overflow() <= 0, 'no horizontal scroll with a result and its answer open');
  assertCleanConsole();
});
