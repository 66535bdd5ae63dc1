// The transform peer's render, timed in process: what ../shared/peers/sharp/transform.js does to a stored
// original for GET /img/<key>?w&h&f&q, one core, warm loop, so scripts/bench/transform can set it beside
// `pixgate bench --op 'transform:QUERY'`.
//   node sharp-transform.js --input FILE --op QUERY [--op QUERY ...] [--iterations N] [--warmup W] [--save-dir DIR]
// QUERY is the /img query (w=800&h=600&f=avif&q=60); the render is exactly the peer's:
// sharp(body).resize(w, h).toFormat(f, { quality: q }) (sharp's default fit: cover; q default 80).
// Prints one JSON line per op, shaped as `pixgate bench` prints them.
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

async function main() {
  const a = args(process.argv.slice(2));
  const body = fs.readFileSync(a.input);
  for (const op of a.ops) {
    for (let i = 0; i < a.warmup; i++) await render(body, op);
    const ms = [];
    let output = Buffer.alloc(0);
    for (let i = 0; i < a.iterations; i++) {
      const start = process.hrtime.bigint();
      output = await render(body, op);
      ms.push(Number(process.hrtime.bigint() - start) / 1e6);
    }
    let saved;
    if (a.saveDir) {
      saved = `${a.saveDir}/${op.replace(/[/:&=]/g, '_')}`;
      fs.writeFileSync(saved, output);
    }
    const sorted = [...ms].sort((x, y) => x - y);
    const n = sorted.length;
    const median = n === 0 ? null : n % 2 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    console.log(JSON.stringify({
      op, iterations: n, ms, median_ms: median, min_ms: sorted[0], max_ms: sorted[n - 1],
      output_bytes: output.length, saved,
    }));
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
