"""The access log over HTTP (server/access_log.py, docs/DEPLOYMENT.md "Logs").

A server per log format (and backend): boto3 calls that succeed, are denied, carry a bad signature,
a presigned GetCallerIdentity URL signed with a session token, ``/v1/authorize``, ``/health`` and an
unknown path each give exactly one access line with the right fields; no secret key, session token
or presigned query reaches the log; text a client chose (a path, a claimed key id, a session name, a
User-Agent) cannot start a line of its own. The startup lines name what matters, once, and
``--log-level warning`` turns access lines off.
"""

from __future__ import annotations

import json
import re
import socket
import time
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest
from botocore.exceptions import ClientError

from tests.authorize.conftest import call as authorize_call, inner_request, instance_arn
from tests.conftest import BACKENDS, Credentials, ServerInfo, random_name, start_server, stop_server
from tests.iam.conftest import allow, make_user

TEXT_LINE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR|CRITICAL) [\w.]+: ")
ACCESS_TEXT = re.compile(
    r"request_id=(?P<request_id>\S+) client=(?P<client>\S+) service=(?P<service>\S+) action=(?P<action>\S+) "
    r"principal=(?P<principal>\S+) access_key_id=(?P<access_key_id>\S+) status=(?P<status>\d+) "
    r"error_code=(?P<error_code>\S+) duration_ms=(?P<duration_ms>[\d.]+) bytes=(?P<bytes>\d+)"
    r"(?: decision=(?P<decision>\S+))?"
)
FORGED = "2030-01-01 00:00:00,000 INFO opensts.access: forged"


@pytest.fixture(scope="module", params=[(b, f) for b in BACKENDS for f in ("json", "text")],
                ids=lambda p: f"{p[0]}-{p[1]}")
def logged(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerInfo]:
    backend, log_format = request.param
    info = start_server(tmp_path_factory.mktemp("access"), backend, {"OPENSTS_LOG_FORMAT": log_format})
    yield info
    stop_server(info)


def log_format(server: ServerInfo) -> str:
    return "json" if server.data_dir.joinpath("server.log").read_text().startswith("{") else "text"


def access_lines(server: ServerInfo) -> list[dict[str, Any]]:
    """Every access line of the log, as a dict of its fields (strings, as the text form shows them)."""
    lines = []
    for line in server.data_dir.joinpath("server.log").read_text().splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            if record["logger"] == "opensts.access":
                lines.append({k: str(v) for k, v in record.items()})
        elif " INFO opensts.access: " in line:
            match = ACCESS_TEXT.fullmatch(line.split(" INFO opensts.access: ", 1)[1])
            assert match, line
            lines.append({k: v for k, v in match.groupdict().items() if v is not None})
    return lines


def line_for(server: ServerInfo, request_id: str) -> dict[str, Any]:
    """The one access line of ``request_id`` (written just after the answer: waited for)."""
    deadline = time.monotonic() + 10
    while True:
        found = [line for line in access_lines(server) if line["request_id"] == request_id]
        if found or time.monotonic() > deadline:
            assert len(found) == 1, found
            return found[0]
        time.sleep(0.05)


def request_id_of(response: dict[str, Any]) -> str:
    return str(response["ResponseMetadata"]["RequestId"])


def failed(call: Any, **kwargs: Any) -> ClientError:
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    return info.value


def test_each_call_has_one_line_with_its_fields(logged: ServerInfo) -> None:
    server = logged
    secrets: list[str] = [server.root.secret_access_key]

    ok = server.client("sts").get_caller_identity()
    line = line_for(server, request_id_of(ok))
    assert line["client"] == "127.0.0.1"
    assert (line["service"], line["action"], line["status"], line["error_code"]) == (
        "sts", "GetCallerIdentity", "200", "-")
    assert (line["principal"], line["access_key_id"]) == (ok["Arn"], server.root.access_key_id)
    assert int(line["bytes"]) > 0 and float(line["duration_ms"]) >= 0

    name, user = make_user(server)
    secrets.append(user.secret_access_key)
    denied = failed(server.client("iam", user).list_users)
    line = line_for(server, request_id_of(denied.response))
    assert (line["service"], line["action"], line["status"], line["error_code"]) == (
        "iam", "ListUsers", "403", "AccessDenied")
    assert line["principal"] == f"arn:aws:iam::{server.account_id}:user/{name}"
    assert line["access_key_id"] == user.access_key_id

    wrong = Credentials(user.access_key_id, "x" * 40)
    bad = failed(server.client("sts", wrong).get_caller_identity)
    line = line_for(server, request_id_of(bad.response))
    assert (line["status"], line["error_code"], line["principal"], line["access_key_id"]) == (
        "403", "SignatureDoesNotMatch", "-", user.access_key_id)

    # A presigned URL signed with session credentials: the token and signature travel in the query.
    _, caller = make_user(server, allow("sts:GetCallerIdentity"))
    secrets.append(caller.secret_access_key)
    session = server.client("sts", caller).get_session_token()["Credentials"]
    temporary = Credentials(session["AccessKeyId"], session["SecretAccessKey"], session["SessionToken"])
    secrets += [temporary.secret_access_key, temporary.session_token or ""]
    url = server.client("sts", temporary).generate_presigned_url(
        "get_caller_identity", Params={}, ExpiresIn=60, HttpMethod="GET")
    query = url.split("?", 1)[1]
    signature = re.search(r"X-Amz-Signature=([0-9a-f]+)", url)
    assert signature and "X-Amz-Security-Token=" in query
    secrets += [query, signature.group(1)]
    presigned = httpx.get(url, timeout=10)
    assert presigned.status_code == 200, presigned.text
    line = line_for(server, presigned.headers["x-amzn-RequestId"])
    assert (line["action"], line["status"], line["access_key_id"]) == (
        "GetCallerIdentity", "200", temporary.access_key_id)
    assert line["principal"].endswith(":user/" + line["principal"].rsplit("/", 1)[1])

    # /v1/authorize: the principal is whoever signed the outer call; the action is the one asked about.
    payload = {"request": inner_request(user), "action": "ec2:StopInstances", "resource": instance_arn(server.account_id)}
    answer = authorize_call(server, payload)
    assert answer.status_code == 200 and answer.json()["decision"] == "Deny", answer.text
    line = line_for(server, answer.headers["x-amzn-RequestId"])
    assert (line["service"], line["action"], line["status"], line["decision"], line["error_code"]) == (
        "opensts", "ec2:StopInstances", "200", "Deny", "-")
    assert (line["principal"], line["access_key_id"]) == (ok["Arn"], server.root.access_key_id)
    refused = authorize_call(server, payload, wrong)
    assert refused.status_code == 403
    line = line_for(server, refused.headers["x-amzn-RequestId"])
    assert (line["status"], line["error_code"], line["principal"], line["access_key_id"], line["decision"]) == (
        "403", "SignatureDoesNotMatch", "-", user.access_key_id, "-")

    # Paths Starlette serves: logged with the path as the action.
    before = len([line for line in access_lines(server) if line["action"] == "/health"])
    assert httpx.get(server.url + "/health", timeout=10).status_code == 200
    assert httpx.get(server.url + "/no-such-path", timeout=10).status_code == 404
    server.client("sts").get_caller_identity()  # answered after the lines above were written (one worker)
    health = [line for line in access_lines(server) if line["action"] == "/health"]
    assert len(health) == before + 1 and health[-1]["status"] == "200" and health[-1]["service"] == "-"
    assert any(line["action"] == "/no-such-path" and line["status"] == "404" for line in access_lines(server))

    text = server.data_dir.joinpath("server.log").read_text()
    for secret in secrets:
        assert secret not in text
    assert "X-Amz-" not in text and "Traceback" not in text


