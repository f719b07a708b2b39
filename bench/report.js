#!/usr/bin/env node
// Turns the raw measurements bench/run leaves in one folder into the Markdown report it prints and keeps in
// bench/results/: the main table with ratios, what governance (limits and budgets) costs, what the response cache
// gains on a hit and costs on a miss, the many-open-streams table, the soak, where Caravan stands against the targets,
// and the machine.
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
  // row 4 of the Cache table below: the same request every time, answered from the exact cache; no streams
  { id: 'cache-hit', n: 4, name: 'Caravan, exact cache', cache: true },
  { id: 'portkey', n: 6, name: 'Portkey gateway' },
];
// the Cache table's rows, each its own Caravan with a cache block (bench/README.md): want = the x-caravan-cache answer
// every measured request must get, as counted by caravan_cache_total{result} over the throughput and latency runs
const CACHE_ROWS = [
  { id: 'cache-hit', n: 4, name: 'exact-cache hit', sends: 'the stored request, every time', want: 'hit', label: 'HIT' },
  { id: 'cache-semantic', n: '4a', name: 'semantic-cache hit', sends: 'the stored prompt, respaced (1,295 variants)', want: 'semantic', label: 'SEMANTIC' },
  { id: 'cache-miss', n: '4b', name: 'exact-cache miss', sends: 'a prompt never seen (a new number)', want: 'miss', label: 'MISS' },
  { id: 'cache-semantic-miss', n: '4c', name: 'semantic-cache miss', sends: 'a prompt never seen (a new number)', want: 'miss', label: 'MISS' },
];
// the Guardrails table's rows (bench/README.md): each its own Caravan, the same 1 KB prompt; row 5 has no guardrails
const GUARD_ROWS = [
  { id: 'guard-base', n: 5, name: 'no guardrails', policy: 'none (no guardrails block)' },
  { id: 'guard', n: '5a', name: 'standard policy', policy: 'standard: PII de-identified in, redacted out; injection rules; deny pattern' },
  { id: 'guard-semantic', n: '5b', name: 'standard + semantic detector', policy: 'standard with injection.semantic: true (MiniLM)' },
];
const GUARD_THROUGHPUT_TARGET_PCT = 10;
const GUARD_P50_TARGET_US = 200;
const GUARD_TTFT_TARGET_MS = 5;
const RESULTS = { hit: 'HIT', semantic: 'SEMANTIC', miss: 'MISS', bypass: 'BYPASS', coalesced: 'coalesced' };
const data = {};
const guardIds = (meta.guard_targets || '').split(/\s+/).filter(Boolean);
const tokenPaces = (meta.token_paces || '').split(/\s+/).filter(Boolean);
for (const g of GUARD_ROWS) {
  const na = guardIds.includes(g.id) ? null : 'n/a (no guardrail rows in this run)';
  const tokens = {};
  for (const pace of tokenPaces) tokens[pace] = json(`${g.id}.tokens-${pace}.json`);
  data[g.id] = {
    fail: na || read(`${g.id}.fail`), na: Boolean(na), thru: wrk(`${g.id}.thru`), lat: wrk(`${g.id}.lat`),
    low: wrk(`${g.id}.thrulow`), res: res(g.id), guard: kv(read(`${g.id}.guard`), '\n') || {}, tokens,
  };
}
const governedIds = (meta.governed_targets || '').split(/\s+/).filter(Boolean);
const cacheIds = (meta.cache_targets || '').split(/\s+/).filter(Boolean);
for (const t of [...TARGETS, ...CACHE_ROWS.filter((r) => !TARGETS.some((x) => x.id === r.id))]) {
  // a results folder from before the governed or cache targets existed: their rows say so instead of a row of dashes
  const na = t.na || (t.governed && !governedIds.includes(t.id) ? 'not measured in this run' : null) ||
    (CACHE_ROWS.some((r) => r.id === t.id) && !cacheIds.includes(t.id) ? 'n/a (no cache rows in this run)' : null);
  data[t.id] = {
    fail: na || read(`${t.id}.fail`), na: Boolean(na), thru: wrk(`${t.id}.thru`), lat: wrk(`${t.id}.lat`),
    stream: json(`${t.id}.stream.json`), res: res(t.id), gov: t.governed ? kv(read(`${t.id}.gov`), '\n') || {} : null,
    cache: kv(read(`${t.id}.cache`), '\n'),
  };
}
// what the cache answered during a cache row's throughput and latency runs (caravan_cache_total{result} after − before)
const cacheAnswers = (row) => {
  const c = data[row.id].cache;
  if (!c || c.before_scraped !== '1' || c.after_scraped !== '1') return null;
  const by = {};
  for (const r of Object.keys(RESULTS)) by[r] = Number(c[`after_${r}`] || 0) - Number(c[`before_${r}`] || 0);
  const total = Object.values(by).reduce((a, b) => a + b, 0);
  // embeds the CPU pool refused (its queue full): such a request skips the semantic lookup, an ordinary miss
  const rejected = c.after_cpu_rejected !== undefined ? Number(c.after_cpu_rejected) - Number(c.before_cpu_rejected || 0) : 0;
  return { by, total, want: by[row.want], other: total - by[row.want], rejected };
};
// why a cache row's numbers are not those of its kind of answer, or null when they are: at most 1% of the answers
// during its runs were of another kind (x-caravan-cache as counted by the gateway), and none was refused
const cacheWhy = (row) => {
  const d = data[row.id];
  if (!d || d.na) return d && d.fail;
  if (d.fail) return `failed: ${d.fail}`;
  if (!d.thru || !d.lat) return 'not measured';
  const a = cacheAnswers(row);
  if (!a) return 'no caravan_cache_total counters in /metrics: what the cache answered is not known';
  if (a.total === 0) return 'the cache counted no lookups during the runs';
  if (a.other > a.total * 0.01) {
    return `${fmt(a.other)} of ${fmt(a.total)} answers during the runs were not ${row.label} (${answerMix(a)})`;
  }
  if (row.id.includes('semantic') && a.rejected > a.total * 0.01) {
    return `the CPU pool refused ${fmt(a.rejected)} of ${fmt(a.total)} embeds (queue full): those requests skipped the semantic lookup`;
  }
  const non2xx = d.thru.non2xx + d.lat.non2xx;
  if (non2xx > 0) return `${non2xx} non-2xx answers in the wrk runs`;
  return null;
};
const answerMix = (a) => Object.entries(a.by).filter(([, v]) => v > 0).map(([r, v]) => `${fmt(v)} ${RESULTS[r]}`).join(', ') || 'none';
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

