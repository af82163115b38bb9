"""A local stand-in for Rasa's REST webhook that can answer, stall or fail on demand.

Rasa is a separate server; gateway tests use this to prove the gateway's own behaviour
(fallbacks, retries, handoff flags). The e2e tests run the real Rasa.
"""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeRasa:
    """mode: "ok" echoes, "slow" stalls `delay` s, "error" answers 500, "empty" answers []
    (what Rasa does when its action server is down)."""

    def __init__(self):
        self.mode = "ok"
        self.delay = 5.0
        self.received: list[dict] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.received.append(body)
                if fake.mode == "error":
                    self.send_response(500)
                    self.end_headers()
                    return
                if fake.mode == "slow":
                    time.sleep(fake.delay)
                reply = [{"recipient_id": body["sender"], "text": f"收到：{body['message']}",
                          "buttons": [{"title": "是的", "payload": "/affirm"}]}]
                if fake.mode == "empty":
                    reply = []
                if "人工" in body["message"]:
                    reply.append({"recipient_id": body["sender"],
                                  "custom": {"handoff": True, "reason": "request_human"}})
                data = json.dumps(reply, ensure_ascii=False).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeRasa:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
