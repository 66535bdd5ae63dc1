// Times the peer's pipeline operations with sharp, one core, warm loop: the same ops
// `pixgate bench` times, so scripts/bench can compare them in one run.
//   node sharp-ops.js --input FILE --op OP [--op OP ...] [--iterations N] [--warmup W] [--save-dir DIR]
// OPs mirror ../shared/peers/sharp/server.js: profile (inside 200x200, JPEG q80), image (inside
// 1920x1080 or 1080x1920, JPEG q80), webp (image box, WebP q80); and transform:QUERY, the render of
// ../shared/peers/sharp/transform.js for GET /img/<key>?QUERY (w=800&h=600&f=avif&q=60), exactly:
// sharp(body).resize(w, h).toFormat(f, { quality: q }) (default fit cover, q 80), as `pixgate bench
// --op 'transform:QUERY'` names it. Prints one JSON line per op.
// Run with NODE_PATH pointing at the peer's node_modules and UV_THREADPOOL_SIZE=1.
'use strict';
const fs = require('fs');
const sharp = require('sharp');

sharp.concurrency(1); // libvips worker threads per image: one core, like `pixgate bench`
sharp.cache(false); // no operation cache: every iteration does the whole work

function args(argv) {
  const out = { ops: [], iterations: 20, warmup: 3 };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (flag === '--input') out.input = value;
    else if (flag === '--op') out.ops.push(value);
    else if (flag === '--iterations') out.iterations = Number(value);
    else if (flag === '--warmup') out.warmup = Number(value);
    else if (flag === '--save-dir') out.saveDir = value;
    else throw new Error(`unknown flag ${flag}`);
  }
  if (!out.input || out.ops.length === 0) throw new Error('need --input and --op');
  return out;
}

// transform.js's parameter reading, unchanged.
function render(body, query) {
  const p = new URLSearchParams(query);
  const width = p.get('w') ? Number(p.get('w')) : null;
  const height = p.get('h') ? Number(p.get('h')) : null;
  const format = (p.get('f') || 'jpeg').replace('jpg', 'jpeg');
  const quality = Number(p.get('q') || 80);
  return sharp(body).resize(width, height).toFormat(format, { quality }).toBuffer();
}

const TRANSFORM = 'transform:';

// The peer server's resize(), with the output format as a parameter; or the transform peer's render.
async function run(buf, op) {
  if (op.startsWith(TRANSFORM)) return render(buf, op.slice(TRANSFORM.length));
  const meta = await sharp(buf).metadata();
  let w = meta.width, h = meta.height;
  if ((meta.orientation || 1) >= 5) [w, h] = [h, w];
  const [bw, bh] = op === 'profile' ? [200, 200] : (w >= h ? [1920, 1080] : [1080, 1920]);
  let p = sharp(buf).rotate().resize({ width: bw, height: bh, fit: 'inside', withoutEnlargement: true });
  if (meta.hasAlpha && op !== 'webp') p = p.flatten({ background: '#ffffff' });
  p = op === 'webp' ? p.webp({ quality: 80 }) : p.jpeg({ quality: 80 });
  return p.toBuffer();
}

async function main() {
  const a = args(process.argv.slice(2));
  const buf = fs.readFileSync(a.input);
  for (const op of a.ops) {
    if (!['profile', 'image', 'webp'].includes(op) && !op.startsWith(TRANSFORM)) {
      throw new Error(`unknown op ${op}`);
    }
    for (let i = 0; i < a.warmup; i++) await run(buf, op);
    const ms = [];
    let output = Buffer.alloc(0);
    for (let i = 0; i < a.iterations; i++) {
      const start = process.hrtime.bigint();
      output = await run(buf, op);
      ms.push(Number(process.hrtime.bigint() - start) / 1e6);
    }
    let saved;
    if (a.saveDir) {
      saved = `${a.saveDir}/${op.replace(/[/:&=]/g, '_')}`;
      fs.writeFileSync(saved, output);
    }
    const sorted = [...ms].sort((x, y) => x - y);
    const n = sorted.length;
    const median = n % 2 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    console.log(JSON.stringify({
      op, iterations: n, ms, median_ms: median, min_ms: sorted[0], max_ms: sorted[n - 1],
      output_bytes: output.length, saved,
    }));
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
