// pixgate's AVIF renditions as a real browser decodes them: Chromium (through playwright-core)
// loads `f=avif` and `f=png` of one stored image from a real `pixgate serve`, draws both to a
// canvas and the test compares the pixels. Nothing else decodes AVIF (tests/api reads only its
// `ispe` size), so this is what catches a wrong colour matrix, range or chroma order, or a lost
// alpha plane, whichever encoder writes the file: PNG is lossless, so it is the reference.
//
//   PIXGATE_BIN=target/debug/pixgate node --test web/tests/avif.test.mjs
//
// Same environment as page.test.mjs (PIXGATE_BIN, SHARED, CHROMIUM). AVIF_REPORT=1 prints the
// measured differences and those of the simulated faults the tolerances must stay below.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { corpus, launchBrowser, openSession } from './harness.mjs';

// The debug build's AVIF encode of 400×300 takes about a second; a hung test fails instead.
const TEST = { timeout: 60000 };
const SIZE = { width: 400, height: 300 };

// Tolerances, in 8-bit levels, of the AVIF's decoded pixels against the PNG rendition's, per
// channel (R, G, B) over the pixels opaque in the PNG. Three measures, worst channel given:
// - `local`: mean |Δ| of 10×10-block means. Lossy coding and chroma subsampling blur and add
//   noise but keep local averages; a colour fault shifts them everywhere. So this one separates.
// - `mean`: |Δ| of the whole image's channel mean. A fault shifts a warm photo one way.
// - `mad`: mean |Δ| per pixel; mostly coding noise, so the loosest.
// Calibration, worst channel (AVIF_REPORT=1 prints every row but libavif's, per channel):
//                                              photo: local   mean    mad | disc: local  mean    mad
//   b1846ae (ravif: 4:4:4, q80, speed 10)               0.94   0.50   4.06 |        0.79  0.54   2.09
//   4:2:0 alone, simulated on the PNG                    0.11   0.09   2.61 |        0.03  0.04   1.44
//   4:2:0 AVIF of the PNG (libavif 1.4 + aom, q80,      0.53   0.41   3.40 |        1.19  0.54   3.59
//     served instead of pixgate's by a scratch copy of this test: passes)
//   faults, simulated on the PNG (FAULTS below):
//   BT.709 matrix read as BT.601                         7.34   7.34   7.34 |       12.43  0.74  13.97
//   studio range read as full                           10.13  10.13  10.13 |        8.03  1.46   9.05
//   full range read as studio                           11.02  10.66  11.11 |        9.26  1.65  10.45
//   Cb and Cr swapped                                  179.56 179.56 179.56 |       93.88  5.55 103.73
// The faults made real the same way (the libavif file's colr box patched, its Cb/Cr swapped
// before encoding, its alpha left out) failed both tests: `local` 7.6–143, corner alpha 255.
// Limits: `local` 3 (2.5× the worst good AVIF, under half the weakest fault); `mean` 2 (the
// disc's colours lie both sides of grey, so its range and matrix faults barely move the mean:
// `local` catches those); `mad` 8 (twice today's 4.06, room for a 4:2:0 encoder's noise at hard
// colour edges; it catches Cb/Cr swapped). Every colour fault must exceed twice one limit,
// asserted below, so a later change to a limit or an image cannot quietly lose one.
// Alpha: corners 0 and middle 255 exactly today, 4 levels allowed; mean |Δalpha| 1.11 (the soft
// ring; libavif 1.05), 174 with the alpha plane dropped: 4.
const TOLERANCE = { local: 3, mean: 2, mad: 8, alphaEnds: 4, alphaMad: 4 };

let browser;

before(async () => {
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
});

/// A fresh pixgate and a page on its origin (so canvas reads are same-origin), both closed when
/// the test ends.
async function session(t) {
  const opened = await openSession(browser, t);
  await opened.page.goto(`${opened.server.origin}/healthz`);
  return opened;
}

