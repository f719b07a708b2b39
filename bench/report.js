#!/usr/bin/env node
// Turns the raw measurements bench/run leaves in one folder into the Markdown report it prints and keeps in
// bench/results/: the main table with ratios, what governance (limits and budgets) costs, the many-open-streams table,
// the soak, where Caravan stands against the targets, and the machine.
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
  // the same pipeline with a key that has limits and budgets (3 has the master key: nothing to check); no streams
  { id: 'caravan-limits', n: '3a', name: 'Caravan, limits + budgets, in process', governed: 'in process' },
  { id: 'caravan-redis', n: '3b', name: 'Caravan, limits + budgets, Redis', governed: 'Redis' },
  { id: 'cache', n: 4, name: 'Caravan, exact cache', na: 'n/a (no cache yet)' },
  { id: 'portkey', n: 5, name: 'Portkey gateway' },
];
const data = {};
const governedIds = (meta.governed_targets || '').split(/\s+/).filter(Boolean);
for (const t of TARGETS) {
  // a results folder from before the governed targets existed: their rows say so instead of a row of dashes
  const na = t.na || (t.governed && !governedIds.includes(t.id) ? 'not measured in this run' : null);
  data[t.id] = {
    fail: na || read(`${t.id}.fail`), na: Boolean(na), thru: wrk(`${t.id}.thru`), lat: wrk(`${t.id}.lat`),
    stream: json(`${t.id}.stream.json`), res: res(t.id), gov: t.governed ? kv(read(`${t.id}.gov`), '\n') || {} : null,
  };
}
// why a governed row does not show what governance costs, or null when it does: the limits were checked (the answer
// carried x-ratelimit-limit-requests before and after the runs) and, for Redis, the counters really were in Redis
const redisEmpty = (t) => t.id === 'caravan-redis' && data[t.id].gov && data[t.id].gov.redis_keys !== undefined &&
  String(data[t.id].gov.redis_keys).trim() === '0';
