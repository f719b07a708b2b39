#!/usr/bin/env node
// Streaming client for the benchmark (Node.js, no dependencies): runs <count> streamed chat completions, at most
// <concurrency> at a time, and prints one JSON line of statistics: time to first content chunk, total time, content
// chunks delivered per stream, how late each chunk arrived after the upstream sent it (bench/upstream.js stamps its
// send time into each chunk), and how many streams were open at once. For streams of plain tokens (bench/upstream.js
// /t/..., the guardrail rows) it reports the time to the first non-empty content (firstTextMs), the text each
// stream received (its length, a hash, and whether every stream received the same) and, from the chunks' own
// "bench_sent" stamps, how late each chunk that carried text arrived (textLagMs).
//
// usage: node streams.js --url URL --body JSON [--header 'Name: value']... [--count 1] [--concurrency 1]
//                        [--ramp-ms 0] [--deadline-s 120] [--warmup 0]
// --warmup N runs N more streams first (one at a time) and leaves them out of the statistics.
'use strict';
const http = require('http');
const crypto = require('crypto');
const { performance } = require('perf_hooks');

const args = { header: [], count: 1, concurrency: 1, 'ramp-ms': 0, 'deadline-s': 120, warmup: 0 };
for (let i = 2; i < process.argv.length; i += 2) {
  const k = process.argv[i].replace(/^--/, '');
  const v = process.argv[i + 1];
  if (k === 'header') args.header.push(v); else args[k] = v;
}
const url = new URL(args.url);
const body = args.body;
const count = Math.max(1, parseInt(args.count, 10));
const concurrency = Math.max(1, Math.min(parseInt(args.concurrency, 10), count));
const rampMs = parseInt(args['ramp-ms'], 10);
const deadlineMs = parseFloat(args['deadline-s']) * 1000;
let warmup = Math.max(0, parseInt(args.warmup, 10));
const headers = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) };
for (const h of args.header) { const i = h.indexOf(':'); headers[h.slice(0, i).trim()] = h.slice(i + 1).trim(); }

const now = () => performance.timeOrigin + performance.now();
const agent = new http.Agent({ keepAlive: true, maxSockets: 600 });
const results = [];
const requests = new Set();
let started = 0;
let open = 0;
let peakOpen = 0;
let finished = false;

function one(done) {
  const r = { ok: false, status: 0, headersMs: null, firstMs: null, firstTextMs: null, totalMs: null, chunks: 0, lags: [],
    text: '', textLags: [], error: null, sawDone: false };
  const t0 = now();
  let buf = '';
  let counted = false;
  const finish = (err) => {
    if (r.totalMs !== null) return;
    r.totalMs = now() - t0;
    if (err && !r.error) r.error = String(err.message || err);
    r.ok = !r.error && r.status === 200 && r.sawDone;
    if (counted) open--;
    results.push(r);
    requests.delete(req);
    done();
  };
  const req = http.request({ host: url.hostname, port: url.port, path: url.pathname + url.search, method: 'POST', headers, agent }, (res) => {
    r.status = res.statusCode;
    r.headersMs = now() - t0;
    res.setEncoding('utf8');
    res.on('data', (d) => {
      const t = now();
      buf += d;
      let cut;
      while ((cut = buf.indexOf('\n\n')) >= 0) {
        const event = buf.slice(0, cut);
        buf = buf.slice(cut + 2);
        for (const line of event.split('\n')) {
          if (!line.startsWith('data:')) continue;
          const data = line.slice(5).trim();
          if (data === '[DONE]') { r.sawDone = true; continue; }
          let j;
          try { j = JSON.parse(data); } catch (e) { r.error = 'unparsable event: ' + data.slice(0, 80); continue; }
          if (j.error) { r.error = 'error event: ' + JSON.stringify(j.error).slice(0, 120); continue; }
          const c = j.choices && j.choices[0] && j.choices[0].delta && j.choices[0].delta.content;
          if (typeof c === 'string' && c.length > 0) {
            if (r.firstTextMs === null) { r.firstTextMs = t - t0; open++; counted = true; peakOpen = Math.max(peakOpen, open); }
            if (r.text.length < 65536) r.text += c;
            if (typeof j.bench_sent === 'number') r.textLags.push(t - j.bench_sent);
          }
          const m = typeof c === 'string' ? /(\d+)@([\d.]+) /.exec(c) : null;
          if (!m) continue;
          if (r.firstMs === null) r.firstMs = t - t0;
          r.chunks++;
          r.lags.push(t - parseFloat(m[2]));
        }
      }
    });
    res.on('end', () => finish(r.status === 200 ? null : 'status ' + r.status + ': ' + buf.slice(0, 120)));
    res.on('error', finish);
  });
  requests.add(req);
  req.on('error', finish);
  req.end(body);
}

