"""Inline policies of users, groups and roles in the JSON policy editor: add, validate, replace, delete."""

from __future__ import annotations

import json

import pytest

from tests.conftest import ServerInfo, random_name
from tests.console.helpers import csrf_of, signed_in, signed_in_as_root
from tests.iam.conftest import allow, make_user

READ = json.dumps(allow("s3:GetObject", "arn:aws:s3:::reports/*"), indent=2)


@pytest.mark.parametrize("kind", ["users", "groups"])
def test_add_validate_replace_and_delete_an_inline_policy(server: ServerInfo, kind: str) -> None:
    iam = server.client("iam")
    name = random_name("owner")
    if kind == "users":
        iam.create_user(UserName=name)
        get = lambda policy: iam.get_user_policy(UserName=name, PolicyName=policy)  # noqa: E731
    else:
        iam.create_group(GroupName=name)
        get = lambda policy: iam.get_group_policy(GroupName=name, PolicyName=policy)  # noqa: E731
    client = signed_in_as_root(server)
    try:
        owner_page = client.get(f"/console/{kind}/{name}")
        assert 'id="inline-add"' in owner_page.text
        form = client.get(f"/console/{kind}/{name}/inline")
        assert form.status_code == 200 and 'id="policy-document"' in form.text
        csrf = csrf_of(form)
        bad = client.post(f"/console/{kind}/{name}/inline", data={"csrf": csrf, "policy": "p", "document": '{"Version": "2012-10-17",\n "Statement": [}'})
        assert bad.status_code == 400 and "line 2, column" in bad.text
        saved = client.post(f"/console/{kind}/{name}/inline", data={"csrf": csrf, "policy": "reads", "document": READ})
        assert saved.status_code == 303 and saved.headers["location"] == f"/console/{kind}/{name}"
        assert get("reads")["PolicyDocument"]["Statement"][0]["Action"] == "s3:GetObject"
        edit = client.get(f"/console/{kind}/{name}/inline", params={"policy": "reads"})
        assert "arn:aws:s3:::reports/*" in edit.text
        replaced = json.dumps(allow("s3:PutObject"))
        assert client.post(f"/console/{kind}/{name}/inline", data={"csrf": csrf, "policy": "reads", "document": replaced}).status_code == 303
        assert get("reads")["PolicyDocument"]["Statement"][0]["Action"] == "s3:PutObject"
        assert client.post(f"/console/{kind}/{name}/inline/delete", data={"policy": "reads"}).status_code == 403  # no CSRF
        assert client.post(f"/console/{kind}/{name}/inline/delete", data={"csrf": csrf, "policy": "reads"}).status_code == 303
        with pytest.raises(Exception):
            get("reads")
    finally:
        client.close()


def test_an_inline_policy_write_needs_the_permission(server: ServerInfo) -> None:
    target, _ = make_user(server)
    client, _ = signed_in(server, allow("iam:GetUserPolicy"))
    try:
        form = client.get(f"/console/users/{target}/inline")
        denied = client.post(f"/console/users/{target}/inline", data={"csrf": csrf_of(form), "policy": "p", "document": READ})
        assert denied.status_code == 403 and "AccessDenied" in denied.text
        assert "arn:aws:s3:::reports/*" in denied.text  # the text is kept
    finally:
        client.close()
