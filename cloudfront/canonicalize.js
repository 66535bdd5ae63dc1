// CloudFront Function (runtime cloudfront-js-2.0, viewer request) for GET /img/{key}?...
// Rewrites the query to its canonical form (docs/canonical-form.md) so CloudFront keeps one
// cache entry per rendition. Checked against tests/fixtures/canonical.json, like the origin.
// Plain script on purpose: the runtime has no module system, so no require/exports here;
// the tests load this file with node's vm module. ES5 + var only (also fine on js-1.0).

var MAX_SIDE = 4096;
var FORMATS = { jpeg: 'jpeg', jpg: 'jpeg', png: 'png', webp: 'webp', avif: 'avif', auto: 'auto' };
var FITS = { cover: 1, contain: 1, fill: 1, inside: 1, outside: 1 };
var NAMES = ['w', 'h', 'fit', 'enlarge', 'f', 'q', 's'];

function has(o, k) {
    return Object.prototype.hasOwnProperty.call(o, k);
}

// UTF-8 bytes -> string, invalid sequences become U+FFFD (WHATWG decoder, as Rust's from_utf8_lossy).
function utf8(bytes) {
    var out = '', need = 0, seen = 0, cp = 0, lo = 0x80, hi = 0xbf;
    for (var i = 0; i < bytes.length; i++) {
        var b = bytes[i];
        if (need === 0) {
            if (b < 0x80) { out += String.fromCharCode(b); }
            else if (b >= 0xc2 && b <= 0xdf) { need = 1; cp = b & 0x1f; }
            else if (b >= 0xe0 && b <= 0xef) { lo = b === 0xe0 ? 0xa0 : 0x80; hi = b === 0xed ? 0x9f : 0xbf; need = 2; cp = b & 0x0f; }
            else if (b >= 0xf0 && b <= 0xf4) { lo = b === 0xf0 ? 0x90 : 0x80; hi = b === 0xf4 ? 0x8f : 0xbf; need = 3; cp = b & 0x07; }
            else { out += '\ufffd'; }
            continue;
        }
        if (b < lo || b > hi) {
            need = seen = cp = 0; lo = 0x80; hi = 0xbf;
            out += '\ufffd';
            i--; // reprocess this byte as a lead byte
            continue;
        }
        lo = 0x80; hi = 0xbf;
        cp = (cp << 6) | (b & 0x3f);
        if (++seen === need) { out += String.fromCodePoint(cp); need = seen = cp = 0; }
    }
    return need ? out + '\ufffd' : out;
}

// application/x-www-form-urlencoded decoding: '+' is a space, %XX a byte (a '%' not followed by
// two hex digits stays literal), the bytes are UTF-8.
function formDecode(s) {
    if (!/[%+\u0080-\uffff]/.test(s)) return s;
    var bytes = [];
    for (var i = 0; i < s.length; i++) {
        var c = s.charAt(i);
        if (c === '+') { bytes.push(0x20); continue; }
        if (c === '%' && /^[0-9A-Fa-f]{2}$/.test(s.substr(i + 1, 2))) {
            bytes.push(parseInt(s.substr(i + 1, 2), 16));
            i += 2;
            continue;
        }
        var code = s.codePointAt(i);
        if (code > 0xffff) i++;
        var enc = encodeURIComponent(String.fromCodePoint(code >= 0xd800 && code <= 0xdfff ? 0xfffd : code));
        if (enc.charAt(0) !== '%') { bytes.push(code); continue; }
        for (var j = 0; j < enc.length; j += 3) bytes.push(parseInt(enc.substr(j + 1, 2), 16));
    }
    return utf8(bytes);
}

// ASCII digits, leading zeros stripped, 1..=max; the normalised decimal string or null.
function bounded(v, max) {
    if (!/^[0-9]+$/.test(v)) return null;
    v = v.replace(/^0+/, '');
    if (v === '' || v.length > String(max).length || +v > max) return null;
    return v;
}

// A q value read like Rust's f32 parse (as the origin does); unreadable is 0.
function qweight(v) {
    if (/^[+-]?(inf|infinity)$/i.test(v)) return v.charAt(0) === '-' ? -1 : 1;
    return /^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$/.test(v) ? parseFloat(v) : 0;
}

// f=auto: avif if image/avif counts, else webp if image/webp counts, else jpeg.
function autoFormat(accept) {
    var counts = {};
    var ranges = accept ? String(accept).split(',') : [];
    for (var i = 0; i < ranges.length; i++) {
        var parts = ranges[i].split(';');
        var type = parts[0].trim().toLowerCase();
        var q = 1;
        for (var j = 1; j < parts.length; j++) {
            var eq = parts[j].indexOf('=');
            if (eq < 0 || parts[j].slice(0, eq).trim().toLowerCase() !== 'q') continue;
            var qv = parts[j].slice(eq + 1).trim();
            q = qweight(qv);
            break;
        }
        if (q > 0) counts[type] = true;
    }
    if (has(counts, 'image/avif')) return 'avif';
    if (has(counts, 'image/webp')) return 'webp';
    return 'jpeg';
}

