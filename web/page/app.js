// pixgate's upload page: Uppy's Dashboard, files up to the multipart limit through POST /upload
// (Uppy's XHR upload), larger ones through the direct upload protocol (Uppy's AWS S3 plugin against
// /direct/{type}, multipart, resumable), and for every file what pixgate answered.
'use strict';

(function () {
  const config = JSON.parse(document.getElementById('pixgate-config').textContent);
  const { Uppy, Dashboard, XHRUpload, AwsS3 } = window.Uppy;
  const results = document.getElementById('results');
  const status = document.getElementById('status');
  // What happened, in order, for anyone watching the page (the browser tests do).
  const log = [];

  const mib = (bytes) => `${(bytes / 1048576).toFixed(bytes < 10485760 ? 1 : 0)} MiB`;
  const uploadType = () => document.querySelector('input[name="type"]:checked').value;
  // The one rule: what POST /upload takes goes there; anything larger goes direct.
  const routeOf = (file) => (file.size <= config.maxFileBytes ? 'xhr' : 'direct');

  document.getElementById('rule').textContent =
    `Files up to ${mib(config.maxFileBytes)} are sent in one request (POST /upload); larger ones, ` +
    `up to ${mib(config.directMaxBytes)}, go straight to storage in ${mib(config.partBytes)} parts ` +
    `(/direct/{type}, resumable), then pixgate processes them the same way.`;

  // Uppy logs every failed upload as a console error. A refusal pixgate explained ("code: message")
  // is shown on the page with the file, so it is logged as information; anything else stays an error.
  const explained = (args) => /(^|\] )[a-z_]+: /.test(args.map((arg) => String(arg && arg.message || arg)).join(' '));
  // Warnings stay quiet, as with Uppy's default logger (a thumbnail it cannot draw, for instance).
  const logger = {
    debug: () => {},
    warn: () => {},
    error: (...args) => (explained(args) ? console.info : console.error)(...args),
  };

  const uppy = new Uppy({
    logger,
    autoProceed: false,
    restrictions: { maxFileSize: config.directMaxBytes, maxNumberOfFiles: 20 },
  });

  // Uppy runs every uploader on every file; each of ours takes only the files routed to it.
  const addUploader = uppy.addUploader.bind(uppy);
  const routedTo = (route, uploader) => (fileIDs) =>
    uploader(fileIDs.filter((id) => routeOf(uppy.getFile(id)) === route));

  uppy.use(Dashboard, {
    inline: true,
    target: '#uploader',
    width: '100%',
    height: 380,
    showProgressDetails: true,
    proudlyDisplayPoweredByUppy: false,
    note: `Images up to ${mib(config.directMaxBytes)}`,
  });
  uppy.addUploader = (uploader) => addUploader(routedTo('xhr', uploader));
  uppy.use(XHRUpload, {
    endpoint: `/upload?type=${uploadType()}`,
    fieldName: 'file',
    limit: 3,
    timeout: 0,
    // A refusal (4xx) is final: the same file would be refused again. Retry what may pass.
    shouldRetry: (xhr) => xhr.status === 0 || xhr.status === 429 || xhr.status >= 500,
    // Uppy takes any other answer than 2xx for a network error; say what pixgate said instead.
    onAfterResponse: (xhr) => {
      if (xhr.status >= 400 && xhr.status < 500 && xhr.status !== 429) {
        const { code, message } = errorOf({}, xhr);
        throw new Error(`${code}: ${message}`);
      }
    },
  });
  uppy.addUploader = (uploader) => addUploader(routedTo('direct', uploader));
  uppy.use(AwsS3, {
    endpoint: `/direct/${uploadType()}`,
    shouldUseMultipart: true,
    getChunkSize: () => config.partBytes,
    limit: 4,
  });
  uppy.addUploader = addUploader;

  for (const input of document.querySelectorAll('input[name="type"]')) {
    input.addEventListener('change', () => {
      uppy.getPlugin('XHRUpload').setOptions({ endpoint: `/upload?type=${uploadType()}` });
      uppy.getPlugin('AwsS3Multipart').setOptions({ endpoint: `/direct/${uploadType()}` });
    });
  }

  uppy.on('upload', () => {
    document.body.dataset.uploads = 'uploading';
    status.textContent = 'Uploading…';
  });
  uppy.on('upload-progress', (file, progress) => {
    log.push({ event: 'progress', name: file.name, bytesUploaded: progress.bytesUploaded });
  });
  uppy.on('upload-success', (file, response) => {
    // POST /upload answers one item per file part; a direct complete answers the item itself.
    const body = response.body;
    const item = Array.isArray(body) ? body[0] : body;
    log.push({ event: 'success', name: file.name, via: routeOf(file), key: item && item.key });
    showStored(file, item, body);
  });
  uppy.on('upload-error', (file, error, response) => {
    const { code, message } = errorOf(error, response);
    log.push({ event: 'error', name: file.name, via: routeOf(file), code });
    showFailed(file, code, message);
  });
  uppy.on('complete', (result) => {
    document.body.dataset.uploads = 'done';
    status.textContent = `${result.successful.length} stored, ${result.failed.length} failed.`;
  });

  // pixgate's {error: {code, message}}: from the XHR's body on the /upload path; the direct path's
  // client only passes the message on, which pixgate writes as "code: message".
  function errorOf(error, response) {
    const xhr = (response && response.responseText !== undefined && response) || error.request;
    if (xhr && typeof xhr.responseText === 'string') {
      try {
        const body = JSON.parse(xhr.responseText);
        if (body && body.error) return { code: body.error.code, message: body.error.message };
      } catch (_) { /* not JSON: fall through to the message */ }
    }
    const text = String((error && error.message) || 'upload failed');
    const coded = /^([a-z_]+): ([\s\S]*)$/.exec(text);
    return coded ? { code: coded[1], message: coded[2] } : { code: 'network_error', message: text };
  }

  function element(tag, props, ...children) {
    const node = Object.assign(document.createElement(tag), props || {});
    for (const child of children) node.append(child);
    return node;
  }

  function entry(file, state) {
    const old = results.querySelector(`li[data-file-id="${CSS.escape(file.id)}"]`);
    if (old) old.remove();
    const li = element('li', { className: 'result' });
    li.dataset.fileId = file.id;
    li.dataset.name = file.name;
    li.dataset.state = state;
    li.dataset.via = routeOf(file);
    li.append(element('h3', {}, file.name, ' ',
      element('span', { className: 'via' }, routeOf(file) === 'xhr' ? '(POST /upload)' : '(direct upload)')));
    results.prepend(li);
    return li;
  }

  // Until a preview loads, its box (sized from the answer) shows the placeholder's dominant
  // colour, as a chat client would paint it.
  function withPlaceholder(img, item, width) {
    const placeholder = item.placeholder;
    if (!placeholder) return img;
    const w = Math.min(width, item.width);
    img.width = w;
    img.height = Math.max(1, Math.round(w * item.height / item.width));
    img.style.background = placeholder.color;
    img.addEventListener('load', () => img.style.removeProperty('background'), { once: true });
    return img;
  }

  function showStored(file, item, body) {
    const li = entry(file, 'stored');
    const src = (query) => `/img/${item.key.split('/').map(encodeURIComponent).join('/')}?${query}`;
    li.append(element('div', { className: 'previews' },
      element('figure', {},
        withPlaceholder(element('img', { className: 'preview-small', src: src('w=160'), alt: `${file.name}, 160 px wide` }), item, 160),
        element('figcaption', {}, 'w=160')),
      element('figure', {},
        withPlaceholder(element('img', { className: 'preview-auto', src: src('f=auto&w=480'), alt: `${file.name}, 480 px wide, best format for this browser` }), item, 480),
        element('figcaption', {}, 'f=auto&w=480'))));
    const facts = element('dl', { className: 'facts' });
    facts.append(
      element('dt', {}, 'stored'), element('dd', { className: 'dims' }, `${item.width}×${item.height}`),
      element('dt', {}, 'size'), element('dd', { className: 'bytes' }, `${item.size.toLocaleString('en')} bytes`),
      element('dt', {}, 'type'), element('dd', {}, item.contentType));
    li.append(facts);
    const url = element('input', { className: 'file-url', value: item.fileUrl, readOnly: true });
    url.setAttribute('aria-label', `fileUrl of ${file.name}`);
    const copy = element('button', { className: 'copy', type: 'button' }, 'Copy');
    copy.addEventListener('click', async () => {
      url.select();
      try {
        await navigator.clipboard.writeText(item.fileUrl);
        copy.textContent = 'Copied';
      } catch (_) {
        copy.textContent = 'Select and copy';
      }
    });
    li.append(element('div', { className: 'url' }, url, copy));
    li.append(element('details', {}, element('summary', {}, 'Answer (JSON)'),
      element('pre', { className: 'raw-json' }, JSON.stringify(body, null, 2))));
  }

  function showFailed(file, code, message) {
    const li = entry(file, 'failed');
    li.append(element('p', {}, element('span', { className: 'error-code' }, code), ' ',
      element('span', { className: 'error-message' }, message)));
  }

  window.pixgatePage = { uppy, log, config, routeOf };
})();