def _raw_get(server: ServerInfo, target: str, user_agent: bytes) -> bytes:
    port = int(server.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET " + target.encode() + b" HTTP/1.1\r\nHost: x\r\nUser-Agent: " + user_agent +
                     b"\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return data


def test_client_text_cannot_forge_a_line(logged: ServerInfo) -> None:
    server = logged
    newline = "%0A" + FORGED.replace(" ", "%20")
    # A path, a claimed key id and a User-Agent holding line breaks: LF, CR, NEL (U+0085), U+2028.
    agent = b"ua\x85" + FORGED.encode() + b"\xe2\x80\xa8"  # as much as a header value may hold
    assert _raw_get(server, "/p" + newline + "%0D%C2%85%E2%80%A8x", agent).startswith(b"HTTP/1.1 404 ")
    credential = f"AKIAFORGED{newline}/20240101/us-east-1/sts/aws4_request"
    assert _raw_get(server, f"/?Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Algorithm=AWS4-HMAC-SHA256"
                     f"&X-Amz-Credential={credential}&X-Amz-Date=20240101T000000Z&X-Amz-Expires=60"
                     f"&X-Amz-SignedHeaders=host&X-Amz-Signature={'0' * 64}", agent).startswith(b"HTTP/1.1 4")
    sts = server.client("sts", user_agent_extra="ua" + FORGED.replace(" ", "_"))
    failed(sts.assume_role, RoleArn=f"arn:aws:iam::{server.account_id}:role/{random_name('r')}",
           RoleSessionName="s\n" + FORGED)
    final = server.client("sts").get_caller_identity()  # every earlier line is written by now
    line_for(server, request_id_of(final))

    lines = server.data_dir.joinpath("server.log").read_text().splitlines()
    json_format = lines[0].startswith("{")
    for line in lines:
        if json_format:
            assert isinstance(json.loads(line), dict), line
        else:
            assert TEXT_LINE.match(line), line
        assert not line.startswith(FORGED)
    forged = [line for line in access_lines(server) if "FORGED" in line["access_key_id"] or "forged" in line["action"]]
    assert any(line["action"].startswith("/p\\x0a2030") for line in forged), forged
    assert any(line["access_key_id"].startswith("AKIAFORGED\\x0a2030") for line in forged), forged


def test_startup_is_logged_once_without_secrets(logged: ServerInfo) -> None:
    text = logged.data_dir.joinpath("server.log").read_text()
    port = logged.url.rsplit(":", 1)[1]
    assert text.count(f"listening on http://127.0.0.1:{port} (tls off, 1 worker)") == 1
    store = "store postgresql " if logged.backend == "postgres" else f"store sqlite {logged.data_dir}"
    assert text.count(store) == 1
    assert text.count("; 1 account (default ") == 1 and "audit on" in text
    assert logged.root.secret_access_key not in text
    master_key = logged.data_dir / "master-key"
    if master_key.exists():
        assert master_key.read_text().strip() not in text
    if logged.backend == "postgres":
        assert logged.database_url not in text and "postgres@" not in text


def test_warning_level_turns_access_lines_off(tmp_path: Path) -> None:
    server = start_server(tmp_path, BACKENDS[0], {"OPENSTS_LOG_LEVEL": "warning"})
    try:
        server.client("sts").get_caller_identity()
        assert httpx.get(server.url + "/health", timeout=10).status_code == 200
        failed(server.client("sts", Credentials(server.root.access_key_id, "y" * 40)).get_caller_identity)
        server.client("sts").get_caller_identity()  # the lines of the calls above would be written by now
    finally:
        stop_server(server)
    text = server.data_dir.joinpath("server.log").read_text()
    assert "opensts.access" not in text and "request_id=" not in text
