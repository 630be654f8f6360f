"""Every SMTP session ends with QUIT, also when the process holding it exits without closing
it: a pool worker process (multiprocessing), a Celery pool child (the worker_process_shutdown
signal Celery's prefork pool sends in the child) and a plain interpreter exit. Against a real
aiosmtpd server on loopback that counts the QUITs it receives."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

import pytest

from factory.deliver import TransportOptions, open_transport
from factory.models import Message
from tests.conftest import REPO

BODY = b"From: a@example.com\r\nTo: b@example.com\r\nSubject: t\r\n\r\nhello\r\n"


def send_and_leave_open(url: str) -> int:
    """Open a transport, send one message, and return with the session still open."""
    transport = open_transport(url, TransportOptions("email"))
    transport.send(Message("email", "k1", "b@example.com", "a@example.com", BODY, {}))
    return os.getpid()


def send_then_celery_child_exit(url: str) -> None:
    """What a Celery prefork child does: work, then Celery's process_destructor, os._exit."""
    from celery.concurrency.prefork import process_destructor

    import factory.executors.celery_app  # noqa: F401  (connects the shutdown hook)

    send_and_leave_open(url)
    process_destructor(os.getpid(), 0)
    os._exit(0)


def wait_for(condition, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_a_pool_worker_that_exits_ends_its_session_with_quit(smtp_server, method: str) -> None:
    with ProcessPoolExecutor(1, mp_context=get_context(method)) as pool:
        pid = pool.submit(send_and_leave_open, smtp_server.url()).result(60)
    assert pid != os.getpid()
    assert len(smtp_server.messages) == 1
    assert wait_for(lambda: smtp_server.handler.quits == 1), "connection dropped without QUIT"


def test_a_celery_pool_child_that_exits_ends_its_session_with_quit(smtp_server) -> None:
    import billiard

    child = billiard.get_context("fork").Process(target=send_then_celery_child_exit,
                                                 args=(smtp_server.url(),))
    child.start()
    child.join(60)
    assert child.exitcode == 0
    assert len(smtp_server.messages) == 1
    assert wait_for(lambda: smtp_server.handler.quits == 1), "connection dropped without QUIT"


def test_an_interpreter_that_exits_ends_its_session_with_quit(smtp_server) -> None:
    code = ("from tests.pipeline.test_smtp_quit import send_and_leave_open;"
            f" send_and_leave_open({smtp_server.url()!r})")
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, timeout=60,
                   env={**os.environ, "PYTHONPATH": str(REPO)})
    assert len(smtp_server.messages) == 1
    assert wait_for(lambda: smtp_server.handler.quits == 1)


def test_close_quits_once_and_the_transport_reconnects_after(smtp_server) -> None:
    transport = open_transport(smtp_server.url(), TransportOptions("email"))
    message = Message("email", "k1", "b@example.com", "a@example.com", BODY, {})
    transport.send(message)
    transport.close()
    transport.close()
    assert wait_for(lambda: smtp_server.handler.quits == 1)
    transport.send(message)
    from factory.deliver import close_sessions

    close_sessions()
    assert wait_for(lambda: smtp_server.handler.quits == 2)
    assert len(smtp_server.messages) == 2