const notGoverned = (t) => {
  const g = data[t.id].gov;
  if (!g) return null;
  if (!g.before_limit_requests) return `no x-ratelimit-limit-requests header (HTTP ${g.before_code || '?'}): this jar checked no limit for the governed key`;
  if (!g.after_limit_requests) return `no x-ratelimit-limit-requests header after the runs (HTTP ${g.after_code || '?'})`;
  if (redisEmpty(t)) return 'the Redis DB was empty after the run: this jar kept its counters in the process, whatever CARAVAN_REDIS_URL said';
  return null;
};
const govLabel = (t) => (notGoverned(t) && data[t.id].gov.after_limit_requests && redisEmpty(t) ? 'counters not in Redis' : 'not governed');
// what a governed row costs against row 3 ({ pct, p50, p99 }), or why that cannot be said ({ why }); null: not in this run
const govCost = (id) => {
  const t = TARGETS.find((x) => x.id === id); const d = data[id]; const base = data.caravan;
  if (!t || !d || d.na) return null;
  if (d.fail) return { why: `failed: ${d.fail}` };
  if (base.fail) return { why: 'row 3 failed' };
  const ng = notGoverned(t);
  if (ng) return { why: `${govLabel(t)}: ${ng}` };
  if (!d.thru || !base.thru || !d.lat || !base.lat) return { why: 'not measured' };
  const non2xx = d.thru.non2xx + d.lat.non2xx;
  if (non2xx > 0) return { why: `${non2xx} non-2xx answers (refused by a limit?), so its numbers are not those of admitted requests` };
  return { pct: (1 - d.thru.rps / base.thru.rps) * 100, p50: d.lat.p50 - base.lat.p50, p99: d.lat.p99 - base.lat.p99 };
};
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
  p('## One request, every way');
  p();
  p(`Non-streaming: \`wrk -t1 -c${meta.conns}\` for throughput, \`wrk -t1 -c1\` for latency (µs). Streaming: time to the ` +
    `first content chunk and to the end of a stream of ${meta.stream_chunks} chunks 50 ms apart, median of sequential runs (ms). ` +
    'Added latency is the gateway minus the direct call. RSS and CPU are the gateway process(es) during its own runs ' +
    '(row 1: the upstream nginx); CPU 100% = one core. Rows 3a and 3b are row 3 with a key that has limits and budgets, ' +
    'each its own Caravan started for its runs only; they are measured without streams.');
  p();
  p(`| # | target | req/s @${meta.conns} | × nginx | p50 µs | p99 µs | p99.9 µs | added p50 µs | added p99 µs | TTFB ms | added TTFB ms | stream total ms | chunk lag p99 ms | RSS peak MB | CPU % @${meta.conns} | errors |`);
  p('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const t of TARGETS) {
    const d = data[t.id];
    if (d.fail) { p(`| ${t.n} | ${t.name} | ${d.na ? d.fail : 'failed: ' + d.fail.replace(/\|/g, '/')} ||||||||||||||`); continue; }
    const ng = notGoverned(t);
    const th = d.thru; const la = d.lat; const st = d.stream; const r = d.res || {};
    const ratio = th && nginx.thru && t.id !== 'direct' ? th.rps / nginx.thru.rps : null;
    const addP50 = la && direct.lat && t.id !== 'direct' ? la.p50 - direct.lat.p50 : null;
    const addP99 = la && direct.lat && t.id !== 'direct' ? la.p99 - direct.lat.p99 : null;
    const ttfb = st && st.ok ? st.firstChunkMs.p50 : null;
    const addTtfb = ttfb !== null && direct.stream && direct.stream.ok && t.id !== 'direct' ? ttfb - direct.stream.firstChunkMs.p50 : null;
    const streamErr = st && st.failed ? st.failed : 0;
    const errors = (th ? th.errors : 0) + (la ? la.errors : 0) + streamErr;
    const chunksNote = st && st.ok && st.chunks.min < Number(meta.stream_chunks) ? ` (${st.chunks.min}/${meta.stream_chunks} chunks)` : '';
    p(`| ${t.n} | ${t.name}${ng ? ` (**${govLabel(t)}**, see below)` : ''} | ${fmt(th && th.rps)} | ${ratio === null ? '–' : fmt(ratio, 2) + '×'} | ${fmt(la && la.p50)} | ${fmt(la && la.p99)} | ${fmt(la && la.p999)} | ` +
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

  // ---- governance cost ------------------------------------------------------------------------------------------
  const govTargets = TARGETS.filter((t) => t.governed && !data[t.id].na);
  if (govTargets.length) {
    const base = data.caravan;
    p('## Governance cost');
    p();
    p('Rows 3a and 3b against row 3 of this run: the same pipeline, but the key has rate limits and budgets (key and ' +
      'team), so every request is counted against them before the call and settled after it; row 3 uses the master key, ' +
      'which has none, so the limit and budget policies find nothing to check. The limits are far above anything a run ' +
      'reaches: nothing is refused, every request pays for the checks. Cost = 1 − (req/s ÷ row 3\'s); a negative cost ' +
      'or difference is run-to-run noise.');
    if (meta.mode === 'quick') {
      p();
      p('> Quick run: the warm-up stops before the JIT is done and the runs are short, so these differences are a smoke ' +
        'test, within noise; quote a full run\'s.');
    }
    p();
    p(`| # | target | counters | req/s @${meta.conns} | × row 3 | throughput cost | p50 µs | p50 vs row 3 | p99 µs | p99 vs row 3 | limits checked | non-2xx |`);
    p('|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|');
    for (const t of govTargets) {
      const d = data[t.id];
      if (d.fail) { p(`| ${t.n} | ${t.name} | ${t.governed} | failed: ${d.fail.replace(/\|/g, '/')} |||||||||`); continue; }
      const g = d.gov || {};
      const ratio = d.thru && base.thru && !base.fail ? d.thru.rps / base.thru.rps : null;
      const d50 = d.lat && base.lat && !base.fail ? d.lat.p50 - base.lat.p50 : null;
      const d99 = d.lat && base.lat && !base.fail ? d.lat.p99 - base.lat.p99 : null;
      const ng = notGoverned(t);
      const left = g.after_remaining_requests ? `; after the runs ${fmt(Number(g.after_remaining_requests))} of ${fmt(Number(g.after_limit_requests))} requests a minute left` : '';
      const checked = !g.before_limit_requests || !g.after_limit_requests ? `**no**: ${ng}`
        : `yes: x-ratelimit-limit-requests ${fmt(Number(g.before_limit_requests))}${left}`;
      const counters = redisEmpty(t) ? `**in process**: ${ng}`
        : t.id === 'caravan-redis' && g.redis_keys !== undefined ? `Redis (${fmt(Number(g.redis_keys))} keys after the run)` : t.governed;
      const non2xx = (d.thru ? d.thru.non2xx : 0) + (d.lat ? d.lat.non2xx : 0);
      p(`| ${t.n} | ${t.name} | ${counters} | ${fmt(d.thru && d.thru.rps)} | ${ratio === null ? '–' : fmt(ratio, 2) + '×'} | ` +
        `${ratio === null ? '–' : signed((1 - ratio) * 100, 1) + ' %'} | ${fmt(d.lat && d.lat.p50)} | ${signed(d50)} µs | ` +
        `${fmt(d.lat && d.lat.p99)} | ${signed(d99)} µs | ${checked.replace(/\|/g, '/')} | ${non2xx}${g.after_code && g.after_code !== '200' ? ` (HTTP ${g.after_code} after the runs)` : ''} |`);
    }
    p();
    // the closing note, in words, from the rows that really were governed
    const local = govCost('caravan-limits'); const redis = govCost('caravan-redis');
    const words = [];
    if (local && !local.why) words.push(`in-process governance costs ${fmt(local.pct, 1)} % of throughput and ${signed(local.p50)} µs at p50`);
    if (redis && !redis.why) words.push(`with Redis, ${fmt(redis.pct, 1)} % of throughput and ${signed(redis.p50)} µs at p50`);
    const missing = govTargets.filter((t) => govCost(t.id) && govCost(t.id).why).map((t) => `row ${t.n}: ${govCost(t.id).why.replace(/\|/g, '/')}`);
    if (words.length) p(`In this run ${words.join('; ')}.`);
    if (missing.length) p(`${words.length ? 'Not quoted' : 'No governance cost in this run'}: ${missing.join('; ')}.`);
    p();
  }

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
p('## Caravan against the targets');
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
  // governance: each governed row against row 3 (needs both, and the row really governed and never refused)
  const gl = govCost('caravan-limits'); const gr = govCost('caravan-redis');
  const row = (label, g, text, ok) => {
    if (g) p(`| ${label} | ${g.why ? g.why.replace(/\|/g, '/') : text} | ${g.why ? '–' : mark(ok)} |`);
  };
  row('limits + budgets in process: ≤ 5 % of throughput', gl, gl && `${signed(gl.pct, 1)} %`, gl && gl.pct <= 5);
  row('limits + budgets in process: ≤ 20 µs at p50', gl, gl && `${signed(gl.p50)} µs`, gl && gl.p50 <= 20);
  row('limits + budgets with Redis: ≤ 100 µs at p50', gr, gr && `${signed(gr.p50)} µs`, gr && gr.p50 <= 100);
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
  ['portkey', 'Portkey'], ['durations', 'runs'], ['many', 'many streams'], ['governance', 'governed rows (3a, 3b)'],
  ['redis_version', 'Redis']]) {
  if (meta[k] && !(meta.mode === 'soak' && ['portkey', 'durations', 'many', 'governance', 'redis_version'].includes(k))) p(`- ${label}: ${meta[k]}`);
}
p();
process.stdout.write(out.join('\n'));
