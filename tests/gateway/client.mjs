// SPDX-License-Identifier: Apache-2.0
// The official OpenAI client library, unchanged, against aifed-gateway:
//   node client.mjs BASE_URL KEY chat|stream|models MODEL
// prints one JSON line: what came back, or {status, error} (exit 3).
// The gateway's test certificate is trusted through NODE_EXTRA_CA_CERTS.
import OpenAI from 'openai';

const [baseURL, apiKey, mode, model] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 30000 });
const messages = [{ role: 'user', content: 'Say hello.' }];

try {
  if (mode === 'chat') {
    const r = await client.chat.completions.create({ model, messages });
    console.log(JSON.stringify({ content: r.choices[0].message.content, usage: r.usage }));
  } else if (mode === 'stream') {
    const s = await client.chat.completions.create({ model, messages, stream: true });
    let content = '';
    let chunks = 0;
    for await (const c of s) {
      chunks++;
      content += c.choices[0]?.delta?.content ?? '';
    }
    console.log(JSON.stringify({ content, chunks }));
  } else if (mode === 'models') {
    const m = await client.models.list();
    console.log(JSON.stringify({ ids: m.data.map((x) => x.id) }));
  } else {
    throw new Error(`unknown mode ${mode}`);
  }
} catch (e) {
  console.log(JSON.stringify({ status: e.status ?? 0, error: String(e.message) }));
  process.exit(3);
}
