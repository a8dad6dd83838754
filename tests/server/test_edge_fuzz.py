"""Hostile input at the HTTP edge never becomes a 500: property tests against the ASGI app in-process."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opensts.config import Settings
from opensts.identity import ids
from opensts.runtime import open_runtime
from opensts.server.app import create_app


ACCOUNT = "123456789012"
ROOT_KEY = ids.new_long_term_access_key_id(ACCOUNT)
ROOT_SECRET = ids.new_secret_access_key()


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    settings = Settings(
        data_dir=Path(tmp_path_factory.mktemp("fuzz")), account_id=ACCOUNT,
        root_access_key_id=ROOT_KEY, root_secret_access_key=ROOT_SECRET,
    )
    runtime = open_runtime(settings)
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
    return call_full(app_and_loop, method, query, headers, body)[0]


def call_full(app_and_loop, method: str, query: bytes, headers: list[tuple[bytes, bytes]], body: bytes) -> tuple[int, bytes]:  # type: ignore[no-untyped-def]
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
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


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


# --- Hostile text in signed IAM requests (issue 12, items 9-11) -------------------------------
# NUL, C0 controls, CR, lone surrogates (raw, which is invalid UTF-8 on the wire, and as JSON
# escapes inside policies), non-characters: refused with AWS errors, never stored, never a 500,
# and every response is XML that botocore parses.
HOSTILE = ["\x00", "\x01", "\x1b", "\r", "\t", "\ud800", "\udfff", "\ufffe", "\uffff", "\\ud800", "&", "<", "\u00e9"]
hostile_text = st.lists(st.one_of(st.sampled_from(HOSTILE), st.characters()), max_size=30).map("".join)
_FORM = [(b"content-type", b"application/x-www-form-urlencoded")]


def _form(pairs: list[tuple[str, str]]) -> bytes:
    from urllib.parse import quote

    def enc(text: str) -> str:
        return quote(text.encode("utf-8", "surrogatepass"), safe="")

    return "&".join(f"{enc(k)}={enc(v)}" for k, v in pairs).encode("ascii")


def _signed(body: bytes) -> list[tuple[bytes, bytes]]:
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(method="POST", url="http://127.0.0.1:7070/", data=body,
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
    SigV4Auth(Credentials(ROOT_KEY, ROOT_SECRET), "iam", "us-east-1").add_auth(request)
    return [(k.lower().encode(), v.encode() if isinstance(v, str) else v) for k, v in request.headers.items()]


def _assert_parseable(operation: str, status: int, body: bytes) -> None:
    import botocore.session
    from botocore.parsers import create_parser
    from xml.etree import ElementTree

    assert status < 500, body
    ElementTree.fromstring(body)  # well-formed XML 1.0
    model = botocore.session.get_session().get_service_model("iam").operation_model(operation)
    parsed = create_parser("query").parse({"body": body, "headers": {}, "status_code": status}, model.output_shape)
    assert (status >= 400) == ("Error" in parsed and bool(parsed["Error"].get("Code")))


def _signed_call(app, operation: str, pairs: list[tuple[str, str]]) -> tuple[int, bytes]:  # type: ignore[no-untyped-def]
    body = _form([("Action", operation), ("Version", "2010-05-08"), *pairs])
    status, response = call_full(app, "POST", b"", _signed(body), body)
    _assert_parseable(operation, status, response)
    return status, response


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=hostile_text, key=hostile_text, value=hostile_text, extra_name=hostile_text)
def test_hostile_text_in_users_and_tags(app, name: str, key: str, value: str, extra_name: str) -> None:  # type: ignore[no-untyped-def]
    pairs = [("UserName", name or "u"), ("Tags.member.1.Key", key), ("Tags.member.1.Value", value)]
    status, _ = _signed_call(app, "CreateUser", [*pairs, (extra_name, "1")] if extra_name else pairs)
    if status == 200:
        _signed_call(app, "ListUserTags", [("UserName", name or "u")])
        _signed_call(app, "DeleteUser", [("UserName", name or "u")])


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(action=hostile_text, description=hostile_text)
def test_hostile_text_in_policies_and_descriptions(app, action: str, description: str) -> None:  # type: ignore[no-untyped-def]
    import json
    import secrets

    document = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:" + action, "Resource": "*"}]})
    # json.dumps escapes controls and surrogates; also send them raw, as a hand-written policy would.
    raw = '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:' + action + '", "Resource": "*"}]}'
    for text in (document, raw):
        name = f"p{secrets.token_hex(6)}"
        status, body = _signed_call(app, "CreatePolicy", [("PolicyName", name), ("PolicyDocument", text), ("Description", description)])
        if status == 200:
            arn = f"arn:aws:iam::{ACCOUNT}:policy/{name}"
            _signed_call(app, "GetPolicy", [("PolicyArn", arn)])
            _signed_call(app, "GetAccountAuthorizationDetails", [("Filter.member.1", "LocalManagedPolicy")])
            _signed_call(app, "DeletePolicy", [("PolicyArn", arn)])
