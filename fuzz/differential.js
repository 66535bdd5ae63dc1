// The CloudFront Function's side of the `canonical_diff` fuzz target: reads one JSON request a
// line ({"q": query, "a": accept or null}) and answers one JSON line with what
// `canonicalize(q, a, 4096)` returns. The function is loaded as `cloudfront/canonicalize.test.js`
// loads it (a bare vm context, strict mode), so both see the same code the same way.
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const readline = require('node:readline');
const vm = require('node:vm');

const FILE = path.join(__dirname, '..', 'cloudfront', 'canonicalize.js');
const context = vm.createContext({});
vm.runInContext('"use strict";\n' + fs.readFileSync(FILE, 'utf8'), context, { filename: FILE });

const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
lines.on('line', (line) => {
  const { q, a } = JSON.parse(line);
  let answer;
  try {
    answer = context.canonicalize(q, a, 4096);
  } catch (e) {
    answer = { exception: String(e) };
  }
  process.stdout.write(JSON.stringify(answer) + '\n');
});
