"""Hostile input at the HTTP edge never becomes a 500: property tests against the ASGI app in-process."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opensts.config import Settings
from opensts.runtime import open_runtime
from opensts.server.app import create_app


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    runtime = open_runtime(Settings(data_dir=Path(tmp_path_factory.mktemp("fuzz")), account_id="123456789012"))
    application = create_app(runtime=runtime)
    loop = asyncio.new_event_loop()
    queue_in: asyncio.Queue = asyncio.Queue()
    queue_out: asyncio.Queue = asyncio.Queue()

    async def start() -> None:
        await queue_in.put({"type": "lifespan.startup"})
        loop.create_task(application({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, queue_in.get, queue_out.put))
        await queue_out.get()

    loop.run_until_complete(start())
    yield application, loop

    async def stop() -> None:
        await queue_in.put({"type": "lifespan.shutdown"})
        await queue_out.get()
        pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    loop.run_until_complete(stop())
    loop.close()
    runtime.close()


def call(app_and_loop, method: str, query: bytes, headers: list[tuple[bytes, bytes]], body: bytes) -> int:  # type: ignore[no-untyped-def]
    application, loop = app_and_loop
    sent: list[dict] = []
    messages = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict:
        return messages.pop() if messages else {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {
        "type": "http", "method": method, "path": "/", "raw_path": b"/", "query_string": query,
        "headers": [(b"host", b"127.0.0.1:7070"), *headers], "scheme": "http", "server": ("127.0.0.1", 7070),
        "client": ("127.0.0.1", 5555), "http_version": "1.1", "root_path": "", "asgi": {"version": "3.0"},
    }
    loop.run_until_complete(application(scope, receive, send))
    return sent[0]["status"]


header_names = st.sampled_from([b"authorization", b"x-amz-date", b"x-amz-security-token", b"content-type", b"x-amz-content-sha256", b"accept", b"content-length"])
values = st.binary(max_size=200)
auth_like = st.builds(
    lambda cred, sh, sig: f"AWS4-HMAC-SHA256 Credential={cred}, SignedHeaders={sh}, Signature={sig}".encode("utf-8", "surrogatepass"),
    st.text(max_size=80), st.text(max_size=40), st.text(max_size=70),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    method=st.sampled_from(["GET", "POST"]),
    query=st.binary(max_size=300),
    headers=st.lists(st.tuples(header_names, st.one_of(values, auth_like)), max_size=6),
    body=st.one_of(st.binary(max_size=500), st.text(max_size=300).map(lambda t: t.encode("utf-8", "surrogatepass"))),
)
def test_no_input_gives_a_server_error(app, method: str, query: bytes, headers: list, body: bytes) -> None:  # type: ignore[no-untyped-def]
    status = call(app, method, query, headers, body)
    assert status < 500


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(params=st.lists(st.tuples(st.text(min_size=1, max_size=40), st.text(max_size=40)), max_size=8))
def test_arbitrary_actions_and_parameters_give_aws_errors(app, params: list) -> None:  # type: ignore[no-untyped-def]
    from urllib.parse import urlencode

    body = urlencode([("Action", "GetCallerIdentity"), ("Version", "2011-06-15"), *params]).encode()
    assert call(app, "POST", b"", [(b"content-type", b"application/x-www-form-urlencoded")], body) < 500


@pytest.mark.parametrize(
    "headers, body",
    [
        # str.isdigit() is true for superscripts, which int() refuses: found by the test above.
        ([(b"content-length", "²".encode())], b"Action=GetCallerIdentity&Version=2011-06-15"),
        ([(b"content-type", b"application/x-www-form-urlencoded")], "Action=GetCallerIdentity&Version=2011-06-15&Tags.member.%C2%B2=x".encode()),
    ],
)
def test_non_ascii_digits_are_client_errors(app, headers: list, body: bytes) -> None:  # type: ignore[no-untyped-def]
    assert call(app, "POST", b"", headers, body) == 400