// canonicalize(rawQuery, accept, maxSide) ->
//   {canonical: 'w=200&h=150', vary: bool}  or  {error: {code: 'invalid_param', param: name}}
function canonicalize(rawQuery, accept, maxSide) {
    var max = maxSide || MAX_SIDE;
    var p = {};
    var segs = rawQuery ? String(rawQuery).split('&') : [];
    for (var i = 0; i < segs.length; i++) {
        var seg = segs[i];
        if (seg === '') continue;
        var eq = seg.indexOf('=');
        var name = formDecode(eq < 0 ? seg : seg.slice(0, eq)).toLowerCase();
        var raw = eq < 0 ? '' : formDecode(seg.slice(eq + 1));
        var lower = raw.toLowerCase();
        var v = null;
        if (NAMES.indexOf(name) < 0 || has(p, name)) return { error: { code: 'invalid_param', param: name } };
        if (name === 'w' || name === 'h') v = bounded(raw, max);
        else if (name === 'q') v = bounded(raw, 100);
        else if (name === 'f') v = has(FORMATS, lower) ? FORMATS[lower] : null;
        else if (name === 'fit') v = has(FITS, lower) ? lower : null;
        else if (name === 'enlarge') v = lower === '1' || lower === 'true' ? true : lower === '0' || lower === 'false' ? false : null;
        else if (name === 's') v = /^[A-Za-z0-9_-]+$/.test(raw) ? raw : null;
        if (v === null) return { error: { code: 'invalid_param', param: name } };
        p[name] = v;
    }

    var out = [];
    var sides = (has(p, 'w') ? 1 : 0) + (has(p, 'h') ? 1 : 0);
    var vary = p.f === 'auto';
    var f = vary ? autoFormat(accept) : p.f;
    if (has(p, 'w')) out.push('w=' + p.w);
    if (has(p, 'h')) out.push('h=' + p.h);
    if (sides === 2 && has(p, 'fit') && p.fit !== 'cover') out.push('fit=' + p.fit);
    if (sides > 0 && p.enlarge === true) out.push('enlarge=1');
    if (f) out.push('f=' + f);
    if (has(p, 'q') && p.q !== '80' && f !== 'png') out.push('q=' + p.q);
    if (has(p, 's')) out.push('s=' + p.s);
    return { canonical: out.join('&'), vary: vary };
}

// The viewer's query string as sent. rawQueryString() (helper added to the runtime in 2025)
// gives it unaltered; otherwise it is rebuilt from the querystring object, whose names and
// values CloudFront passes as the viewer spelled them (still percent-encoded). Duplicates
// arrive collapsed into one field with a multiValue array; each value is kept so the
// duplicate is seen.
function rawQuery(request) {
    if (typeof request.rawQueryString === 'function') {
        var r = request.rawQueryString();
        if (typeof r === 'string' && r !== '') return r;
    }
    var qs = request.querystring;
    if (typeof qs === 'string') return qs;
    var parts = [];
    for (var name in qs) {
        if (!has(qs, name)) continue;
        var field = qs[name] || {};
        var vals = field.multiValue && field.multiValue.length ? field.multiValue : [field];
        for (var i = 0; i < vals.length; i++) {
            var v = vals[i] && vals[i].value;
            parts.push(name + '=' + (v === undefined || v === null ? '' : v));
        }
    }
    return parts.join('&');
}

function acceptHeader(request) {
    var h = request.headers && request.headers.accept;
    if (!h) return null;
    if (h.multiValue && h.multiValue.length) {
        return h.multiValue.map(function (m) { return m.value; }).join(',');
    }
    return h.value;
}

function handler(event) {
    var request = event.request;
    if (typeof request.uri !== 'string' || request.uri.indexOf('/img/') !== 0) return request;
    var res = canonicalize(rawQuery(request), acceptHeader(request), MAX_SIDE);
    if (res.error) return request; // the origin answers the JSON 400
    var qs = {};
    var pairs = res.canonical ? res.canonical.split('&') : [];
    for (var i = 0; i < pairs.length; i++) {
        var eq = pairs[i].indexOf('=');
        qs[pairs[i].slice(0, eq)] = { value: pairs[i].slice(eq + 1) };
    }
    request.querystring = qs;
    // f=auto is resolved now, so Accept no longer selects the rendition: drop it so it can
    // never fragment the cache key or reach the origin.
    if (request.headers && has(request.headers, 'accept')) delete request.headers.accept;
    return request;
}
