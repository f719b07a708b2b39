#!/usr/bin/env node
// Turns the raw measurements bench/run leaves in one folder into the Markdown report it prints and keeps in
// bench/results/: the main table with ratios, the many-open-streams table, the soak, where Caravan stands against the
// issue's targets, and the machine.
//
// usage: node report.js <folder>
'use strict';
const fs = require('fs');
const path = require('path');

const dir = process.argv[2];
const read = (name) => { try { return fs.readFileSync(path.join(dir, name), 'utf8').trim(); } catch (e) { return null; } };
const kv = (text, sep) => {
  const o = {};
  if (!text) return null;
  for (const part of text.split(sep)) { const i = part.indexOf('='); if (i > 0) o[part.slice(0, i).trim()] = part.slice(i + 1).trim(); }
  return o;
};
const json = (name) => { const t = read(name); if (!t) return null; try { return JSON.parse(t.split('\n').pop()); } catch (e) { return null; } };
const wrk = (name) => {
  const o = kv(read(name), /\s+/);
  if (!o || !o.requests) return null;
  const n = (k) => Number(o[k]);
  return {
    rps: n('requests') / (n('duration_us') / 1e6), requests: n('requests'),
    errors: n('connect') + n('read') + n('write') + n('status') + n('timeout'), non2xx: n('status'),
    p50: n('p50'), p90: n('p90'), p99: n('p99'), p999: n('p999'), max: n('max'),
  };
};
const meta = kv(read('meta.env'), '\n') || {};

const fmt = (x, d = 0) => (x === null || x === undefined || Number.isNaN(x) ? '–' : Number(x).toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d }));
const signed = (x, d = 0) => (x === null || x === undefined || Number.isNaN(x) ? '–' : (x >= 0 ? '+' : '') + fmt(x, d));
const mb = (kib) => (kib === null || kib === undefined ? '–' : fmt(kib / 1024, 0));
const res = (t) => kv(read(`${t}.res`), '\n');

const TARGETS = [
  { id: 'direct', n: 1, name: 'upstream, direct' },
  { id: 'nginx', n: 2, name: 'nginx reverse proxy' },
  { id: 'caravan', n: 3, name: 'Caravan, full pipeline' },
  { id: 'cache', n: 4, name: 'Caravan, exact cache', na: 'n/a (no cache yet)' },
  { id: 'portkey', n: 5, name: 'Portkey gateway' },
];
const data = {};
for (const t of TARGETS) {
  data[t.id] = {
    fail: t.na || read(`${t.id}.fail`), thru: wrk(`${t.id}.thru`), lat: wrk(`${t.id}.lat`),
    stream: json(`${t.id}.stream.json`), res: res(t.id),
  };
}
const direct = data.direct;
const nginx = data.nginx;

const out = [];
const p = (s = '') => out.push(s);
const title = { quick: 'quick run', full: 'full run', soak: 'soak' }[meta.mode] || meta.mode;
p(`# Caravan benchmark: ${title}, ${meta.date}`);
p();
p(`Commit ${meta.commit}, ${meta.nproc} cores (${meta.cpu}), ${meta.memory}; Caravan with \`${meta.java_opts}\`. ` +
  `Run took ${meta.elapsed_s} s.`);
p();
// the load generator, the upstream and the gateway share the cores: anything else running skews every row
if (Number(meta.busy_start) > 15) {
  p(`> **Warning:** other work kept the machine ${meta.busy_start}% busy just before the run; it competes with the load ` +
    'generator, the upstream and the gateway for the cores, so treat these numbers as noisy.');
  p();
}