function pct(all, p) {
  const values = all.filter((x) => x !== null && x !== undefined);
  if (!values.length) return null;
  const s = Float64Array.from(values).sort();
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}
const round = (x, d = 3) => (x === null ? null : Number(x.toFixed(d)));

function report() {
  if (finished) return;
  finished = true;
  for (const req of requests) req.destroy(new Error('deadline'));
  const ok = results.filter((r) => r.ok);
  const lags = [].concat(...results.map((r) => r.lags));
  const textLags = [].concat(...ok.map((r) => r.textLags));
  const hash = (x) => crypto.createHash('sha256').update(x).digest('hex').slice(0, 16);
  const texts = new Set(ok.map((r) => r.text));
  const errors = {};
  for (const r of results) if (!r.ok) { const k = r.error || ('status ' + r.status + (r.sawDone ? '' : ', no [DONE]')); errors[k] = (errors[k] || 0) + 1; }
  const out = {
    requested: count, completed: results.length, ok: ok.length, failed: count - ok.length, peakOpen,
    headersMs: { p50: round(pct(ok.map((r) => r.headersMs), 50)) },
    firstChunkMs: { p50: round(pct(ok.map((r) => r.firstMs), 50)), min: round(pct(ok.map((r) => r.firstMs), 0)), max: round(pct(ok.map((r) => r.firstMs), 100)) },
    totalMs: { p50: round(pct(ok.map((r) => r.totalMs), 50)), max: round(pct(ok.map((r) => r.totalMs), 100)) },
    chunks: { min: pct(results.map((r) => r.chunks), 0), p50: pct(results.map((r) => r.chunks), 50), max: pct(results.map((r) => r.chunks), 100) },
    lagMs: { p50: round(pct(lags, 50)), p99: round(pct(lags, 99)), max: round(pct(lags, 100)) },
    firstTextMs: { p50: round(pct(ok.map((r) => r.firstTextMs), 50)), min: round(pct(ok.map((r) => r.firstTextMs), 0)),
      max: round(pct(ok.map((r) => r.firstTextMs), 100)) },
    text: { chars: ok.length ? ok[0].text.length : null, sha256: ok.length ? hash(ok[0].text) : null, same: texts.size <= 1,
      start: ok.length ? ok[0].text.slice(0, 40) : null },
    textLagMs: { p50: round(pct(textLags, 50)), p99: round(pct(textLags, 99)), max: round(pct(textLags, 100)) },
    errors,
  };
  process.stdout.write(JSON.stringify(out) + '\n');
  agent.destroy();
  process.exit(0);
}

setTimeout(report, deadlineMs).unref();
function launch() {
  if (started >= count) { if (results.length >= count) report(); return; }
  started++;
  one(launch);
}
// the first <concurrency> streams start spread over rampMs; each finished stream starts the next
function begin() {
  for (let i = 0; i < concurrency; i++) setTimeout(launch, concurrency > 1 ? (rampMs * i) / concurrency : 0);
}
function warm() {
  if (warmup <= 0) { results.length = 0; peakOpen = 0; begin(); return; }
  warmup--;
  one(warm);
}
warm();
