"""A chat notice delivered by the worker process (`python -m api worker`, BACKGROUND_WORKERS=false on the
API) reaches the customer's socket held by an API process: the worker publishes it on the live bus, which
crosses processes through Redis. Here the worker has its own bus and event loop, as a process of its own."""
from __future__ import annotations


import pytest
from fastapi.testclient import TestClient

from api.conversations.live import LiveBus
from api.conversations.service import record_notice
from api.core.time import utcnow
from api.db import make_engine, make_sessionmaker
from api.main import create_app, live_channel
from api.notify import service as notify
from api.notify.worker import OutboxWorker
from tests.conftest import run_coroutine

pytestmark = pytest.mark.timeout(60)
NOTICE = "您报修的停电故障已派单，抢修人员正在赶往现场。"


def test_a_notice_the_worker_process_delivers_reaches_the_socket_on_an_api_process(settings, session, redis_url):
    settings = settings.model_copy(update={"redis_url": redis_url, "background_workers": False})
    with TestClient(create_app(settings)) as client:
        chat = client.post("/api/chat/conversations").json()
        conversation_id = chat["conversation_id"]
        said = client.post("/api/chat/messages", headers={"X-Chat-Secret": chat["secret"]},
                           json={"sender_id": conversation_id, "text": "我家停电了"})
        assert said.status_code == 200, said.text
        with client.websocket_connect(f"/ws/chat/{conversation_id}") as socket:
            socket.send_json({"type": "hello", "secret": chat["secret"]})
            assert socket.receive_json() == {"type": "ready", "conversation_id": conversation_id}
            notify.enqueue(session=session, key="test:worker-bus", channel="web", recipient=conversation_id,
                           audience="customer", body=NOTICE, now=utcnow())
            session.commit()

            async def worker_process() -> int:
                engine = make_engine(settings.database_url)
                bus = LiveBus(settings.redis_url, channel=live_channel(settings.database_url))
                await bus.start()
                try:
                    worker = OutboxWorker(sessionmaker=make_sessionmaker(engine), sms=None, chat=record_notice,
                                          bus=bus)
                    return await worker.deliver_and_push()
                finally:
                    await bus.stop()
                    engine.dispose()

            assert run_coroutine(worker_process()) == 1
            frame = socket.receive_json()
            while frame.get("handled_by") != "system":  # anything the chat got before
                frame = socket.receive_json()
    assert frame["type"] == "reply" and frame["messages"][0]["text"] == NOTICE