/// POST /upload?type=image with one file; the stored item.
async function upload(origin, bytes, name, mediaType) {
  const form = new FormData();
  form.append('file', new Blob([bytes], { type: mediaType }), name);
  const answer = await fetch(`${origin}/upload?type=image`, { method: 'POST', body: form });
  const body = await answer.json();
  assert.equal(answer.status, 200, JSON.stringify(body));
  return body[0];
}

/// `/img/{key}?{query}` as the page gets it: the answer's status and type, the decoded image's
/// natural size and its pixels drawn on a canvas (RGBA, straight alpha, as getImageData gives).
async function rendition(page, key, query) {
  const got = await page.evaluate(async (url) => {
    const answer = await fetch(url);
    const contentType = answer.headers.get('content-type');
    const source = URL.createObjectURL(await answer.blob());
    const img = new Image();
    img.src = source;
    try {
      await img.decode();
    } catch (error) {
      return { status: answer.status, contentType, error: String(error) };
    }
    const canvas = document.createElement('canvas');
    canvas.width = img.naturalWidth;
    canvas.height = img.naturalHeight;
    const context = canvas.getContext('2d', { willReadFrequently: true });
    context.drawImage(img, 0, 0);
    const { data } = context.getImageData(0, 0, canvas.width, canvas.height);
    let binary = '';
    for (let at = 0; at < data.length; at += 0x8000) binary += String.fromCharCode(...data.subarray(at, at + 0x8000));
    return { status: answer.status, contentType, width: img.naturalWidth, height: img.naturalHeight, rgba: btoa(binary) };
  }, `/img/${key}?${query}`);
  assert.equal(got.error, undefined, `${query}: ${got.error}`);
  return { ...got, rgba: got.rgba && new Uint8Array(Buffer.from(got.rgba, 'base64')) };
}

/// Both renditions of `key` at SIZE, checked to be what was asked for.
async function avifAndPng(page, key) {
  const query = `w=${SIZE.width}&h=${SIZE.height}`;
  const avif = await rendition(page, key, `${query}&f=avif`);
  const png = await rendition(page, key, `${query}&f=png`);
  for (const [got, type] of [[avif, 'image/avif'], [png, 'image/png']]) {
    assert.equal(got.status, 200);
    assert.equal(got.contentType, type);
    assert.deepEqual([got.width, got.height], [SIZE.width, SIZE.height], `${type} decoded at the size asked for`);
  }
  return { avif: avif.rgba, png: png.rgba };
}

/// Per channel over the pixels `keep(i)` selects (i: pixel index): mean |a − b| (`mad`),
/// |mean a − mean b| (`mean`), and mean |a − b| of BLOCK×BLOCK block means (`local`, over the
/// blocks `keep` selects whole), for R, G, B, A.
const BLOCK = 10;
function difference(a, b, keep = () => true) {
  const absolute = [0, 0, 0, 0];
  const sums = [0, 0, 0, 0];
  let count = 0;
  for (let i = 0; i < a.length / 4; i += 1) {
    if (!keep(i)) continue;
    count += 1;
    for (let c = 0; c < 4; c += 1) {
      absolute[c] += Math.abs(a[4 * i + c] - b[4 * i + c]);
      sums[c] += a[4 * i + c] - b[4 * i + c];
    }
  }
  assert.ok(count > 0, 'some pixels compared');
  const local = [0, 0, 0, 0];
  let blocks = 0;
  for (let y0 = 0; y0 + BLOCK <= SIZE.height; y0 += BLOCK) {
    for (let x0 = 0; x0 + BLOCK <= SIZE.width; x0 += BLOCK) {
      const block = [0, 0, 0, 0];
      let whole = true;
      for (let y = y0; y < y0 + BLOCK && whole; y += 1) {
        for (let x = x0; x < x0 + BLOCK; x += 1) {
          const i = y * SIZE.width + x;
          if (!keep(i)) { whole = false; break; }
          for (let c = 0; c < 4; c += 1) block[c] += a[4 * i + c] - b[4 * i + c];
        }
      }
      if (!whole) continue;
      blocks += 1;
      for (let c = 0; c < 4; c += 1) local[c] += Math.abs(block[c]) / (BLOCK * BLOCK);
    }
  }
  return {
    mad: absolute.map((s) => s / count),
    mean: sums.map((s) => Math.abs(s / count)),
    local: local.map((s) => s / blocks),
    count,
    blocks,
  };
}