if (meta.mode !== 'soak') {
  p('## One request, five ways');
  p();
  p(`Non-streaming: \`wrk -t1 -c${meta.conns}\` for throughput, \`wrk -t1 -c1\` for latency (µs). Streaming: time to the ` +
    `first content chunk and to the end of a stream of ${meta.stream_chunks} chunks 50 ms apart, median of sequential runs (ms). ` +
    'Added latency is the gateway minus the direct call. RSS and CPU are the gateway process(es) during its own runs ' +
    '(row 1: the upstream nginx); CPU 100% = one core.');
  p();
  p(`| # | target | req/s @${meta.conns} | × nginx | p50 µs | p99 µs | p99.9 µs | added p50 µs | added p99 µs | TTFB ms | added TTFB ms | stream total ms | chunk lag p99 ms | RSS peak MB | CPU % @${meta.conns} | errors |`);
  p('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const t of TARGETS) {
    const d = data[t.id];
    if (d.fail) { p(`| ${t.n} | ${t.name} | ${t.na ? d.fail : 'failed: ' + d.fail.replace(/\|/g, '/')} ||||||||||||||`); continue; }
    const th = d.thru; const la = d.lat; const st = d.stream; const r = d.res || {};
    const ratio = th && nginx.thru && t.id !== 'direct' ? th.rps / nginx.thru.rps : null;
    const addP50 = la && direct.lat && t.id !== 'direct' ? la.p50 - direct.lat.p50 : null;
    const addP99 = la && direct.lat && t.id !== 'direct' ? la.p99 - direct.lat.p99 : null;
    const ttfb = st && st.ok ? st.firstChunkMs.p50 : null;
    const addTtfb = ttfb !== null && direct.stream && direct.stream.ok && t.id !== 'direct' ? ttfb - direct.stream.firstChunkMs.p50 : null;
    const streamErr = st && st.failed ? st.failed : 0;
    const errors = (th ? th.errors : 0) + (la ? la.errors : 0) + streamErr;
    const chunksNote = st && st.ok && st.chunks.min < Number(meta.stream_chunks) ? ` (${st.chunks.min}/${meta.stream_chunks} chunks)` : '';
    p(`| ${t.n} | ${t.name} | ${fmt(th && th.rps)} | ${ratio === null ? '–' : fmt(ratio, 2) + '×'} | ${fmt(la && la.p50)} | ${fmt(la && la.p99)} | ${fmt(la && la.p999)} | ` +
      `${signed(addP50)} | ${signed(addP99)} | ${fmt(ttfb, 2)} | ${signed(addTtfb, 2)} | ${fmt(st && st.ok ? st.totalMs.p50 : null, 0)}${chunksNote} | ` +
      `${fmt(st && st.ok ? st.lagMs.p99 : null, 2)} | ${mb(r.rss_peak_kib && Number(r.rss_peak_kib))} | ${fmt(r.cpu_thru_pct && Number(r.cpu_thru_pct))} | ${errors}${streamErr ? ` (${streamErr} streams)` : ''} |`);
  }
  p();
  p('Errors count connection errors, timeouts and non-2xx answers in the wrk runs, plus failed streams.');
  const warm = TARGETS.filter((t) => read(`${t.id}.warm`)).map((t) => {
    const rounds = read(`${t.id}.warm`).split('\n');
    return `${t.name} ${rounds.length * Number(meta.warm_round)} s (${rounds.map((r) => fmt(Number(r))).join(' → ')} req/s)`;
  });
  if (warm.length) p(`Warm-up at ${meta.conns} connections before measuring, until req/s rose less than 5% a round: ${warm.join('; ')}.`);
  p();

  // ---- many open streams --------------------------------------------------------------------------------------
  const manyTargets = (meta.many_targets || '').split(/\s+/).filter(Boolean);
  p(`## ${meta.many} open at once`);
  p();
  p('Each stream is paced by the upstream at one chunk a second; beside them one connection sends plain requests ' +
    '(wrk -c1). "p99 without" is the latency row above. Memory per stream = (peak RSS during the streams − RSS before) / streams.');
  p();
  p('| target | streams ok | chunks per stream min / median (of ' + meta.slow_chunks + ') | open at once | p99 µs without | p99 µs with | with / without | p50 µs with | RSS before → peak MB | KiB per stream | chunk lag max ms | errors |');
  p('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|');
  for (const id of manyTargets) {
    const t = TARGETS.find((x) => x.id === id);
    if (data[id].fail) { p(`| ${t.name} | failed: ${data[id].fail.replace(/\|/g, '/')} ||||||||||`); continue; }
    const m = json(`${id}.many.json`) || {};
    const l = wrk(`${id}.many.lat`);
    const r = kv(read(`${id}.many.res`), '\n') || {};
    const without = data[id].lat;
    const perStream = r.rss_peak_kib ? (Number(r.rss_peak_kib) - Number(r.rss_base_kib)) / Number(m.requested || 1) : null;
    const errs = Object.entries(m.errors || {}).map(([k, v]) => `${v}× ${k}`).join('; ').replace(/\|/g, '/');
    p(`| ${t.name} | ${fmt(m.ok)} / ${fmt(m.requested)} | ${m.chunks ? m.chunks.min + ' / ' + m.chunks.p50 : '–'} | ${fmt(m.peakOpen)} | ` +
      `${fmt(without && without.p99)} | ${fmt(l && l.p99)} | ${l && without ? fmt(l.p99 / without.p99, 2) + '×' : '–'} | ${fmt(l && l.p50)} | ` +
      `${mb(Number(r.rss_base_kib))} → ${mb(Number(r.rss_peak_kib))} | ${fmt(perStream, 1)} | ${fmt(m.lagMs && m.lagMs.max, 1)} | ${(l ? l.errors : 0) + (errs ? '; ' + errs : '')} |`);
  }
  p();
}

