// The animated counterpart of sharp-ops.js: what pixgate's `image` op does to an animated GIF/WebP, done
// with sharp, one core, warm loop, so scripts/bench/animated can compare the two.
//   node sharp-animated.js --input FILE [--quality 80] [--iterations N] [--warmup W] [--save-dir DIR]
// The op: sharp(buf, { animated: true }).resize(box, { fit: 'inside', withoutEnlargement: true })
// .webp({ quality }) -- every frame fitted inside 1920x1080 (1080x1920 for a portrait canvas), never
// enlarged, one animated lossy WebP (libwebp's WebPAnimEncoder inside libvips), delays and loop kept.
// The box is chosen once from the header before the timed loop (pixgate reads it from the header
// too); sharp's other WebP options stay at their defaults (effort 4 = libwebp method 4, as pixgate).
// Prints one JSON line: the times, the output's size, and what sharp's metadata says of the input.
// Run with NODE_PATH pointing at the peer's node_modules and UV_THREADPOOL_SIZE=1.
'use strict';
const fs = require('fs');
const sharp = require('sharp');

sharp.concurrency(1); // libvips worker threads per image: one core, like `pixgate bench`
sharp.cache(false); // no operation cache: every iteration does the whole work

function args(argv) {
  const out = { iterations: 3, warmup: 1, quality: 80 };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (flag === '--input') out.input = value;
    else if (flag === '--iterations') out.iterations = Number(value);
    else if (flag === '--warmup') out.warmup = Number(value);
    else if (flag === '--quality') out.quality = Number(value);
    else if (flag === '--save-dir') out.saveDir = value;
    else throw new Error(`unknown flag ${flag}`);
  }
  if (!out.input) throw new Error('need --input');
  return out;
}

async function main() {
  const a = args(process.argv.slice(2));
  const buf = fs.readFileSync(a.input);
  const meta = await sharp(buf).metadata(); // one frame's size: height is the page height here
  const w = meta.width, h = meta.pageHeight || meta.height;
  const [bw, bh] = w >= h ? [1920, 1080] : [1080, 1920];
  const run = () => sharp(buf, { animated: true })
    .resize(bw, bh, { fit: 'inside', withoutEnlargement: true })
    .webp({ quality: a.quality })
    .toBuffer();
  for (let i = 0; i < a.warmup; i++) await run();
  const ms = [];
  let output = Buffer.alloc(0);
  for (let i = 0; i < a.iterations; i++) {
    const start = process.hrtime.bigint();
    output = await run();
    ms.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  let saved;
  if (a.saveDir) {
    saved = `${a.saveDir}/animated-q${a.quality}`;
    fs.writeFileSync(saved, output);
  }
  const sorted = [...ms].sort((x, y) => x - y);
  const n = sorted.length;
  const median = n === 0 ? null : n % 2 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  console.log(JSON.stringify({
    op: `animated-q${a.quality}`, iterations: n, ms, median_ms: median, min_ms: sorted[0], max_ms: sorted[n - 1],
    output_bytes: output.length, saved, box: [bw, bh],
    input: { width: w, height: h, pages: meta.pages, delay: meta.delay, loop: meta.loop },
  }));
}

main().catch((e) => { console.error(e); process.exit(1); });
