// Tests for the CloudFront Function: `node --test cloudfront/` (node 18+, built-ins only).
// The function is a plain script (the runtime has no module system), so it is loaded with
// node's vm module into a bare context (no require, Buffer, process or console), run in
// strict mode as CloudFront Functions always are, and its globals are read from there.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');
const { spawnSync } = require('node:child_process');

const FILE = path.join(__dirname, 'canonicalize.js');
const SOURCE = fs.readFileSync(FILE, 'utf8');
const VECTORS = JSON.parse(
  fs.readFileSync(path.join(__dirname, '..', 'tests', 'fixtures', 'canonical.json'), 'utf8'),
);

function load() {
  const context = vm.createContext({});
  vm.runInContext('"use strict";\n' + SOURCE, context, { filename: FILE });
  return context;
}

const fn = load();

// Results cross the vm boundary: copy them into this realm before deepEqual.
const plain = (v) => JSON.parse(JSON.stringify(v));

test('fixture file is well formed', () => {
  assert.equal(VECTORS.max_side, 4096);
  assert.ok(VECTORS.cases.length >= 60);
  const names = new Set();
  for (const c of VECTORS.cases) {
    assert.equal(typeof c.name, 'string');
    assert.ok(!names.has(c.name), `duplicate case name ${c.name}`);
    names.add(c.name);
    assert.equal(typeof c.query, 'string');
    assert.ok(c.accept === null || typeof c.accept === 'string', c.name);
    assert.ok(('error' in c) !== ('canonical' in c), `${c.name}: exactly one of error/canonical`);
    if ('error' in c) {
      assert.deepEqual(Object.keys(c.error).sort(), ['code', 'param']);
      assert.equal(c.error.code, 'invalid_param');
      assert.ok(!('vary' in c), c.name);
    } else {
      assert.equal(typeof c.vary, 'boolean', c.name);
      // a canonical query is a fixed point
      const again = fn.canonicalize(c.canonical, c.accept, VECTORS.max_side);
      assert.equal(again.canonical, c.canonical, `${c.name}: canonical form is not stable`);
    }
  }
});

test('canonical vectors', async (t) => {
  for (const c of VECTORS.cases) {
    await t.test(c.name, () => {
      const got = plain(fn.canonicalize(c.query, c.accept, VECTORS.max_side));
      const want = 'error' in c ? { error: c.error } : { canonical: c.canonical, vary: c.vary };
      assert.deepEqual(got, want, `query ${JSON.stringify(c.query)} accept ${JSON.stringify(c.accept)}`);
    });
  }
});

test('maxSide defaults to 4096 and can be changed', () => {
  assert.deepEqual(plain(fn.canonicalize('w=4096', null)), { canonical: 'w=4096', vary: false });
  assert.equal(plain(fn.canonicalize('w=4097', null)).error.param, 'w');
  assert.deepEqual(plain(fn.canonicalize('w=5000', null, 8192)), { canonical: 'w=5000', vary: false });
  assert.equal(plain(fn.canonicalize('h=2049', null, 2048)).error.param, 'h');
});

// Not in the shared vectors (the spec is silent): Accept q values are read like Rust's f32
// parse, as the origin reads them, and an unreadable q means the type does not count.
test('Accept q values beyond plain decimals', () => {
  const f = (accept) => plain(fn.canonicalize('f=auto', accept)).canonical;
  assert.equal(f('image/avif;q=.5'), 'f=avif');
  assert.equal(f('image/avif;q=1e-3'), 'f=avif');
  assert.equal(f('image/avif;q=0e5,image/webp'), 'f=webp');
  assert.equal(f('image/avif;Q=0,image/webp'), 'f=webp');
  assert.equal(f('image/avif;q=abc,image/webp'), 'f=webp');
  assert.equal(f('image/avif;q=,image/webp'), 'f=webp');
  assert.equal(f('image/avif;q=NaN,image/webp'), 'f=webp');
  assert.equal(f('image/avif;q=-1,image/webp'), 'f=webp');
  assert.equal(f('image/avif;level=1;q=0.5'), 'f=avif');
  assert.equal(f('image/avif;q=0;q=1,image/webp'), 'f=webp'); // first q wins
  assert.equal(f('image/avif;q=0, image/avif'), 'f=avif'); // any range for the type counts
});