// --- The faults the tolerances must catch, applied to the PNG's own pixels. ---

const BT601 = { kr: 0.299, kb: 0.114 };
const BT709 = { kr: 0.2126, kb: 0.0722 };

/// Full-range Y'CbCr of 8-bit R'G'B' (Y' 0–255, Cb and Cr centred on 0) and back.
function toYcc(r, g, b, { kr, kb }) {
  const y = kr * r + (1 - kr - kb) * g + kb * b;
  return [y, (b - y) / (2 * (1 - kb)), (r - y) / (2 * (1 - kr))];
}
function toRgb(y, cb, cr, { kr, kb }) {
  const r = y + 2 * (1 - kr) * cr;
  const b = y + 2 * (1 - kb) * cb;
  return [r, (y - kr * r - kb * b) / (1 - kr - kb), b];
}

/// `rgba` with every pixel's colour mapped through `fault` (on BT.601 Y'CbCr), clamped and rounded.
function perPixel(rgba, fault) {
  const out = new Uint8Array(rgba);
  for (let i = 0; i < rgba.length; i += 4) {
    const [y, cb, cr] = toYcc(rgba[i], rgba[i + 1], rgba[i + 2], BT601);
    const rgb = fault(y, cb, cr);
    for (let c = 0; c < 3; c += 1) out[i + c] = Math.round(Math.min(255, Math.max(0, rgb[c])));
  }
  return out;
}

const FAULTS = {
  'Cb and Cr swapped': (rgba) => perPixel(rgba, (y, cb, cr) => toRgb(y, cr, cb, BT601)),
  // Studio range (Y' 16–235, C 16–240) decoded as if full: washed out.
  'studio range read as full': (rgba) => perPixel(rgba, (y, cb, cr) =>
    toRgb(16 + (y * 219) / 255, (cb * 224) / 255, (cr * 224) / 255, BT601)),
  // Full range decoded as if studio: too much contrast, clipped.
  'full range read as studio': (rgba) => perPixel(rgba, (y, cb, cr) =>
    toRgb(((y - 16) * 255) / 219, (cb * 255) / 224, (cr * 255) / 224, BT601)),
  // Coded with BT.709's matrix, decoded with BT.601's.
  'BT.709 matrix read as BT.601': (rgba) => perPixel(rgba, (y, cb, cr) =>
    toRgb(...toYcc(...toRgb(y, cb, cr, BT601), BT709), BT601)),
  'alpha plane dropped': (rgba) => {
    const out = new Uint8Array(rgba);
    for (let i = 3; i < out.length; i += 4) out[i] = 255;
    return out;
  },
};

/// Not a fault: 4:2:0 chroma (each 2×2 block's mean Cb, Cr, upsampled by repeating it), an
/// estimate of what the coming 4:2:0 encoder adds to the lossy coding's error.
function chroma420(rgba, width, height) {
  const out = new Uint8Array(rgba);
  const ycc = [];
  for (let i = 0; i < rgba.length; i += 4) ycc.push(toYcc(rgba[i], rgba[i + 1], rgba[i + 2], BT601));
  for (let y0 = 0; y0 < height; y0 += 2) {
    for (let x0 = 0; x0 < width; x0 += 2) {
      const block = [];
      for (const [dx, dy] of [[0, 0], [1, 0], [0, 1], [1, 1]]) {
        if (x0 + dx < width && y0 + dy < height) block.push((y0 + dy) * width + x0 + dx);
      }
      const cb = block.reduce((s, p) => s + ycc[p][1], 0) / block.length;
      const cr = block.reduce((s, p) => s + ycc[p][2], 0) / block.length;
      for (const p of block) {
        const rgb = toRgb(ycc[p][0], cb, cr, BT601);
        for (let c = 0; c < 3; c += 1) out[4 * p + c] = Math.round(Math.min(255, Math.max(0, rgb[c])));
      }
    }
  }
  return out;
}