// the Cache table's derived lines, each with PASS / FAIL where the issue sets a target; the targets table reuses them
const SEMANTIC_MISS_TARGET_US = 5000;
const cacheRow = (id) => CACHE_ROWS.find((r) => r.id === id);
const cacheFacts = () => {
  const row = (id) => { const why = cacheWhy(cacheRow(id)); return why ? { why } : { lat: data[id].lat, thru: data[id].thru }; };
  const base = data.caravan.fail || !data.caravan.lat ? { why: 'row 3 failed' } : { lat: data.caravan.lat, thru: data.caravan.thru };
  const dir = direct.fail || !direct.lat ? { why: 'row 1 failed' } : { lat: direct.lat, thru: direct.thru };
  const hit = row('cache-hit'); const sem = row('cache-semantic'); const miss = row('cache-miss'); const smiss = row('cache-semantic-miss');
  const f = {};
  if (!data['cache-hit'].na) {
    f.hit = hit.why || dir.why ? { why: hit.why ? `row 4: ${hit.why}` : dir.why }
      : { p50: hit.lat.p50, direct: dir.lat.p50, ok: hit.lat.p50 < dir.lat.p50, rps: hit.thru.rps / dir.thru.rps,
          row3: base.why ? null : base.lat.p50 };
  }
  if (!data['cache-semantic'].na) {
    f.semantic = sem.why ? { why: `row 4a: ${sem.why}` } : { p50: sem.lat.p50, p99: sem.lat.p99, direct: dir.why ? null : dir.lat.p50,
      row3: base.why ? null : base.lat.p50, rps: sem.thru.rps };
  }
  if (!data['cache-miss'].na) {
    f.miss = miss.why || base.why ? { why: miss.why ? `row 4b: ${miss.why}` : base.why }
      : { p50: miss.lat.p50 - base.lat.p50, p99: miss.lat.p99 - base.lat.p99, pct: (1 - miss.thru.rps / base.thru.rps) * 100 };
  }
  if (!data['cache-semantic-miss'].na) {
    const c = data['cache-semantic-miss'].cache || {};
    f.semanticMiss = smiss.why || base.why ? { why: smiss.why ? `row 4c: ${smiss.why}` : base.why }
      : { p50: smiss.lat.p50 - base.lat.p50, p99: smiss.lat.p99 - base.lat.p99, pct: (1 - smiss.thru.rps / base.thru.rps) * 100,
          overExact: miss.why ? null : smiss.lat.p50 - miss.lat.p50,
          index: c.after_semantic_entries !== undefined ? Number(c.after_semantic_entries) : null };
    if (!f.semanticMiss.why) f.semanticMiss.ok = f.semanticMiss.p50 <= SEMANTIC_MISS_TARGET_US;
  }
  return f;
};
const pass = (ok) => (ok ? '**PASS**' : '**FAIL**');
const cacheVerdicts = () => {
  const f = cacheFacts(); const lines = [];
  const why = (s) => s.replace(/\|/g, '/');
  if (f.hit) {
    lines.push(f.hit.why ? `Exact hit vs the direct call: not measured (${why(f.hit.why)}).`
      : `Exact hit vs the direct call (must be faster: a lower p50 at one connection): ${fmt(f.hit.p50)} µs against ` +
        `${fmt(f.hit.direct)} µs, ${pass(f.hit.ok)} (the direct call is nginx returning a fixed body from memory); ` +
        `${fmt(f.hit.rps, 2)}× the direct call's req/s` +
        (f.hit.row3 !== null ? `. Against row 3 (the same gateway calling the upstream): ${signed(f.hit.p50 - f.hit.row3)} µs at p50.` : '.'));
  }
  if (f.semantic) {
    lines.push(f.semantic.why ? `Semantic hit: not measured (${why(f.semantic.why)}).`
      : `Semantic hit (embed the prompt, find and verify the neighbour, answer from the store): ${fmt(f.semantic.p50)} µs at p50, ` +
        `${fmt(f.semantic.p99)} µs at p99` + (f.semantic.direct !== null ? `; ${signed(f.semantic.p50 - f.semantic.direct)} µs against the direct call` : '') +
        (f.semantic.row3 !== null ? `, ${signed(f.semantic.p50 - f.semantic.row3)} µs against row 3` : '') + `; ${fmt(f.semantic.rps)} req/s.`);
  }
  if (f.semanticMiss) {
    lines.push(f.semanticMiss.why ? `Semantic lookup added on a miss: not measured (${why(f.semanticMiss.why)}).`
      : `Semantic lookup added on a miss (row 4c − row 3, target ≤ ${fmt(SEMANTIC_MISS_TARGET_US / 1000)} ms at p50 on ${meta.nproc} cores` +
        (f.semanticMiss.index !== null ? `; each miss searched a partition of ${fmt(f.semanticMiss.index)} near neighbours and verified the nearest` : '') + '): ' +
        `${signed(f.semanticMiss.p50)} µs at p50, ${pass(f.semanticMiss.ok)}; ${signed(f.semanticMiss.p99)} µs at p99; ` +
        `${signed(f.semanticMiss.pct, 1)} % of row 3's throughput` +
        (f.semanticMiss.overExact !== null ? `. Of the p50, ${signed(f.semanticMiss.overExact)} µs over the exact cache's miss (row 4c − row 4b): the embedding, search and verification.` : '.'));
  }
  if (f.miss) {
    lines.push(f.miss.why ? `Exact-cache miss added: not measured (${why(f.miss.why)}).`
      : `Exact-cache miss added (row 4b − row 3: the key, the lookup, storing the answer): ${signed(f.miss.p50)} µs at p50, ` +
        `${signed(f.miss.p99)} µs at p99, ${signed(f.miss.pct, 1)} % of row 3's throughput.`);
  }
  return lines;
};

