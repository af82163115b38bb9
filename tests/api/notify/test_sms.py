"""TwilioSms with the real twilio SDK against a local fake Twilio: sends, failures, webhooks."""
from __future__ import annotations

import logging
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

import httpx
import pytest

from api.notify.sms import SmsPermanentError, SmsSent, SmsTemporaryError, TwilioSms
from api.core.ids import mask_phone
from tests.fakes.twilio import FakeTwilio

FROM = "+15005550006"
TO = "+8613800138000"
BODY = "【智电】您报修的故障工单GD20261123-0042已派单，抢修人员预计40分钟内到达。"


@pytest.fixture
def twilio():
    with FakeTwilio() as fake:
        yield fake


def sender(fake: FakeTwilio, **options) -> TwilioSms:
    settings = {"account_sid": fake.account_sid, "auth_token": fake.auth_token, "from_number": FROM,
                "base_url": fake.url, "timeout": 2.0, **options}
    return TwilioSms(**settings)


@pytest.fixture
def sms(twilio):
    client = sender(twilio)
    yield client
    client.close()


class Receiver:
    """A tiny webhook endpoint: records each POST, answers 403 unless TwilioSms accepts its signature."""

    def __init__(self, sms: TwilioSms):
        self.received: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                form = dict(parse_qsl(raw, keep_blank_values=True))
                url = receiver.url + self.path  # the exact URL Twilio requested, query included
                signature = self.headers.get("X-Twilio-Signature")
                valid = sms.valid_signature(url, form, signature)
                receiver.received.append({"url": url, "form": form, "signature": signature,
                                          "content_type": self.headers.get("Content-Type"),
                                          "valid": valid})
                data = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response/>" if valid else b""
                self.send_response(200 if valid else 403)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(sms):
    endpoint = Receiver(sms)
    yield endpoint
    endpoint.close()


# ---- sending ---------------------------------------------------------------------------------

def test_message_is_sent_and_recorded_with_to_from_and_body(twilio, sms):
    sent = sms.send(to=TO, body=BODY)

    assert isinstance(sent, SmsSent)
    assert re.fullmatch(r"SM[0-9a-f]{32}", sent.sid)
    assert sent.status == "queued"
    [message] = twilio.messages
    assert message["sid"] == sent.sid
    assert (message["to"], message["from"], message["body"]) == (TO, FROM, BODY)
    assert message["account_sid"] == twilio.account_sid
    assert message["num_segments"] == "1"  # 40 Chinese characters: one UCS-2 segment
    assert message["status_callback"] is None


def test_through_a_messaging_service_the_message_is_accepted(twilio):
    service = "MG" + "0" * 32
    client = sender(twilio, from_number=None, messaging_service_sid=service)

    sent = client.send(to=TO, body="停电通知")

    assert sent.status == "accepted"
    [message] = twilio.messages
    assert message["messaging_service_sid"] == service
    assert message["from"] is None


def test_a_sender_needs_a_from_number_or_a_messaging_service(twilio):
    with pytest.raises(ValueError):
        sender(twilio, from_number=None)


def test_logs_show_only_the_masked_number(sms, caplog):
    caplog.set_level(logging.DEBUG)
    sms.send(to=TO, body=BODY)

    assert mask_phone(TO) in caplog.text
    assert TO not in caplog.text


# ---- failures --------------------------------------------------------------------------------

def test_wrong_auth_token_is_permanent(twilio):
    client = sender(twilio, auth_token="wrong-token")

    with pytest.raises(SmsPermanentError) as failure:
        client.send(to=TO, body=BODY)

    assert failure.value.status == 401
    assert failure.value.code == 20003
    assert "Authenticate" in str(failure.value)
    assert twilio.messages == []


@pytest.mark.parametrize("status, code", [(500, 20500), (503, 20503), (429, 20429)])
def test_server_error_or_throttling_is_temporary_and_the_next_send_succeeds(twilio, sms, status, code):
    twilio.fail_next(1, status=status)

    with pytest.raises(SmsTemporaryError) as failure:
        sms.send(to=TO, body=BODY)
    assert (failure.value.status, failure.value.code) == (status, code)
    assert twilio.messages == []

    sent = sms.send(to=TO, body=BODY)
    assert [m["sid"] for m in twilio.messages] == [sent.sid]


def test_rejected_number_is_permanent_with_code_21211(twilio, sms, caplog):
    bad = "+8613900000000"
    twilio.reject_numbers({bad})

    with pytest.raises(SmsPermanentError) as failure:
        sms.send(to=bad, body=BODY)

    assert (failure.value.status, failure.value.code) == (400, 21211)
    assert "is not a valid phone number" in str(failure.value)
    assert mask_phone(bad) in str(failure.value)
    assert bad not in str(failure.value) and bad not in caplog.text
    assert twilio.messages == []


def test_malformed_number_is_permanent_with_code_21211(sms):
    with pytest.raises(SmsPermanentError) as failure:
        sms.send(to="not-a-number", body=BODY)
    assert failure.value.code == 21211


def test_server_down_is_temporary_within_the_timeout_and_up_again_works(twilio):
    client = sender(twilio, timeout=1.0)
    twilio.down()

    started = time.monotonic()
    with pytest.raises(SmsTemporaryError):
        client.send(to=TO, body=BODY)
    assert time.monotonic() - started < 1.0 + 0.5

    twilio.up()
    assert client.send(to=TO, body=BODY).status == "queued"


