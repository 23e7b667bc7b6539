#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# A stand-in for vLLM in the tests: a small OpenAI-compatible HTTP server
# (GET /v1/models, POST /v1/chat/completions, streamed with SSE when asked)
# that answers with canned text naming its site. It is not a model: the
# tests check that requests reach a replica and come back, not what it says.
#   server.py PORT SITE [MODEL]
import json
import socket
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT, SITE = int(sys.argv[1]), sys.argv[2]
MODEL = sys.argv[3] if len(sys.argv) > 3 else "tiny-llm"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def setup(self):
        super().setup()
        # Each answer's pieces leave at once (no 40 ms Nagle wait on loopback).
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def send_json(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path.startswith("/ticks"):  # the benchmark's: timestamped chunks
            self.ticks()
        elif self.path == "/v1/models":
            self.send_json(200, {"object": "list", "data": [
                {"id": MODEL, "object": "model", "owned_by": SITE}]})
        else:
            self.send_json(404, {"error": {"message": "no such path"}})

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        req = json.loads(self.rfile.read(n) or b"{}")
        text = "hello from %s" % SITE
        # A slow model, for the scaling tests: "delay" seconds before it answers.
        time.sleep(min(float(req.get("delay", 0)), 30))
        if not req.get("stream"):
            self.send_json(200, {
                "id": "chatcmpl-1", "object": "chat.completion", "created": int(time.time()),
                "model": MODEL,
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": text}}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 3, "total_tokens": 4}})
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for word in text.split(" ") + [None]:
            delta = {"content": word + " "} if word else {}
            chunk = {"id": "chatcmpl-1", "object": "chat.completion.chunk",
                     "created": int(time.time()), "model": MODEL,
                     "choices": [{"index": 0, "delta": delta,
                                  "finish_reason": None if word else "stop"}]}
            self.chunk("data: %s\n\n" % json.dumps(chunk))
        self.chunk("data: [DONE]\n\n")
        self.wfile.write(b"0\r\n\r\n")

    def ticks(self):
        """/ticks?n=N&ms=M: N chunks M ms apart, each the time it was written."""
        q = dict(p.split("=") for p in self.path.partition("?")[2].split("&") if "=" in p)
        n, ms = min(int(q.get("n", 10)), 10000), min(float(q.get("ms", 10)), 1000)
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for _ in range(n):
            self.chunk("data: %.6f\n\n" % time.time())
            time.sleep(ms / 1000)
        self.wfile.write(b"0\r\n\r\n")

    def chunk(self, s):
        b = s.encode()
        self.wfile.write(b"%x\r\n%s\r\n" % (len(b), b))
        self.wfile.flush()


ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