const worst = (values) => Math.max(...values.slice(0, 3));
const fixed = (values) => values.map((v) => Number(v.toFixed(2)));

function report(t, name, measured, simulated) {
  if (process.env.AVIF_REPORT !== '1') return;
  const line = (what, d) => `${what}: mad ${fixed(d.mad.slice(0, 3))} mean ${fixed(d.mean.slice(0, 3))} local ${fixed(d.local.slice(0, 3))}`;
  t.diagnostic(`${name} (${measured.count} px, ${measured.blocks} blocks) ${line('AVIF vs PNG', measured)}`);
  for (const [what, d] of Object.entries(simulated)) t.diagnostic(`  ${line(what, d)}`);
}

/// The colour checks: each channel within every tolerance, and every colour fault (computed on
/// the reference) beyond twice one of them, so the checks are known to catch it on this image.
function assertColours(t, name, avif, png, keep) {
  const measured = difference(avif, png, keep);
  const simulated = { 'chroma 4:2:0 (estimate, not a fault)': difference(chroma420(png, SIZE.width, SIZE.height), png, keep) };
  for (const fault of ['Cb and Cr swapped', 'studio range read as full', 'full range read as studio', 'BT.709 matrix read as BT.601']) {
    simulated[fault] = difference(FAULTS[fault](png), png, keep);
  }
  report(t, name, measured, simulated);
  for (const metric of ['local', 'mean', 'mad']) {
    for (const [c, channel] of ['R', 'G', 'B'].entries()) {
      assert.ok(measured[metric][c] <= TOLERANCE[metric],
        `${name}: ${channel} ${metric} |AVIF − PNG| ${measured[metric][c]} > ${TOLERANCE[metric]}`);
    }
  }
  for (const [fault, d] of Object.entries(simulated)) {
    if (fault.startsWith('chroma')) continue;
    assert.ok(['local', 'mean', 'mad'].some((metric) => worst(d[metric]) >= 2 * TOLERANCE[metric]),
      `${name}: "${fault}" is not clearly outside the tolerances (local ${fixed(d.local)}, mean ${fixed(d.mean)}, mad ${fixed(d.mad)})`);
  }
}

// A colour JPEG without a profile: the source whose renditions can stay Y'CbCr planes from decode
// to encode (pipeline/planar.rs; at b1846ae only for JPEG and WebP out, AVIF still goes by RGB).
test('an opaque photo (Y\'CbCr JPEG) as AVIF decodes in Chromium with the PNG rendition\'s colours', TEST, async (t) => {
  const { server, page, assertCleanConsole } = await session(t);
  const item = await upload(server.origin, readFileSync(join(corpus, 'jolla.jpg')), 'jolla.jpg', 'image/jpeg');
  assert.match(item.key, /\.jpg$/);
  const { avif, png } = await avifAndPng(page, item.key);

  assert.equal(avif.filter((value, i) => i % 4 === 3 && value !== 255).length, 0, 'an opaque AVIF has no transparency');
  assertColours(t, 'photo', avif, png);
  assertCleanConsole();
});