def test_stalled_server_is_temporary_within_the_timeout(twilio):
    client = sender(twilio, timeout=0.5)
    twilio.delay(3)

    started = time.monotonic()
    with pytest.raises(SmsTemporaryError) as failure:
        client.send(to=TO, body=BODY)
    assert time.monotonic() - started < 0.5 + 1.0
    assert "Timeout" in str(failure.value)

    twilio.delay(0)


# ---- status callbacks ------------------------------------------------------------------------

def test_status_callbacks_arrive_in_order_with_a_valid_signature(twilio, sms, receiver):
    callback = receiver.url + "/api/notify/sms/status?ticket=GD20261123-0042"
    sent = sms.send(to=TO, body=BODY, status_callback=callback)

    posted = twilio.wait_for_callbacks(2)

    assert [c["status_code"] for c in posted] == [200, 200]
    assert [r["form"]["MessageStatus"] for r in receiver.received] == ["sent", "delivered"]
    for request in receiver.received:
        assert request["url"] == callback
        assert request["valid"] is True
        assert request["content_type"].startswith("application/x-www-form-urlencoded")
        form = request["form"]
        assert form["MessageSid"] == form["SmsSid"] == sent.sid
        assert (form["To"], form["From"], form["AccountSid"]) == (TO, FROM, twilio.account_sid)
        assert "ErrorCode" not in form
    assert twilio.messages[0]["status_callback"] == callback


@pytest.mark.parametrize("outcome, statuses, error_code", [
    ("undelivered", ["sent", "undelivered"], "30003"),
    ("failed", ["failed"], "30008"),
])
def test_failed_delivery_is_reported_with_an_error_code(twilio, sms, receiver, outcome, statuses,
                                                        error_code):
    twilio.fail_delivery({TO}, status=outcome)
    sms.send(to=TO, body=BODY, status_callback=receiver.url + "/status")

    twilio.wait_for_callbacks(len(statuses))

    assert [r["form"]["MessageStatus"] for r in receiver.received] == statuses
    assert receiver.received[-1]["form"]["ErrorCode"] == error_code
    assert all(r["valid"] for r in receiver.received)


def test_tampered_callback_body_is_refused(twilio, sms, receiver):
    sms.send(to=TO, body=BODY, status_callback=receiver.url + "/status")
    twilio.wait_for_callbacks(2)
    genuine = receiver.received[-1]
    forged = {**genuine["form"], "MessageStatus": "failed", "ErrorCode": "30008"}

    assert sms.valid_signature(genuine["url"], genuine["form"], genuine["signature"]) is True
    assert sms.valid_signature(genuine["url"], forged, genuine["signature"]) is False
    assert sms.valid_signature(genuine["url"] + "?x=1", genuine["form"], genuine["signature"]) is False
    assert sms.valid_signature(genuine["url"], genuine["form"], None) is False

    replay = httpx.post(genuine["url"], data=forged, headers={"X-Twilio-Signature": genuine["signature"]})
    assert replay.status_code == 403


def test_callbacks_with_an_invalid_signature_are_refused(twilio, sms, receiver):
    twilio.valid_callback_signatures = False
    sms.send(to=TO, body=BODY, status_callback=receiver.url + "/status")

    posted = twilio.wait_for_callbacks(2)

    assert [c["status_code"] for c in posted] == [403, 403]
    assert [r["valid"] for r in receiver.received] == [False, False]


def test_a_signature_made_with_another_accounts_token_is_refused(twilio, receiver):
    other = sender(twilio, auth_token="another-accounts-token")
    url = receiver.url + "/status"
    params = {"MessageSid": "SM" + "1" * 32, "MessageStatus": "delivered"}

    assert other.valid_signature(url, params, twilio.signature(url, params)) is False


# ---- inbound SMS -----------------------------------------------------------------------------

def test_inbound_sms_with_a_valid_signature_is_accepted(twilio, receiver):
    url = receiver.url + "/api/channels/sms/inbound"

    response = twilio.post_inbound(url, from_=TO, to=FROM, body="我家停电了，户号0401000001")

    assert response.status_code == 200
    [request] = receiver.received
    assert request["valid"] is True and request["url"] == url
    form = request["form"]
    assert (form["From"], form["To"], form["Body"]) == (TO, FROM, "我家停电了，户号0401000001")
    assert form["MessageSid"] == form["SmsSid"] and form["MessageSid"].startswith("SM")
    assert (form["AccountSid"], form["NumMedia"], form["NumSegments"], form["ApiVersion"]) == (
        twilio.account_sid, "0", "1", "2010-04-01")


def test_inbound_sms_with_a_wrong_signature_is_refused(twilio, sms, receiver):
    url = receiver.url + "/api/channels/sms/inbound"

    response = twilio.post_inbound(url, from_=TO, to=FROM, body="我家停电了", valid_signature=False)

    assert response.status_code == 403
    [request] = receiver.received
    assert request["valid"] is False
    assert sms.valid_signature(url, request["form"], request["signature"]) is False
    assert sms.valid_signature(url, request["form"],
                               twilio.signature(url, request["form"])) is True
