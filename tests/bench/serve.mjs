// SPDX-License-Identifier: Apache-2.0
// The serving benchmark's client (tests/bench/serve.sh): Node's own https,
// keep-alive, N requests in flight. Prints one JSON line.
//   node serve.mjs latency URL KEY COUNT        sequential POSTs: p50, p99 (ms)
//   node serve.mjs rate URL KEY SECONDS CONC    1 KiB POSTs: requests a second
//   node serve.mjs chunks URL KEY N MS          a stream's chunks: write-to-read delay
//   node serve.mjs watch URL KEY SECONDS        a request every 20 ms: "ms status site" lines
import http from 'node:http';
import https from 'node:https';

const [mode, url, key, a, b] = process.argv.slice(2);
const u = new URL(url);
const lib = u.protocol === 'https:' ? https : http;
const agent = new lib.Agent({ keepAlive: true, maxSockets: 256 });
const body = JSON.stringify({ model: 'x', pad: 'x'.repeat(1000) }); // about 1 KiB

function request(method, path, data) {
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    const req = lib.request({ host: u.hostname, port: u.port, method, path, agent,
      headers: { 'Content-Type': 'application/json', ...(key ? { Authorization: `Bearer ${key}` } : {}),
        ...(data ? { 'Content-Length': Buffer.byteLength(data) } : {}) } }, (res) => {
      res.on('data', () => {});
      res.on('end', () => resolve({ status: res.statusCode, site: res.headers['x-aifed-site'] ?? '-',
        ms: Number(process.hrtime.bigint() - t0) / 1e6 }));
    });
    req.on('error', () => resolve({ status: 0, ms: Number(process.hrtime.bigint() - t0) / 1e6 }));
    if (data) req.write(data);
    req.end();
  });
}

const pct = (v, p) => v.slice().sort((x, y) => x - y)[Math.min(v.length - 1, Math.floor(v.length * p))];
const path = (p) => u.pathname.replace(/\/$/, '') + p;

if (mode === 'latency') {
  const ms = [];
  for (let i = 0; i < Number(a); i++) {
    const r = await request('POST', path('/v1/chat/completions'), body);
    if (r.status === 200) ms.push(r.ms);
  }
  console.log(JSON.stringify({ n: ms.length, p50: pct(ms, 0.5), p99: pct(ms, 0.99) }));
} else if (mode === 'rate') {
  const end = Date.now() + Number(a) * 1000;
  let ok = 0, failed = 0;
  await Promise.all(Array.from({ length: Number(b) }, async () => {
    while (Date.now() < end) {
      const r = await request('POST', path('/v1/chat/completions'), body);
      if (r.status === 200) ok++; else failed++;
    }
  }));
  console.log(JSON.stringify({ rps: ok / Number(a), ok, failed }));
} else if (mode === 'chunks') {
  const delays = [];
  await new Promise((resolve) => {
    const req = lib.request({ host: u.hostname, port: u.port, path: path(`/ticks?n=${a}&ms=${b}`),
      agent, headers: key ? { Authorization: `Bearer ${key}` } : {} }, (res) => {
      let buf = '';
      res.on('data', (d) => {
        const now = Date.now() / 1000;
        buf += d;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const t = parseFloat(buf.slice(6, i));
          buf = buf.slice(i + 2);
          if (!isNaN(t)) delays.push((now - t) * 1000);
        }
      });
      res.on('end', resolve);
    });
    req.on('error', resolve);
    req.end();
  });
  console.log(JSON.stringify({ n: delays.length, p50: pct(delays, 0.5), p99: pct(delays, 0.99) }));
} else if (mode === 'watch') {
  const end = Date.now() + Number(a) * 1000;
  while (Date.now() < end) {
    const r = await request('POST', path('/v1/chat/completions'), body);
    console.log(`${Date.now()} ${r.status} ${r.site ?? '-'}`);
    await new Promise((res) => setTimeout(res, 20));
  }
}
agent.destroy();