// ---- handler, with event objects shaped as CloudFront Functions passes them ----

function event(uri, querystring, headers) {
  return {
    version: '1.0',
    context: { distributionDomainName: 'd111111abcdef8.cloudfront.net', distributionId: 'EDFDVBD6EXAMPLE', eventType: 'viewer-request', requestId: 'req-1' },
    viewer: { ip: '198.51.100.11' },
    request: {
      method: 'GET',
      uri,
      querystring: querystring || {},
      headers: headers || { host: { value: 'img.example.com' } },
      cookies: {},
    },
  };
}

test('handler rewrites the query to the canonical object form', () => {
  const ev = event('/img/cat.jpg', {
    W: { value: '0200' },
    h: { value: '150' },
    q: { value: '80' },
    fit: { value: 'cover' },
  });
  const req = plain(fn.handler(ev));
  assert.deepEqual(req.querystring, { w: { value: '200' }, h: { value: '150' } });
  assert.deepEqual(Object.keys(req.querystring), ['w', 'h']);
  assert.equal(req.uri, '/img/cat.jpg');
  assert.equal(req.method, 'GET');
});

test('handler decodes percent-encoded names and values as the viewer sent them', () => {
  const ev = event('/img/a/b.png', { '%77': { value: '%32%30%30' }, f: { value: 'JPG' } });
  const req = plain(fn.handler(ev));
  assert.deepEqual(req.querystring, { w: { value: '200' }, f: { value: 'jpeg' } });
});

test('handler resolves f=auto from Accept and drops the Accept header', () => {
  const ev = event('/img/cat.jpg', { f: { value: 'auto' }, w: { value: '300' }, q: { value: '80' } }, {
    host: { value: 'img.example.com' },
    accept: { value: 'image/avif,image/webp,image/apng,image/*,*/*;q=0.8' },
  });
  const req = plain(fn.handler(ev));
  assert.deepEqual(req.querystring, { w: { value: '300' }, f: { value: 'avif' } });
  assert.ok(!('accept' in req.headers));
  assert.deepEqual(req.headers.host, { value: 'img.example.com' });
});

test('handler joins repeated Accept headers (multiValue)', () => {
  const ev = event('/img/cat.jpg', { f: { value: 'auto' } }, {
    accept: {
      value: 'text/html',
      multiValue: [{ value: 'text/html' }, { value: 'image/webp' }],
    },
  });
  assert.deepEqual(plain(fn.handler(ev)).querystring, { f: { value: 'webp' } });
});

test('handler sees duplicates collapsed into multiValue and leaves the request alone', () => {
  const qs = { w: { value: '100', multiValue: [{ value: '100' }, { value: '200' }] } };
  const ev = event('/img/cat.jpg', qs);
  const before = plain(ev.request);
  const req = fn.handler(ev);
  assert.equal(req, ev.request);
  assert.deepEqual(plain(req), before);
});

test('handler: duplicate differing only in case is an error (request unchanged)', () => {
  const ev = event('/img/cat.jpg', { w: { value: '1' }, W: { value: '2' } }, { accept: { value: 'image/avif' } });
  const before = plain(ev.request);
  assert.deepEqual(plain(fn.handler(ev)), before);
});

test('handler leaves an invalid request unchanged, Accept included', () => {
  const ev = event('/img/cat.jpg', { w: { value: '0' }, f: { value: 'auto' } }, { accept: { value: 'image/avif' } });
  const before = plain(ev.request);
  assert.deepEqual(plain(fn.handler(ev)), before);
});

test('handler does not touch requests outside /img/', () => {
  for (const uri of ['/upload', '/', '/imgx/cat.jpg', '/images/cat.jpg', '/health']) {
    const ev = event(uri, { h: { value: '150' }, w: { value: '200' } }, { accept: { value: 'image/avif' } });
    const before = plain(ev.request);
    assert.deepEqual(plain(fn.handler(ev)), before, uri);
  }
});