// ---- soak -------------------------------------------------------------------------------------------------------
let soak = null;
if (meta.mode === 'soak') {
  const w = wrk('soak.wrk');
  const r = kv(read('soak.res'), '\n') || {};
  const samples = (read('soak.rss') || '').split('\n').map((l) => l.split(' ').map(Number)).filter((s) => s.length === 2 && s[1] > 0);
  const t0 = samples.length ? samples[0][0] : 0;
  const at = (sec) => samples.reduce((best, s) => (Math.abs(s[0] - t0 - sec) < Math.abs(best[0] - t0 - sec) ? s : best), samples[0] || [0, 0]);
  const secs = Number(r.seconds || meta.soak_seconds);
  const start = samples.length ? samples[0][1] : null;
  const middle = samples.length ? at(secs / 2)[1] : null;
  const end = samples.length ? samples[samples.length - 1][1] : null;
  const peak = samples.length ? Math.max(...samples.map((s) => s[1])) : null;
  soak = { start, middle, end, peak, w };
  p(`## Soak: ${fmt(secs)} s at ${meta.conns} connections through Caravan, distinct prompts`);
  p();
  p('Every request carries a different prompt (a counter cycling through one million).');
  p();
  p('| requests | req/s | errors | p50 µs | p99 µs | RSS start MB | RSS middle MB | RSS end MB | RSS peak MB | end vs start | CPU s |');
  p('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  p(`| ${fmt(w && w.requests)} | ${fmt(w && w.rps)} | ${w ? w.errors : '–'} | ${fmt(w && w.p50)} | ${fmt(w && w.p99)} | ${mb(start)} | ${mb(middle)} | ${mb(end)} | ${mb(peak)} | ` +
    `${start ? signed(((end - start) / start) * 100, 1) + '%' : '–'} | ${r.cpu_s || '–'} |`);
  p();
}