// ---- guardrails: each row against row 5 (the same Caravan, the same 1 KB prompt, no guardrails) ------------------
const ok2xx = (w) => (w ? (w.requests - w.non2xx) / (w.requests / w.rps) : null);   // 2xx answers a second
// what the guardrails found during a row's throughput and latency runs (caravan_guardrail_total after − before)
const guardFound = (id) => {
  const g = data[id].guard; const d = data[id];
  if (!g || g.before_scraped !== '1' || g.after_scraped !== '1' || !d.thru || !d.lat) return null;
  const delta = (k) => Number(g[`after_${k}`] || 0) - Number(g[`before_${k}`] || 0);
  const sum = (prefix) => Object.keys(g).filter((k) => k.startsWith(`after_${prefix}`)).reduce((a, k) => a + delta(k.slice(6)), 0);
  const requests = d.thru.requests + d.lat.requests;
  return { requests, deidentified: delta('input_deidentify'), output: sum('output_'), blocked: delta('input_block'),
    rejected: delta('cpu_rejected'),
    email: delta('input_email'), phone: delta('input_phone'), card: delta('input_card') };
};
// why a guarded row's numbers are not those of the policy at work, or null: every request de-identified its three
// entities (3 findings a request, within 1%) and, for the standard policy, every answer was 2xx
const guardWhy = (id) => {
  const d = data[id];
  if (!d || d.na) return d && d.fail;
  if (d.fail) return `failed: ${d.fail}`;
  if (!d.thru || !d.lat) return 'not measured';
  if (id === 'guard-base') return d.thru.non2xx + d.lat.non2xx > 0 ? `${d.thru.non2xx + d.lat.non2xx} non-2xx answers in the wrk runs` : null;
  const f = guardFound(id);
  if (!f) return 'no caravan_guardrail_total counters in /metrics: what the guardrails did is not known';
  // wrk counts the answers it received; the gateway also counted the requests still in flight when a run ended (at
  // most one a connection), whose answers wrk dropped
  const inFlight = Number(meta.conns) + 1;
  if (f.deidentified < 0.99 * 3 * f.requests || f.deidentified > 1.01 * 3 * (f.requests + inFlight)) {
    return `${fmt(f.deidentified)} findings de-identified for ${fmt(f.requests)} requests, not 3 each`;
  }
  if (id === 'guard' && d.thru.non2xx + d.lat.non2xx > 0) return `${d.thru.non2xx + d.lat.non2xx} non-2xx answers in the wrk runs`;
  return null;
};
const guardFacts = () => {
  const f = {};
  const base = data['guard-base'];
  const bWhy = guardWhy('guard-base');
  for (const id of ['guard', 'guard-semantic']) {
    const d = data[id];
    if (!d || d.na) continue;
    // the semantic row is reported even with non-2xx answers (its CPU pool refuses embeds at 32 connections), by 2xx/s
    const why = guardWhy(id) || (bWhy ? `row 5: ${bWhy}` : null);
    if (why) { f[id] = { why }; continue; }
    f[id] = { pct: (1 - ok2xx(d.thru) / ok2xx(base.thru)) * 100, p50: d.lat.p50 - base.lat.p50, p99: d.lat.p99 - base.lat.p99,
      non2xx: d.thru.non2xx + d.lat.non2xx, requests: d.thru.requests + d.lat.requests };
  }
  // time to first token: each guarded row's median minus row 5's, at each pace; the text must be what row 5 received
  f.ttft = {};
  for (const id of ['guard', 'guard-semantic']) {
    for (const pace of tokenPaces) {
      const t = data[id] && data[id].tokens[pace]; const b = base && base.tokens[pace];
      const key = `${id}@${pace}`;
      if (!data[id] || data[id].na) continue;
      if (data[id].fail) { f.ttft[key] = { why: `failed: ${data[id].fail}` }; continue; }
      if (!t || !t.ok || t.failed) { f.ttft[key] = { why: t ? `${t.failed} of ${t.requested} streams failed` : 'not measured' }; continue; }
      if (!b || !b.ok || b.failed) { f.ttft[key] = { why: 'row 5\'s streams failed or were not measured' }; continue; }
      const intact = t.text && b.text && t.text.same && t.text.sha256 === b.text.sha256;
      f.ttft[key] = { add: t.firstTextMs.p50 - b.firstTextMs.p50, ttft: t.firstTextMs.p50, base: b.firstTextMs.p50, intact,
        why: intact ? null : 'the text the client received differs from row 5\'s' };
    }
  }
  return f;
};

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
    'each its own Caravan started for its runs only; they are measured without streams. Row 4 is row 3 answered from ' +
    'its exact cache (the Cache table below), likewise.');
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
    const cw = t.cache && d.thru && d.lat ? cacheWhy(cacheRow(t.id)) : null;
    p(`| ${t.n} | ${t.name}${ng ? ` (**${govLabel(t)}**, see below)` : ''}${cw ? ' (**not all HIT**, see Cache)' : ''} | ${fmt(th && th.rps)} | ${ratio === null ? '–' : fmt(ratio, 2) + '×'} | ${fmt(la && la.p50)} | ${fmt(la && la.p99)} | ${fmt(la && la.p999)} | ` +
      `${signed(addP50)} | ${signed(addP99)} | ${fmt(ttfb, 2)} | ${signed(addTtfb, 2)} | ${fmt(st && st.ok ? st.totalMs.p50 : null, 0)}${chunksNote} | ` +
      `${fmt(st && st.ok ? st.lagMs.p99 : null, 2)} | ${mb(r.rss_peak_kib && Number(r.rss_peak_kib))} | ${fmt(r.cpu_thru_pct && Number(r.cpu_thru_pct))} | ${errors}${streamErr ? ` (${streamErr} streams)` : ''} |`);
  }
  p();
  p('Errors count connection errors, timeouts and non-2xx answers in the wrk runs, plus failed streams.');
  const warm = TARGETS.filter((t) => !t.cache && read(`${t.id}.warm`)).map((t) => {
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

  // ---- cache ----------------------------------------------------------------------------------------------------
  const cacheRows = CACHE_ROWS.filter((r) => !data[r.id].na);
  if (cacheRows.length) {
    const base = data.caravan;
    p('## Cache');
    p();
    p('Each row is row 3 (the master key, the same providers and models) in a Caravan of its own with a `cache:` block: ' +
      'the exact cache in rows 4 and 4b, the semantic cache (and the exact one) in rows 4a and 4c. Row 4 sends the request ' +
      'it stored first, every time; row 4a the stored prompt with other spacing between its words (an exact miss, the same ' +
      'question); rows 4b and 4c a prompt no request before carried (its number differs from its neighbours\', so the ' +
      'semantic cache must reject them): every one a miss that goes upstream, after the lookups. "Answers" is what the ' +
      'gateway counted (`caravan_cache_total`) during the throughput and latency runs. Same runs as the governance rows: ' +
      'warm-up, throughput at ' + meta.conns + ' connections, latency at one connection (µs).');
    if (meta.mode === 'quick') {
      p();
      p('> Quick run: the warm-up stops before the JIT is done and the runs are short, so these numbers are a smoke ' +
        'test; quote a full run\'s.');
    }
    p();
    p(`| # | row | each request | req/s @${meta.conns} | × direct | p50 µs | p99 µs | p50 vs direct | p50 vs row 3 | p99 vs row 3 | answers (x-caravan-cache) | held after the runs | RSS peak MB | non-2xx |`);
    p('|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|---:|---:|');
    for (const row of cacheRows) {
      const d = data[row.id];
      if (d.fail) { p(`| ${row.n} | ${row.name} | ${row.sends} | failed: ${d.fail.replace(/\|/g, '/')} |||||||||||`); continue; }
      const a = cacheAnswers(row); const c = d.cache || {}; const r = d.res || {};
      const ratio = d.thru && direct.thru && !direct.fail ? d.thru.rps / direct.thru.rps : null;
      const vs = (x, y) => (x && y ? signed(x - y) + ' µs' : '–');
      const answers = !a ? '– (no counters)' : a.other === 0 ? `${fmt(a.want)} ${row.label}, all`
        : `${answerMix(a)}${a.other > a.total * 0.01 ? ' (**not all ' + row.label + '**)' : ''}`;
      const plural = (n, one) => `${fmt(n)} ${one}${n === 1 ? '' : 's'}`;
      const held = c.after_entries !== undefined ? `${plural(Number(c.after_entries), 'answer')}, ${mb(Number(c.after_bytes || 0) / 1024)} MB` +
        (row.id.includes('semantic') && c.after_semantic_entries !== undefined ? `; ${plural(Number(c.after_semantic_entries), 'prompt')} in the semantic index` +
          (c.fill_entries !== undefined ? ` (filled to ${fmt(Number(c.fill_entries))} in ${fmt(Number(c.fill_seconds))} s before the warm-up)` : '') : '') +
        (a && a.rejected > 0 ? `; ${plural(a.rejected, 'embed')} refused by the CPU pool` : '') : '–';
      const non2xx = (d.thru ? d.thru.non2xx : 0) + (d.lat ? d.lat.non2xx : 0);
      p(`| ${row.n} | ${row.name} | ${row.sends} | ${fmt(d.thru && d.thru.rps)} | ${ratio === null ? '–' : fmt(ratio, 2) + '×'} | ` +
        `${fmt(d.lat && d.lat.p50)} | ${fmt(d.lat && d.lat.p99)} | ${vs(d.lat && d.lat.p50, !direct.fail && direct.lat && direct.lat.p50)} | ` +
        `${vs(d.lat && d.lat.p50, !base.fail && base.lat && base.lat.p50)} | ${vs(d.lat && d.lat.p99, !base.fail && base.lat && base.lat.p99)} | ` +
        `${answers} | ${held} | ${mb(r.rss_peak_kib && Number(r.rss_peak_kib))} | ${non2xx} |`);
    }
    p();
    for (const line of cacheVerdicts()) p(`- ${line}`);
    p();
    const cwarm = cacheRows.filter((r) => read(`${r.id}.warm`)).map((r) => {
      const rounds = read(`${r.id}.warm`).split('\n');
      return `row ${r.n} ${rounds.length * Number(meta.warm_round)} s (${rounds.map((x) => fmt(Number(x))).join(' → ')} req/s)`;
    });
    if (cwarm.length) p(`Warm-up at ${meta.conns} connections, as above: ${cwarm.join('; ')}.`);
    p();
  }

  // ---- guardrails -------------------------------------------------------------------------------------------------
  const guardRows = GUARD_ROWS.filter((g) => !data[g.id].na);
  if (guardRows.length) {
    const base = data['guard-base'];
    const gf = guardFacts();
    p('## Guardrails');
    p();
    p('Each row is its own Caravan with row 3\'s config (the master key, the same providers) and the same request: a ' +
      `1 KB support message (${(meta.guard || '').match(/\((\d+) bytes of request/) ? meta.guard.match(/\((\d+) bytes of request/)[1] + ' bytes of request' : 'the 1 KB prompt'}) ` +
      'with an email, a phone number and a card number in it and no injection. Row 5 has no `guardrails:` block; row 5a ' +
      'the standard policy of issue 14 as `guardrails.default` (the master key gets it too): PII de-identified in the ' +
      'request and restored in the answer, the answer checked and redacted, injection rules, one deny pattern; row 5b ' +
      'the same with the semantic (MiniLM) injection detector. Same runs as the rows above: warm-up, throughput at ' +
      `${meta.conns} connections, latency at one connection (µs). "Found" is what the gateway counted ` +
      '(`caravan_guardrail_total`) during the throughput and latency runs. Cost = 1 − (2xx answers a second ÷ row 5\'s).');
    if (meta.mode === 'quick') {
      p();
      p('> Quick run: the warm-up stops before the JIT is done and the runs are short, so these numbers are a smoke ' +
        'test; quote a full run\'s.');
    }
    p();
    p(`| # | row | policy | req/s @${meta.conns} | 2xx/s @${meta.conns} | × row 5 | throughput cost | p50 µs | p50 vs row 5 | p99 µs | p99 vs row 5 | found a request (in / out) | RSS peak MB | CPU % @${meta.conns} | non-2xx |`);
    p('|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|');
    for (const g of guardRows) {
      const d = data[g.id];
      if (d.fail) { p(`| ${g.n} | ${g.name} | ${g.policy} | failed: ${d.fail.replace(/\|/g, '/')} ||||||||||||`); continue; }
      const r = d.res || {};
      const okBase = base && !base.fail && base.thru && base.lat && g.id !== 'guard-base';
      const ratio = okBase && d.thru ? ok2xx(d.thru) / ok2xx(base.thru) : null;
      const vs = (x, y) => (okBase && x !== null && x !== undefined ? signed(x - y) + ' µs' : '–');
      const f = g.id === 'guard-base' ? null : guardFound(g.id);
      const found = g.id === 'guard-base' ? '– (none)' : !f ? '– (no counters)'
        : `${fmt(f.deidentified / f.requests, 2)} de-identified (${fmt(f.email)} email, ${fmt(f.phone)} phone, ${fmt(f.card)} card) / ${fmt(f.output / f.requests, 2)}` +
          (f.blocked ? `; ${fmt(f.blocked)} refused` : '') + (f.rejected ? `; ${fmt(f.rejected)} embeds refused by the CPU pool` : '');
      const non2xx = (d.thru ? d.thru.non2xx : 0) + (d.lat ? d.lat.non2xx : 0);
      const errors = (d.thru ? d.thru.errors - d.thru.non2xx : 0) + (d.lat ? d.lat.errors - d.lat.non2xx : 0);
      p(`| ${g.n} | ${g.name} | ${g.policy} | ${fmt(d.thru && d.thru.rps)} | ${fmt(d.thru && ok2xx(d.thru))} | ${ratio === null ? '–' : fmt(ratio, 2) + '×'} | ` +
        `${ratio === null ? '–' : signed((1 - ratio) * 100, 1) + ' %'} | ${fmt(d.lat && d.lat.p50)} | ${vs(d.lat && d.lat.p50, base.lat && base.lat.p50)} | ` +
        `${fmt(d.lat && d.lat.p99)} | ${vs(d.lat && d.lat.p99, base.lat && base.lat.p99)} | ${found} | ${mb(r.rss_peak_kib && Number(r.rss_peak_kib))} | ` +
        `${fmt(r.cpu_thru_pct && Number(r.cpu_thru_pct))} | ${non2xx}${errors ? ` (+${errors} connection errors / timeouts)` : ''} |`);
    }
    p();
    const lines = [];
    const why = (x) => x.replace(/\|/g, '/');
    const std = gf.guard;
    if (std) {
      lines.push(std.why ? `Standard policy (row 5a − row 5): not measured (${why(std.why)}).`
        : `Standard policy (row 5a − row 5), targets ≤ ${GUARD_THROUGHPUT_TARGET_PCT} % of throughput and ≤ ${GUARD_P50_TARGET_US} µs at p50 for a 1 KB prompt: ` +
          `costs ${fmt(std.pct, 1)} % of throughput, ${pass(std.pct <= GUARD_THROUGHPUT_TARGET_PCT)}; ${signed(std.p50)} µs at p50, ${pass(std.p50 <= GUARD_P50_TARGET_US)}; ` +
          `${signed(std.p99)} µs at p99.`);
    }
    const sem = gf['guard-semantic'];
    if (sem) {
      const d = data['guard-semantic']; const f = guardFound('guard-semantic') || {};
      const low = d.low;
      const vsStd = std && !std.why && data.guard.lat ? `, ${signed(d.lat.p50 - data.guard.lat.p50)} µs against row 5a` : '';
      lines.push(sem.why ? `Semantic injection detector (row 5b, reported apart, no target): not measured (${why(sem.why)}).`
        : `Semantic injection detector (row 5b − row 5, reported apart, no target): ${fmt(sem.pct, 1)} % of throughput in 2xx answers at ${meta.conns} connections` +
          (sem.non2xx ? ` (**${fmt(sem.non2xx)} of ${fmt(sem.requests)} answers were not 2xx**${f.rejected ? `; the CPU pool refused ${fmt(f.rejected)} embeds` : ''})` : '') +
          `; ${signed(sem.p50)} µs at p50${vsStd}, ${signed(sem.p99)} µs at p99` +
          (low ? `. At ${meta.semantic_guard_conns} connections: ${fmt(ok2xx(low))} 2xx answers a second, p50 ${fmt(low.p50)} µs, ${fmt(low.non2xx)} not 2xx.` : '.'));
    }
    if (base && !base.fail && base.lat && base.thru && data.caravan && !data.caravan.fail && data.caravan.lat) {
      lines.push(`Row 5 against row 3 (the same pipeline without guardrails, the 1 KB request instead of row 3's short one): ` +
        `${fmt(base.thru.rps / data.caravan.thru.rps, 2)}× its req/s, ${signed(base.lat.p50 - data.caravan.lat.p50)} µs at p50.`);
    }
    for (const l of lines) p(`- ${l}`);
    const semProbe = (id) => (data[id].guard || {}).check_semantic;
    const probes = ['guard', 'guard-semantic'].filter((id) => !data[id].na && semProbe(id)).map((id) => {
      const [code, found] = semProbe(id).split(' ');
      return `row ${GUARD_ROWS.find((g) => g.id === id).n} answered it ${code === '400' ? `400, refused by ${found}` : `HTTP ${code}`}`;
    });
    if (probes.length) p(`- Injection probe without any rule's words, sent before the runs: ${probes.join('; ')}.`);
    p();
    const gwarm = guardRows.filter((g) => read(`${g.id}.warm`)).map((g) => {
      const rounds = read(`${g.id}.warm`).split('\n');
      return `row ${g.n} ${rounds.length * Number(meta.warm_round)} s (${rounds.map((x) => fmt(Number(x))).join(' → ')} req/s)`;
    });
    if (gwarm.length) p(`Warm-up at ${meta.conns} connections, as above: ${gwarm.join('; ')}.`);
    p();
    // streams: time to first token through the look-ahead
    p('### Time to first token through the stream look-ahead');
    p();
    p(`The same 1 KB prompt streamed: the upstream sends a role chunk, then ${meta.token_chunks} tokens of a plain answer ` +
      '(a word with its leading space, or a punctuation mark: "The", " customer", " was", ...), the first at once, then one ' +
      `every pace ms. After ${fmt(Number(meta.guard_stream_warm))} fast token streams (8 at a time) and one unmeasured stream, ` +
      `${meta.stream_runs} streams one after another: TTFT is the median time from sending the request to the first chunk ` +
      'with text; "text" compares what the client received with row 5\'s (the policy must not change a plain answer).');
    p();
    p('| # | row | pace ms | TTFT p50 ms | vs row 5 | TTFT min / max ms | stream total p50 ms | text | streams ok |');
    p('|---|---|---:|---:|---:|---:|---:|---|---:|');
    for (const g of guardRows) {
      const d = data[g.id];
      for (const pace of tokenPaces) {
        if (d.fail) { p(`| ${g.n} | ${g.name} | ${pace} | failed: ${d.fail.replace(/\|/g, '/')} ||||||`); continue; }
        const t = d.tokens[pace]; const b = base && base.tokens[pace];
        if (!t) { p(`| ${g.n} | ${g.name} | ${pace} | not measured ||||||`); continue; }
        const add = g.id !== 'guard-base' && t.ok && b && b.ok ? t.firstTextMs.p50 - b.firstTextMs.p50 : null;
        const text = !t.ok ? '–' : !t.text.same ? '**differs between streams**' : g.id === 'guard-base' ? `${fmt(t.text.chars)} chars`
          : b && b.ok && b.text.sha256 === t.text.sha256 ? 'as row 5' : '**differs from row 5**';
        const errs = Object.entries(t.errors || {}).map(([k, v]) => `${v}× ${k}`).join('; ').replace(/\|/g, '/');
        p(`| ${g.n} | ${g.name} | ${pace} | ${fmt(t.ok ? t.firstTextMs.p50 : null, 2)} | ${signed(add, 2)} | ` +
          `${t.ok ? fmt(t.firstTextMs.min, 2) + ' / ' + fmt(t.firstTextMs.max, 2) : '–'} | ${fmt(t.ok ? t.totalMs.p50 : null, 0)} | ${text} | ` +
          `${fmt(t.ok)} / ${fmt(t.requested)}${errs ? ' (' + errs + ')' : ''} |`);
      }
    }
    p();
    const tl = [];
    for (const pace of tokenPaces) {
      const x = gf.ttft[`guard@${pace}`];
      if (!x) continue;
      tl.push(x.why ? `at ${pace} ms: not measured (${why(x.why)})` : `at ${pace} ms ${signed(x.add, 2)} ms`);
    }
    const first = gf.ttft[`guard@${tokenPaces[0]}`];
    if (tl.length) {
      p(`- Look-ahead's added TTFT (row 5a − row 5, target ≤ ${GUARD_TTFT_TARGET_MS} ms at p50): ${tl.join(', ')}` +
        (first && !first.why ? `; ${pass(first.add <= GUARD_TTFT_TARGET_MS)} at the ${tokenPaces[0]} ms pace.` : '.'));
    }
    const st = tokenPaces.map((pace) => gf.ttft[`guard-semantic@${pace}`]).filter(Boolean);
    if (st.length) {
      p(`- With the semantic detector (row 5b − row 5, reported apart): ${tokenPaces.map((pace) => {
        const x = gf.ttft[`guard-semantic@${pace}`];
        return !x ? null : x.why ? `at ${pace} ms: not measured (${why(x.why)})` : `at ${pace} ms ${signed(x.add, 2)} ms`;
      }).filter(Boolean).join(', ')}.`);
    }
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
    const cf = cacheFacts();
    if (!cf.hit) p('| exact-cache hit faster than the direct call | not measured in this run | – |');
    else if (cf.hit.why) p(`| exact-cache hit faster than the direct call | ${cf.hit.why.replace(/\|/g, '/')} | – |`);
    else p(`| exact-cache hit faster than the direct call | p50 ${fmt(cf.hit.p50)} µs, direct ${fmt(cf.hit.direct)} µs | ${mark(cf.hit.ok)} |`);
    if (cf.semanticMiss) {
      if (cf.semanticMiss.why) p(`| semantic lookup added on a miss ≤ 5 ms at p50 | ${cf.semanticMiss.why.replace(/\|/g, '/')} | – |`);
      else p(`| semantic lookup added on a miss ≤ 5 ms at p50 | ${signed(cf.semanticMiss.p50)} µs | ${mark(cf.semanticMiss.ok)} |`);
    }
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
  // guardrails: the standard policy (row 5a) against row 5; the semantic detector has no target
  if (guardIds.length) {
    const gf = guardFacts(); const g = gf.guard; const tt = gf.ttft[`guard@${tokenPaces[0]}`];
    const absent = { why: 'not measured in this run' };
    row(`guardrails, standard policy: ≤ ${GUARD_THROUGHPUT_TARGET_PCT} % of throughput (1 KB prompt)`, g || absent, g && `${signed(g.pct, 1)} %`, g && g.pct <= GUARD_THROUGHPUT_TARGET_PCT);
    row(`guardrails, standard policy: ≤ ${GUARD_P50_TARGET_US} µs at p50 (1 KB prompt)`, g || absent, g && `${signed(g.p50)} µs`, g && g.p50 <= GUARD_P50_TARGET_US);
    row(`guardrails, stream look-ahead: ≤ ${GUARD_TTFT_TARGET_MS} ms added TTFT at p50`, tt || absent,
      tt && `${signed(tt.add, 2)} ms (tokens ${tokenPaces[0]} ms apart)`, tt && tt.add <= GUARD_TTFT_TARGET_MS);
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
  ['portkey', 'Portkey'], ['durations', 'runs'], ['many', 'many streams'], ['governance', 'governed rows (3a, 3b)'],
  ['redis_version', 'Redis'], ['cache', 'cache rows (4, 4a, 4b, 4c)'], ['guard', 'guardrail rows (5, 5a, 5b)']]) {
  if (meta[k] && !(meta.mode === 'soak' && ['portkey', 'durations', 'many', 'governance', 'redis_version', 'cache', 'guard'].includes(k))) p(`- ${label}: ${meta[k]}`);
}
p();
process.stdout.write(out.join('\n'));