test('handler: empty canonical query gives an empty querystring object', () => {
  const ev = event('/img/cat.jpg', { q: { value: '80' }, enlarge: { value: '1' } });
  assert.deepEqual(plain(fn.handler(ev)).querystring, {});
  const none = event('/img/cat.jpg', {});
  assert.deepEqual(plain(fn.handler(none)).querystring, {});
});

test('handler: a segment without = (empty value) is an error', () => {
  const ev = event('/img/cat.jpg', { w: { value: '' } });
  const before = plain(ev.request);
  assert.deepEqual(plain(fn.handler(ev)), before);
});

test('handler prefers rawQueryString() when the runtime has it', () => {
  // order of the raw string decides which error is reported, and '+' stays a space
  const ev = event('/img/cat.jpg', { w: { value: 'ignored' } });
  ev.request.rawQueryString = () => 'h=150&w=0200';
  assert.deepEqual(plain(fn.handler(ev)).querystring, { w: { value: '200' }, h: { value: '150' } });

  // the console's test tab returns '' even when the event carries a query: fall back to the object
  const ev2 = event('/img/cat.jpg', { h: { value: '150' }, w: { value: '200' } });
  ev2.request.rawQueryString = () => '';
  assert.deepEqual(plain(fn.handler(ev2)).querystring, { w: { value: '200' }, h: { value: '150' } });

  const ev3 = event('/img/cat.jpg', {});
  ev3.request.rawQueryString = () => undefined;
  assert.deepEqual(plain(fn.handler(ev3)).querystring, {});
});

// ---- runtime constraints ----

test('source fits the CloudFront Functions limits', () => {
  assert.ok(Buffer.byteLength(SOURCE) <= 10 * 1024, `size ${Buffer.byteLength(SOURCE)} > 10 KB`);
  const code = SOURCE.replace(/\/\/.*$/gm, '').replace(/\/\*[\s\S]*?\*\//g, '');
  for (const banned of [/\brequire\s*\(/, /\bmodule\b/, /\bexports\b/, /^\s*import\b/m, /^\s*export\b/m,
    /\beval\s*\(/, /\bnew Function\b/, /\bsetTimeout\b/, /\bBuffer\b/, /\bprocess\b/, /\bconsole\b/]) {
    assert.ok(!banned.test(code), `source uses ${banned}`);
  }
  assert.match(code, /^function handler\(event\)/m);
});

test('runs under njs, if installed (engine close to the CloudFront Functions runtime)', (t) => {
  const probe = spawnSync('njs', ['-v'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    t.skip('njs not installed (apt-get install njs)');
    return;
  }
  // njs runs the unmodified source plus a driver that replays every vector.
  const driver = `
var V = ${JSON.stringify(VECTORS)};
var bad = [];
V.cases.forEach(function (c) {
  var got = JSON.stringify(canonicalize(c.query, c.accept, V.max_side));
  var want = JSON.stringify(c.error ? { error: c.error } : { canonical: c.canonical, vary: c.vary });
  if (got !== want) bad.push(c.name + ': ' + got + ' != ' + want);
});
var ev = { request: { method: 'GET', uri: '/img/x', headers: { accept: { value: 'image/webp' } },
  querystring: { f: { value: 'auto' }, W: { value: '010' } } } };
var q = handler(ev).querystring;
if (JSON.stringify(q) !== '{"w":{"value":"10"},"f":{"value":"webp"}}') bad.push('handler: ' + JSON.stringify(q));
console.log(bad.length ? bad.join('\\n') : 'NJS-OK ' + V.cases.length);
`;
  const fs2 = require('node:fs');
  const os = require('node:os');
  const tmp = fs2.mkdtempSync(path.join(os.tmpdir(), 'cff-'));
  const script = path.join(tmp, 'run.js');
  fs2.writeFileSync(script, SOURCE + '\n' + driver);
  try {
    const r = spawnSync('njs', [script], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /^NJS-OK \d+$/m, r.stdout + r.stderr);
  } finally {
    fs2.rmSync(tmp, { recursive: true, force: true });
  }
});
