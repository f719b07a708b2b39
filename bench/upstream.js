#!/usr/bin/env node
// Benchmark upstream: a tiny OpenAI-compatible server (Node.js, no dependencies) for the streaming tests.
// POST .../chat/completions answers a fixed chat completion, or with "stream": true a paced SSE stream in OpenAI's
// format. The pacing is read from the path, so one server plays every pace: /p/<chunks>/<intervalMs>/v1/... sends
// <chunks> content chunks <intervalMs> apart (the first at once); any other path uses the defaults below.
// Each content chunk carries its send time ("<i>@<epoch ms>") so the client can see how late a gateway forwards it.
// /t/<chunks>/<intervalMs>/v1/... streams realistic tokens instead (the guardrail rows: a look-ahead holds text by
// its words, so the chunks must look like a model's): a first chunk with the role and empty content, then <chunks>
// tokens of a fixed answer (TOKENS below: a word with its leading space, or punctuation, a few characters each; the
// first at once, then <intervalMs> apart), each chunk stamped with its send time in a field of its own
// ("bench_sent", epoch ms), not in the text.
//
// usage: node upstream.js <port> [defaultChunks=20] [defaultIntervalMs=50]
'use strict';
const http = require('http');
const { performance } = require('perf_hooks');

const port = parseInt(process.argv[2] || '18101', 10);
const defaultChunks = parseInt(process.argv[3] || '20', 10);
const defaultInterval = parseInt(process.argv[4] || '50', 10);
const MAX_CHUNKS = 10000; // a bound on any one stream, whatever the path says

const now = () => performance.timeOrigin + performance.now();

const COMPLETION = JSON.stringify({
  id: 'chatcmpl-bench', object: 'chat.completion', created: 1700000000, model: 'bench-upstream',
  choices: [{ index: 0, message: { role: 'assistant', content: 'Hello from the benchmark upstream.' },
    logprobs: null, finish_reason: 'stop' }],
  usage: { prompt_tokens: 12, completion_tokens: 7, total_tokens: 19 },
});

// the token streams' answer, as a tokenizer cuts it: no personal data, no denied words, nothing a guardrail changes
const TOKENS = ['The', ' customer', ' was', ' charged', ' twice', ' for', ' a', ' single', ' order', ' of', ' the',
  ' annual', ' plan', ',', ' and', ' asks', ' for', ' a', ' refund', ' of', ' the', ' second', ' payment', ' and',
  ' the', ' receipts', ' for', ' both', ' charges', '.', ' I', ' will', ' confirm', ' that', ' the', ' subscription',
  ' stays', ' active', ' and', ' explain', ' how', ' long', ' the', ' refund', ' takes', '.'];

function chunk(model, delta, finish, sent) {
  const c = {
    id: 'chatcmpl-bench', object: 'chat.completion.chunk', created: 1700000000, model,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
  };
  if (sent !== undefined) c.bench_sent = sent;
  return 'data: ' + JSON.stringify(c) + '\n\n';
}

function stream(req, res, request) {
  const m = /\/[pt]\/(\d+)\/(\d+)\//.exec(req.url);
  const tokens = /\/t\/\d+\/\d+\//.test(req.url);
  const chunks = Math.min(m ? parseInt(m[1], 10) : defaultChunks, MAX_CHUNKS);
  const interval = m ? parseInt(m[2], 10) : defaultInterval;
  const model = typeof request.model === 'string' ? request.model : 'bench-upstream';
  const usage = request.stream_options && request.stream_options.include_usage;
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  let sent = 0;
  let timer = null;
  res.on('close', () => { if (timer) clearTimeout(timer); timer = null; });
  if (tokens) res.write(chunk(model, { role: 'assistant', content: '' }, null, Number(now().toFixed(3))));
  const next = () => {
    timer = null;
    if (res.destroyed) return;
    if (sent < chunks) {
      if (tokens) {
        res.write(chunk(model, { content: TOKENS[sent % TOKENS.length] }, null, Number(now().toFixed(3))));
      } else {
        const delta = sent === 0 ? { role: 'assistant', content: '' } : {};
        delta.content = `${sent}@${now().toFixed(3)} `;
        res.write(chunk(model, delta, null));
      }
      sent++;
      if (sent < chunks) { timer = setTimeout(next, interval); return; }
    }
    let tail = chunk(model, {}, 'stop');
    if (usage) {
      tail += 'data: ' + JSON.stringify({
        id: 'chatcmpl-bench', object: 'chat.completion.chunk', created: 1700000000, model, choices: [],
        usage: { prompt_tokens: 12, completion_tokens: chunks, total_tokens: 12 + chunks },
      }) + '\n\n';
    }
    res.end(tail + 'data: [DONE]\n\n');
  };
  next();
}

const server = http.createServer((req, res) => {
  if (req.method !== 'POST' || !req.url.endsWith('/chat/completions')) {
    res.writeHead(req.url === '/health' ? 200 : 404, { 'content-type': 'text/plain' });
    res.end(req.url === '/health' ? 'ok\n' : 'not found\n');
    return;
  }
  const parts = [];
  req.on('data', (d) => parts.push(d));
  req.on('end', () => {
    let request = {};
    try { request = JSON.parse(Buffer.concat(parts).toString('utf8') || '{}'); } catch (e) { request = {}; }
    if (request.stream === true) { stream(req, res, request); return; }
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(COMPLETION) });
    res.end(COMPLETION);
  });
});
server.keepAliveTimeout = 65000; // like a cloud load balancer: idle pooled connections live about a minute
server.headersTimeout = 66000;
server.listen(port, '127.0.0.1', () => console.log(`bench upstream on 127.0.0.1:${port}`));
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
