"""A local stand-in for WeChat: the official-account API our `wechatpy` client calls (token, customer-service
messages, menu, media download of the pictures users sent — put them in `media`), recording what we send, and the signed pushes WeChat makes to our server URL.

Point our client at it with WECHAT_API_BASE=fake.api_base. `refuse(openid, errcode)` makes customer-service
messages to that user fail as WeChat would (45015: outside the 48-hour window); template messages (`templates`)
go through unless refused too.
"""
from __future__ import annotations

import hashlib
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlparse

from wechatpy.crypto import WeChatCrypto

APP_ID, APP_SECRET = "wx0123456789abcdef", "fake-app-secret-0123456789abcdef"
TOKEN = "zhidian-wechat-token"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"  # 43 characters, as WeChat issues them


def sign(*parts: str) -> str:
    """WeChat's signature: SHA-1 of the sorted parts joined."""
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def text_xml(openid: str, content: str, msg_id: int) -> str:
    return (f"<xml><ToUserName><![CDATA[gh_zhidian]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>"
            f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
            f"<Content><![CDATA[{content}]]></Content><MsgId>{msg_id}</MsgId></xml>")


def signed_query(*, timestamp: int | None = None, nonce: str | None = None, token: str = TOKEN) -> dict:
    """The query WeChat puts on a push: timestamp, nonce and the signature over them and the token."""
    timestamp = str(timestamp if timestamp is not None else int(time.time()))
    nonce = nonce or secrets.token_hex(8)
    return {"signature": sign(token, timestamp, nonce), "timestamp": timestamp, "nonce": nonce}


def encrypted(xml: str, query: dict) -> tuple[str, dict]:
    """The safe-mode body and query of a push (AES, msg_signature over the ciphertext)."""
    crypto = WeChatCrypto(TOKEN, AES_KEY, APP_ID)
    body = crypto.encrypt_message(xml, query["nonce"], query["timestamp"])
    cipher = body.split("<Encrypt><![CDATA[")[1].split("]]>")[0]
    return body, {**query, "encrypt_type": "aes",
                  "msg_signature": sign(TOKEN, query["timestamp"], query["nonce"], cipher)}


def decrypted(body: str, query: dict) -> str:
    """Our safe-mode answer, opened as WeChat would (checking its signature)."""
    crypto = WeChatCrypto(TOKEN, AES_KEY, APP_ID)
    signature = body.split("<MsgSignature><![CDATA[")[1].split("]]>")[0]
    timestamp = body.split("<TimeStamp>")[1].split("</TimeStamp>")[0]
    nonce = body.split("<Nonce><![CDATA[")[1].split("]]>")[0]
    return crypto.decrypt_message(body, signature, timestamp, nonce)


class FakeWeChat:
    """WeChat's API on 127.0.0.1; a context manager. `sent` lists the customer-service messages."""

    def __init__(self):
        self.sent: list[dict] = []
        self.templates: list[dict] = []  # template messages, as posted
        self.menus: list[dict] = []
        self.media: dict[str, tuple[bytes, str]] = {}  # media id → (bytes, content type): pictures users sent
        self.tokens_issued = 0
        self._refused: dict[str, int] = {}
        self._template_refused: dict[str, int] = {}
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _answer(self, payload: dict) -> None:
                data = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                if url.path == "/cgi-bin/token" and (query.get("appid"), query.get("secret")) == (APP_ID, APP_SECRET):
                    with fake._lock:
                        fake.tokens_issued += 1
                        token = f"ACCESS-{fake.tokens_issued}"
                    return self._answer({"access_token": token, "expires_in": 7200})
                if url.path == "/cgi-bin/media/get":
                    if not query.get("access_token", "").startswith("ACCESS-"):
                        return self._answer({"errcode": 40001, "errmsg": "invalid credential"})
                    if query.get("media_id") not in fake.media:
                        return self._answer({"errcode": 40007, "errmsg": "invalid media_id"})
                    data, content_type = fake.media[query["media_id"]]
                    self.send_response(200)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return None
                return self._answer({"errcode": 40013, "errmsg": "invalid appid"})

            def do_POST(self):
                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                if not query.get("access_token", "").startswith("ACCESS-"):
                    return self._answer({"errcode": 40001, "errmsg": "invalid credential"})
                if url.path == "/cgi-bin/message/custom/send":
                    errcode = fake._refused.get(body.get("touser"), 0)
                    if not errcode:
                        with fake._lock:
                            fake.sent.append(body)
                    return self._answer({"errcode": errcode, "errmsg": "ok" if not errcode else "refused"})
                if url.path == "/cgi-bin/message/template/send":
                    errcode = fake._template_refused.get(body.get("touser"), 0)
                    if not body.get("template_id"):
                        errcode = 40037  # invalid template_id
                    if not errcode:
                        with fake._lock:
                            fake.templates.append(body)
                    return self._answer({"errcode": errcode, "errmsg": "ok" if not errcode else "refused",
                                         **({"msgid": len(fake.templates)} if not errcode else {})})
                if url.path == "/cgi-bin/menu/create":
                    fake.menus.append(body)
                    return self._answer({"errcode": 0, "errmsg": "ok"})
                return self._answer({"errcode": 40004, "errmsg": "unknown api"})

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.api_base = f"http://127.0.0.1:{self._server.server_port}/cgi-bin/"

    def refuse(self, openid: str, errcode: int, *, templates_too: bool = False) -> None:
        """Customer-service messages to `openid` fail with `errcode` (and template messages too when asked:
        43004, the user unfollowed)."""
        self._refused[openid] = errcode
        if templates_too:
            self._template_refused[openid] = errcode

    def __enter__(self) -> FakeWeChat:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()


def query_string(query: dict) -> str:
    return urlencode(query)
