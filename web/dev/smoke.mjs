// Loads web/dev/smoke.html in headless Debian Chromium and checks that the vendored bundle works:
// the Dashboard renders, a picked file shows a thumbnail and uploads through XHRUpload as multipart
// field `file`, and AwsS3 (endpoint mode) runs Companion's S3 routes, single PUT and multipart.
// The pixgate and S3 endpoints are faked with Playwright routes; web/ is served by
// `python3 -m http.server` on 127.0.0.1. Run: `scripts/vendor-web --check` or `node web/dev/smoke.mjs`.
import { spawn } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'

const web = join(dirname(fileURLToPath(import.meta.url)), '..')
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium'
const fail = (msg) => { throw new Error(msg) }

// Static server on a free loopback port (python prints the port it bound).
const server = spawn('python3', ['-u', '-m', 'http.server', '0', '--bind', '127.0.0.1', '--directory', web],
  { stdio: ['ignore', 'pipe', 'pipe'] })
const port = await new Promise((resolve, reject) => {
  const t = setTimeout(() => reject(new Error('http.server did not start')), 10000)
  server.stdout.on('data', (d) => {
    const m = String(d).match(/port (\d+)/)
    if (m) { clearTimeout(t); resolve(Number(m[1])) }
  })
  server.on('exit', (c) => reject(new Error(`http.server exited ${c}`)))
})
const origin = `http://127.0.0.1:${port}`

const browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] })
const problems = []
const seen = []
try {
  const page = await browser.newPage({ viewport: { width: 900, height: 600 } })
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') problems.push(`console.${m.type()}: ${m.text()}`) })
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`))
  page.on('requestfailed', (r) => problems.push(`requestfailed: ${r.url()} ${r.failure()?.errorText}`))
  // Nothing may leave 127.0.0.1 (no CDN, nothing fetched at run time).
  await page.route((url) => url.hostname !== '127.0.0.1', (route) => {
    problems.push(`off-host request: ${route.request().url()}`)
    return route.abort()
  })

  // Fake pixgate: POST /upload?type=image
  await page.route(`${origin}/upload?type=image`, async (route) => {
    const req = route.request()
    const body = req.postDataBuffer()?.toString('latin1') ?? ''
    const field = /name="file"; filename="dot.png"/.test(body)
    seen.push(`${req.method()} /upload auth=${req.headers().authorization} field-file=${field}`)
    if (req.method() !== 'POST' || !/multipart\/form-data/.test(req.headers()['content-type']) || !field) problems.push('upload: not a multipart POST with field `file`')
    if (req.headers().authorization !== 'Bearer smoke-token') problems.push('upload: no Authorization')
    return route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify({ id: 'abc', url: '/i/abc.png' }) })
  })
  // Fake pixgate /direct/image/s3/... (Companion's S3 routes) and fake S3 behind the signed URLs.
  await page.route(`${origin}/direct/image/s3/**`, async (route) => {
    const req = route.request()
    const u = new URL(req.url())
    const path = u.pathname.replace('/direct/image/', '')
    seen.push(`${req.method()} ${path}${u.search} auth=${req.headers().authorization}`)
    if (req.headers().authorization !== 'Bearer smoke-token') problems.push(`no Authorization on ${path}`)
    const json = (o) => route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify(o) })
    if (req.method() === 'GET' && path === 's3/params') return json({ method: 'PUT', url: `${origin}/fake-s3/single`, fields: {}, headers: {} })
    if (req.method() === 'POST' && path === 's3/multipart') return json({ uploadId: 'up1', key: 'incoming/big' })
    let m
    if (req.method() === 'GET' && (m = path.match(/^s3\/multipart\/up1\/(\d+)$/))) return json({ url: `${origin}/fake-s3/part/${m[1]}` })
    if (req.method() === 'POST' && path === 's3/multipart/up1/complete') {
      seen.push(`  complete body: ${req.postData()}`)
      return json({ location: `${origin}/i/big` })
    }
    problems.push(`unexpected ${req.method()} ${path}`)
    return route.fulfill({ status: 404, body: 'unexpected' })
  })
  await page.route(`${origin}/fake-s3/**`, async (route) => {
    const req = route.request()
    const n = req.postDataBuffer()?.length ?? 0
    const p = new URL(req.url()).pathname
    seen.push(`${req.method()} ${p} ${n} bytes`)
    return route.fulfill({ status: 200, headers: { ETag: `"etag-${p.split('/').pop()}"`, Location: `${origin}${p}` }, body: '' })
  })

  await page.goto(`${origin}/dev/smoke.html`)
  await page.waitForSelector('.uppy-Dashboard', { timeout: 10000 })
  const globals = await page.evaluate(() => Object.keys(window.Uppy).join(','))
  if (globals !== 'Uppy,Dashboard,XHRUpload,AwsS3') fail(`window.Uppy has ${globals}`)
  const cssApplied = await page.evaluate(() => getComputedStyle(document.querySelector('.uppy-Dashboard-inner')).borderTopStyle)
  if (cssApplied !== 'solid') fail(`uppy.min.css not applied (border ${cssApplied})`)

  // Pick a real PNG through the Dashboard's own file input: thumbnail, then XHR upload.
  const png = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAABAAAAAQCAIAAACQkWg2AAAAGElEQVR4nGP4z8CAFWEXHdUwqmFUAx4NAPM7/QHdvEtXAAAAAElFTkSuQmCC', 'base64')
  await page.locator('.uppy-Dashboard input[type=file]').first().setInputFiles({ name: 'dot.png', mimeType: 'image/png', buffer: png })
  await page.waitForSelector('.uppy-Dashboard-Item-previewImg', { timeout: 10000 })
  const xhr = await page.evaluate(async () => {
    const r = await window.uppyXhr.upload()
    return { ok: r.successful.length, failed: r.failed.length, body: r.successful[0]?.response?.body }
  })
  if (xhr.ok !== 1 || xhr.failed !== 0 || xhr.body?.id !== 'abc') fail(`XHR upload: ${JSON.stringify(xhr)}`)
  await page.waitForSelector('.uppy-StatusBar.is-complete', { timeout: 10000 })
  await page.screenshot({ path: process.env.SMOKE_SCREENSHOT || '/tmp/pixgate-uppy-smoke.png' })

  // AwsS3 in Companion/endpoint mode: a small file (s3/params + PUT) and a 6 MiB one (multipart, 2 parts).
  const s3 = await page.evaluate(async () => {
    const u = window.uppyS3
    u.addFile({ name: 'small.jpg', type: 'image/jpeg', data: new Blob([new Uint8Array(1000)], { type: 'image/jpeg' }) })
    u.addFile({ name: 'big.jpg', type: 'image/jpeg', data: new Blob([new Uint8Array(6 * 1024 * 1024)], { type: 'image/jpeg' }) })
    const r = await u.upload()
    return { ok: r.successful.map((f) => `${f.name}:${f.response?.body?.location ?? f.uploadURL}`).sort(), failed: r.failed.map((f) => `${f.name}: ${f.error}`) }
  })
  if (s3.ok.length !== 2 || s3.failed.length) fail(`S3 upload: ${JSON.stringify(s3)}`)
  if (!seen.some((s) => s.startsWith('PUT /fake-s3/single 1000 bytes'))) fail('no single PUT')
  if (!seen.some((s) => s.startsWith('PUT /fake-s3/part/2 1048576 bytes'))) fail('no second part')
  if (!seen.some((s) => s.includes('"ETag":"\\"etag-2\\""'))) fail('complete did not carry the ETags')

  console.log(`smoke: Chromium ${browser.version()}, ${origin}/dev/smoke.html`)
  console.log(`  window.Uppy = { ${globals} }, Dashboard rendered, CSS applied, thumbnail shown`)
  console.log(`  XHRUpload: ${JSON.stringify(xhr)}`)
  console.log(`  AwsS3: ${JSON.stringify(s3)}`)
  for (const s of seen) console.log(`  ${s}`)
} finally {
  await browser.close()
  server.kill()
}
if (problems.length) {
  for (const p of problems) console.error(`  ${p}`)
  console.error(`smoke: FAILED (${problems.length} console errors/warnings or failed requests)`)
  process.exit(1)
}
console.log('smoke: OK, no console errors or warnings, no off-host requests')