// ---- targets ----------------------------------------------------------------------------------------------------
p('## Caravan against the issue\'s targets');
p();
p('| target | measured | |');
p('|---|---|---|');
const mark = (ok) => (ok === null ? '–' : ok ? 'met' : '**missed**');
const c = data.caravan;
if (meta.mode !== 'soak') {
  if (c.fail) {
    p(`| every row | Caravan failed: ${c.fail.replace(/\|/g, '/')} | **missed** |`);
  } else {
    const ratio = c.thru && nginx.thru ? c.thru.rps / nginx.thru.rps : null;
    p(`| throughput ≥ 0.5× nginx | ${ratio === null ? '–' : fmt(ratio, 2) + '×'} | ${mark(ratio === null ? null : ratio >= 0.5)} |`);
    const a50 = c.lat && direct.lat ? c.lat.p50 - direct.lat.p50 : null;
    const a99 = c.lat && direct.lat ? c.lat.p99 - direct.lat.p99 : null;
    p(`| added latency ≤ 150 µs at p50 | ${signed(a50)} µs | ${mark(a50 === null ? null : a50 <= 150)} |`);
    p(`| added latency ≤ 500 µs at p99 | ${signed(a99)} µs | ${mark(a99 === null ? null : a99 <= 500)} |`);
    const st = c.stream; const ds = direct.stream;
    const addT = st && st.ok && ds && ds.ok ? st.firstChunkMs.p50 - ds.firstChunkMs.p50 : null;
    const allChunks = st && st.ok ? st.chunks.min >= Number(meta.stream_chunks) : null;
    p(`| streaming TTFB overhead ≤ 1 ms, every chunk forwarded on arrival | ${signed(addT, 2)} ms; chunks ${st ? st.chunks.min : '–'}/${meta.stream_chunks}, lag p99 ${fmt(st && st.lagMs.p99, 2)} ms (direct ${fmt(ds && ds.lagMs.p99, 2)}) | ${mark(addT === null ? null : addT <= 1 && allChunks)} |`);
    p('| exact-cache hit faster than the direct call | n/a (no cache yet) | – |');
    const m = json('caravan.many.json');
    const l = wrk('caravan.many.lat');
    if (m && l && c.lat) {
      const within = l.p99 <= 2 * c.lat.p99;
      const every = m.ok === m.requested && m.chunks.min >= Number(meta.slow_chunks);
      p(`| ${meta.many}: p99 within 2× of without, every chunk delivered | ${fmt(l.p99 / c.lat.p99, 2)}×; ${m.ok}/${m.requested} streams complete, min ${m.chunks.min}/${meta.slow_chunks} chunks | ${mark(within && every)} |`);
    } else {
      p(`| ${meta.many}: p99 within 2×, every chunk delivered | not measured | – |`);
    }
    const peaks = [c.res && Number(c.res.rss_peak_kib), Number((kv(read('caravan.many.res'), '\n') || {}).rss_peak_kib || 0)].filter(Boolean);
    const peak = peaks.length ? Math.max(...peaks) : null;
    p(`| RSS ≤ 300 MB under load | ${mb(peak)} MB peak | ${mark(peak === null ? null : peak <= 300 * 1024)} |`);
    p('| RSS flat (±10%) across the soak | run `bench/run --soak` | – |');
  }
} else if (soak) {
  p(`| RSS ≤ 300 MB under load | ${mb(soak.peak)} MB peak | ${mark(soak.peak === null ? null : soak.peak <= 300 * 1024)} |`);
  const flat = soak.start ? Math.abs(soak.end - soak.start) / soak.start <= 0.1 && Math.abs(soak.middle - soak.start) / soak.start <= 0.1 : null;
  p(`| RSS flat (±10%) across the soak | start ${mb(soak.start)}, middle ${mb(soak.middle)}, end ${mb(soak.end)} MB | ${mark(flat)} |`);
  p(`| no errors | ${soak.w ? soak.w.errors : '–'} | ${mark(soak.w ? soak.w.errors === 0 : null)} |`);
}
p();

p('## Machine and settings');
p();
for (const [k, label] of [['cpu', 'CPU'], ['nproc', 'cores'], ['memory', 'memory'], ['kernel', 'kernel'],
  ['busy_start', 'CPU busy with other work before the run, %'], ['java', 'java -version'],
  ['java_opts', 'Caravan JVM flags'], ['jar', 'jar'], ['commit', 'commit'], ['node', 'node'], ['nginx', 'nginx'], ['wrk', 'wrk'],
  ['portkey', 'Portkey'], ['durations', 'runs'], ['many', 'many streams']]) {
  if (meta[k] && !(meta.mode === 'soak' && ['portkey', 'durations', 'many'].includes(k))) p(`- ${label}: ${meta[k]}`);
}
p();
process.stdout.write(out.join('\n'));