/// A PNG made in the page: a colour wheel with hard-edged stripes (colour edges are where 4:2:0
/// chroma errs most), cut to a disc (opaque to radius 200, fading out by 240) on a transparent
/// 800×600 canvas. No channel sits at 0 or 255, where a range fault would be clipped away.
async function transparentDisc(page) {
  const base64 = await page.evaluate(async () => {
    const canvas = document.createElement('canvas');
    canvas.width = 800;
    canvas.height = 600;
    const context = canvas.getContext('2d');
    const wheel = context.createConicGradient(0, 400, 300);
    ['#d03030', '#d0d030', '#30d030', '#30d0d0', '#3030d0', '#d030d0', '#d03030'].forEach((colour, i) => wheel.addColorStop(i / 6, colour));
    context.fillStyle = wheel;
    context.fillRect(0, 0, 800, 600);
    ['#c02828', '#2828c0', '#20a020', '#e0e0e0', '#303030'].forEach((colour, i) => {
      context.fillStyle = colour;
      context.fillRect(260 + i * 56, 150, 28, 300);
    });
    const mask = context.createRadialGradient(400, 300, 200, 400, 300, 240);
    mask.addColorStop(0, 'rgba(0, 0, 0, 1)');
    mask.addColorStop(1, 'rgba(0, 0, 0, 0)');
    context.globalCompositeOperation = 'destination-in';
    context.fillStyle = mask;
    context.fillRect(0, 0, 800, 600);
    const blob = await new Promise((done) => canvas.toBlob(done, 'image/png'));
    const bytes = new Uint8Array(await blob.arrayBuffer());
    let binary = '';
    for (let at = 0; at < bytes.length; at += 0x8000) binary += String.fromCharCode(...bytes.subarray(at, at + 0x8000));
    return btoa(binary);
  });
  return Buffer.from(base64, 'base64');
}

/// The alphas of a `size`-px square at (x, y).
function alphasAt(rgba, x, y, size) {
  const alphas = [];
  for (let row = y; row < y + size; row += 1) {
    for (let col = x; col < x + size; col += 1) alphas.push(rgba[4 * (row * SIZE.width + col) + 3]);
  }
  return alphas;
}

test('a PNG with soft-edged transparency as AVIF keeps its alpha and colours in Chromium', TEST, async (t) => {
  const { server, page, assertCleanConsole } = await session(t);
  const item = await upload(server.origin, await transparentDisc(page), 'disc.png', 'image/png');
  assert.match(item.key, /\.png$/, 'stored as PNG: the transparency is real');
  const { avif, png } = await avifAndPng(page, item.key);

  // At 400×300 the disc is opaque to radius 100 and gone by 120: the corners are well outside.
  const { width, height } = SIZE;
  const corners = [[0, 0], [width - 16, 0], [0, height - 16], [width - 16, height - 16]];
  let cornerMost = 0;
  for (const [x, y] of corners) {
    assert.ok(Math.max(...alphasAt(png, x, y, 16)) === 0, 'the PNG reference is transparent at the corners');
    const most = Math.max(...alphasAt(avif, x, y, 16));
    assert.ok(most <= TOLERANCE.alphaEnds, `AVIF corner (${x}, ${y}) alpha up to ${most}`);
    cornerMost = Math.max(cornerMost, most);
  }
  const middle = Math.min(...alphasAt(avif, width / 2 - 40, height / 2 - 40, 80));
  assert.ok(Math.min(...alphasAt(png, width / 2 - 40, height / 2 - 40, 80)) === 255, 'the PNG reference is opaque in the middle');
  assert.ok(middle >= 255 - TOLERANCE.alphaEnds, `AVIF middle alpha down to ${middle}`);
  const alpha = difference(avif, png);
  const dropped = difference(FAULTS['alpha plane dropped'](png), png);
  if (process.env.AVIF_REPORT === '1') {
    t.diagnostic(`disc: alpha mean |AVIF − PNG| ${alpha.mad[3].toFixed(2)}, corners up to ${cornerMost}, middle down to ${middle}; alpha plane dropped: ${dropped.mad[3].toFixed(2)}`);
  }
  assert.ok(alpha.mad[3] <= TOLERANCE.alphaMad, `mean |Δalpha| ${alpha.mad[3]} > ${TOLERANCE.alphaMad}`);
  assert.ok(dropped.mad[3] > TOLERANCE.alphaMad, 'a dropped alpha plane would fail the alpha check');

  // Colours where the reference is opaque: a transparent pixel's colour is free to change.
  assertColours(t, 'disc', avif, png, (i) => png[4 * i + 3] === 255);
  assertCleanConsole();
});
