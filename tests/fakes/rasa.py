"""A local stand-in for Rasa's gateway channel (bot/channels.py) that can answer, stall or fail on demand.

Rasa is a separate server; gateway tests use this to prove the gateway's own behaviour
(fallbacks, retries, handoff flags). The e2e tests run the real Rasa.
"""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeRasa:
    """mode: "ok" echoes, "slow" stalls `delay` s, "error" answers 500, "empty" answers no message
    (with the intent: the bot understood nothing it could answer).

    `on_message(body)`, when set, may return the messages to answer instead (e.g. to call the API
    as an action would); `received` keeps every posted body, metadata included.
    """

    def __init__(self):
        self.mode = "ok"
        self.delay = 5.0
        self.received: list[dict] = []
        self.on_message = None
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _json(self, data) -> None:
                raw = json.dumps(data, ensure_ascii=False).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if self.path.rstrip("/").endswith("/parse"):  # the gateway channel's NLU (and the old /model/parse)
                    self._json({"text": body["text"], "intent": {"name": fake.intent_of(body["text"]),
                                                                 "confidence": 0.9}})
                    return
                fake.received.append(body)
                if fake.mode == "error":
                    self.send_response(500)
                    self.end_headers()
                    return
                if fake.mode == "slow":
                    time.sleep(fake.delay)
                reply = [{"recipient_id": body["sender"], "text": f"收到：{body['message']}",
                          "buttons": [{"title": "是的", "payload": "/affirm"}]}]
                if fake.on_message is not None:
                    reply = fake.on_message(body) or reply
                if fake.mode == "empty":
                    reply = []
                if "人工" in body["message"]:
                    reply.append({"recipient_id": body["sender"],
                                  "custom": {"handoff": True, "reason": "request_human"}})
                self._json({"messages": reply,
                            "intent": {"name": fake.intent_of(body["message"]), "confidence": 0.9}})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @staticmethod
    def intent_of(text: str) -> str:
        """A fixed reading of a few test phrases (the real NLU is tested in e2e)."""
        if "人工" in text:
            return "request_human"
        if "投诉" in text:
            return "complaint"
        if "电费" in text:
            return "query_bill"
        if text.startswith("？？") or text.startswith("??"):
            return "nlu_fallback"
        return "report_outage" if "停电" in text else "faq"

    def __enter__(self) -> FakeRasa:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
