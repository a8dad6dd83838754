"""The console's roles and managed policies pages, and the policy editor's validation, over HTTP
against a real server (role_pages.py). Every page reads and writes through IAM as the signed-in
principal: the checks below look at IAM itself (boto3, as root) after each console write."""

from __future__ import annotations

import html
import json
import re
from contextlib import closing
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from botocore.exceptions import ClientError

from tests.conftest import ServerInfo, random_name
from tests.console.helpers import csrf_of, signed_in, signed_in_as_root
from tests.iam.conftest import allow
from tests.sts.outbound import new_account

TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "sts:AssumeRole"}]}
S3_READ = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}


def text_by_id(page: httpx.Response, element_id: str) -> str:
    """The text of the element with this id (tags removed, entities decoded)."""
    found = re.search(rf'id="{re.escape(element_id)}"[^>]*>(.*?)</(?:dd|pre|p|h1|ul|td|li)>', page.text, re.S)
    assert found is not None, f"no element {element_id!r} in the page"
    return html.unescape(re.sub(r"<[^>]+>", "", found.group(1))).strip()


def errors_shown(page: httpx.Response) -> list[str]:
    """The editor's errors as the page shows them ("line L, column C: message")."""
    listed = re.search(r'<ul class="policy-errors" id="policy-errors"[^>]*>(.*?)</ul>', page.text, re.S)
    assert listed is not None
    items = re.findall(r"<li[^>]*>(.*?)</li>", listed.group(1), re.S)
    return [html.unescape(re.sub(r"<[^>]+>", "", item)).strip() for item in items]


def editor_text(page: httpx.Response) -> str:
    """The editor's text, as a browser reads the textarea (one newline after its start tag dropped)."""
    found = re.search(r'<textarea id="policy-document"[^>]*>(.*?)</textarea>', page.text, re.S)
    assert found is not None
    text = html.unescape(found.group(1))
    return text[1:] if text.startswith("\n") else text


def role_names(page: httpx.Response) -> list[str]:
    return [html.unescape(name) for name in re.findall(r'class="role-link">([^<]*)<', page.text)]


def make_role(server: ServerInfo, name: str | None = None, **extra: object) -> str:
    name = name or random_name("role")
    server.client("iam").create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST), **extra)
    return name


@pytest.fixture
def root(server: ServerInfo) -> httpx.Client:
    client = signed_in_as_root(server)
    yield client  # type: ignore[misc]
    client.close()


def csrf(client: httpx.Client) -> str:
    return csrf_of(client.get("/console/"))


# ----------------------------------------------------------------------------------- the list
def test_roles_list_searches_by_name_and_pages(server: ServerInfo, root: httpx.Client) -> None:
    prefix = random_name("Pager")
    names = {make_role(server, f"{prefix}-{n:02d}") for n in range(55)}
    make_role(server, random_name("other"))

    first = root.get("/console/roles")
    assert first.status_code == 200
    assert len(role_names(first)) == 50 and 'id="roles-next"' in first.text  # MaxItems 50, then "Next"
    following = root.get(html.unescape(re.search(r'href="([^"]+)" id="roles-next"', first.text).group(1)))  # type: ignore[union-attr]
    assert following.status_code == 200 and not set(role_names(following)) & set(role_names(first))

    seen: list[str] = []
    url: str | None = f"/console/roles?q={prefix.upper()}"  # case-insensitive substring
    for _ in range(5):
        assert url is not None
        screen = root.get(url)
        assert screen.status_code == 200
        seen += role_names(screen)
        found = re.search(r'href="([^"]+)" id="roles-next"', screen.text)
        url = html.unescape(found.group(1)) if found else None
        if url is None:
            break
        assert parse_qs(urlsplit(url).query)["q"] == [prefix.upper()]
    assert url is None
    assert sorted(seen) == sorted(names)  # every match once, nothing else


def test_a_user_without_list_roles_sees_access_denied(server: ServerInfo) -> None:
    client, name = signed_in(server, allow("iam:GetRole"))
    with closing(client):
        answer = client.get("/console/roles")
        assert answer.status_code == 403
        assert text_by_id(answer, "error").startswith("AccessDenied")
        assert f"user/{name} is not authorized to perform: iam:ListRoles" in answer.text


def test_a_role_of_another_account_is_never_listed(server: ServerInfo, root: httpx.Client) -> None:
    other = new_account(server)
    name = random_name("elsewhere")
    server.client("iam", other.root).create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))
    mine = make_role(server, name + "-mine")
    listed = root.get("/console/roles", params={"q": name})
    assert role_names(listed) == [mine]
    assert root.get(f"/console/roles/{name}").status_code == 404  # NoSuchEntity: looked up in our account


# ------------------------------------------------------------------------------------ creating
def test_create_role_form_validates_then_creates(server: ServerInfo, root: httpx.Client) -> None:
    form = root.get("/console/roles/new")
    assert form.status_code == 200
    prefilled = json.loads(editor_text(form))
    assert prefilled["Statement"][0]["Principal"] == {"AWS": f"arn:aws:iam::{server.account_id}:root"}

    name = random_name("created")
    broken = '{\n  "Version": "2012-10-17",\n  "Statement": [\n    {"Effect": "Allow" "Action": "sts:AssumeRole"}\n  ]\n}'
    fields = {"csrf": csrf_of(form), "name": name, "path": "/console/", "description": "made <here>",
              "max_session": "7200", "document": broken}
    refused = root.post("/console/roles/new", data=fields)
    assert refused.status_code == 400
    assert errors_shown(refused) == ["line 4, column 24: Syntax errors in policy. Expecting ',' delimiter."]
    assert editor_text(refused) == broken  # the text is kept
    with pytest.raises(ClientError):
        server.client("iam").get_role(RoleName=name)

    created = root.post("/console/roles/new", data={**fields, "document": json.dumps(TRUST)})
    assert created.status_code == 303 and created.headers["location"] == f"/console/roles/{name}"
    role = server.client("iam").get_role(RoleName=name)["Role"]
    assert (role["Path"], role["Description"], role["MaxSessionDuration"]) == ("/console/", "made <here>", 7200)

    shown = root.get(created.headers["location"])
    assert shown.status_code == 200
    assert text_by_id(shown, "role-arn") == f"arn:aws:iam::{server.account_id}:role/console/{name}"
    assert text_by_id(shown, "role-description") == "made <here>"
    assert text_by_id(shown, "role-max-session") == "7200 seconds"
    assert text_by_id(shown, "trust-policy") == json.dumps(TRUST, indent=2)  # decoded, pretty-printed


def test_create_role_shows_the_apis_error_and_keeps_the_form(server: ServerInfo, root: httpx.Client) -> None:
    name = make_role(server)
    answer = root.post("/console/roles/new", data={"csrf": csrf(root), "name": name, "document": json.dumps(TRUST)})
    assert answer.status_code == 409 and text_by_id(answer, "error").startswith("EntityAlreadyExists")
    assert f'value="{name}"' in answer.text


def test_a_post_without_the_csrf_token_is_refused(server: ServerInfo, root: httpx.Client) -> None:
    name = random_name("nocsrf")
    answer = root.post("/console/roles/new", data={"name": name, "document": json.dumps(TRUST)})
    assert answer.status_code == 403 and "CSRF" in answer.text
    wrong = root.post("/console/roles/new", data={"csrf": "x" * 43, "name": name, "document": json.dumps(TRUST)})
    assert wrong.status_code == 403
    with pytest.raises(ClientError):
        server.client("iam").get_role(RoleName=name)
    assert root.post("/console/policies/validate", data={"kind": "trust", "document": "{}"}).status_code == 403


# ------------------------------------------------------------------------------- the validator
def validate(client: httpx.Client, document: str, kind: str) -> httpx.Response:
    return client.post("/console/policies/validate", data={"csrf": csrf(client), "kind": kind, "document": document})


def test_validate_reports_invalid_json_at_its_line_and_column(root: httpx.Client) -> None:
    text = '{\n  "Version": "2012-10-17",\n  "Statement": [\n    {"Effect": "Allow",, "Action": "s3:*"}\n  ]\n}'
    answer = validate(root, text, "identity")
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
    assert answer.json() == {"errors": [
        {"line": 4, "column": 24, "message": "Syntax errors in policy. Expecting property name enclosed in double quotes."}]}


def test_validate_locates_a_statement_with_a_bad_effect(root: httpx.Client) -> None:
    text = ('{\n  "Version": "2012-10-17",\n  "Statement": [\n'
            '    {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"},\n'
            '    {\n      "Action": "s3:PutObject",\n      "Effect": "Permit",\n      "Resource": "*"\n    }\n  ]\n}')
    errors = validate(root, text, "identity").json()["errors"]
    assert errors == [{"line": 7, "column": 17,  # the value of the second statement's Effect
                       "message": 'Invalid effect: "Permit". Effect must be "Allow" or "Deny". [Statement 2]'}]


def test_validate_locates_a_trust_statement_without_principal(root: httpx.Client) -> None:
    text = '{\n  "Version": "2012-10-17",\n  "Statement": [\n    {\n      "Effect": "Allow",\n      "Action": "sts:AssumeRole"\n    }\n  ]\n}'
    errors = validate(root, text, "trust").json()["errors"]
    assert errors == [{"line": 4, "column": 5, "message": "Missing required field Principal. [Statement 1]"}]
    assert validate(root, text, "identity").json()["errors"][0]["message"] == \
        "Policy statement must contain resources. [Statement 1]"  # the kind decides the grammar
    assert validate(root, json.dumps(TRUST), "trust").json() == {"errors": []}
    assert validate(root, "{}", "scp").status_code == 400


# ------------------------------------------------------------------------------ the role's page
def test_role_page_edits_trust_inline_attached_tags_and_deletes(server: ServerInfo, root: httpx.Client) -> None:
    iam = server.client("iam")
    name = make_role(server, Tags=[{"Key": "team", "Value": "blue"}])
    managed = iam.create_policy(PolicyName=random_name("mp"), PolicyDocument=json.dumps(S3_READ))["Policy"]["Arn"]
    url = f"/console/roles/{name}"
    page = root.get(url)
    assert page.status_code == 200 and text_by_id(page, "role-arn").endswith(f":role/{name}")
    token = csrf_of(page)

    # The trust policy: an invalid one is shown with its error, a valid one replaces it.
    bad = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole"}]}, indent=1)
    refused = root.post(f"{url}/trust", data={"csrf": token, "document": bad})
    assert refused.status_code == 400 and errors_shown(refused) == [
        "line 4, column 3: Missing required field Principal. [Statement 1]"]
    assert text_by_id(refused, "trust-policy") == json.dumps(TRUST, indent=2)  # the rest of the page is there
    other = {**TRUST, "Statement": [{**TRUST["Statement"][0], "Principal": {"Service": "ec2.amazonaws.com"}}]}
    assert root.post(f"{url}/trust", data={"csrf": token, "document": json.dumps(other)}).headers["location"] == url
    assert iam.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"] == other

    # An inline policy: added with the editor, read back into it, then deleted.
    assert root.post(f"{url}/inline", data={"csrf": token, "policy": "reads", "document": json.dumps(S3_READ)}).status_code == 303
    assert iam.get_role_policy(RoleName=name, PolicyName="reads")["PolicyDocument"] == S3_READ
    edit = root.get(f"{url}/inline", params={"policy": "reads"})
    assert json.loads(editor_text(edit)) == S3_READ

    # A managed policy attached by ARN; a tag added.
    assert root.post(f"{url}/attach", data={"csrf": token, "arn": managed}).status_code == 303
    assert root.post(f"{url}/tag", data={"csrf": token, "key": "env", "value": "test 1"}).status_code == 303
    page = root.get(url)
    assert re.findall(r'class="inline-link">([^<]*)<', page.text) == ["reads"]
    assert managed in page.text
    assert re.findall(r'class="tag-key">([^<]*)</td><td class="tag-value">([^<]*)<', page.text) == [
        ("env", "test 1"), ("team", "blue")]

    # Deleting a role that still has policies: AWS's DeleteConflict, on the role's page.
    conflict = root.post(f"{url}/delete", data={"csrf": token})
    assert conflict.status_code == 409 and text_by_id(conflict, "error").startswith("DeleteConflict")
    assert text_by_id(conflict, "role-arn").endswith(f":role/{name}")

    assert root.post(f"{url}/detach", data={"csrf": token, "arn": managed}).status_code == 303
    assert root.post(f"{url}/inline/delete", data={"csrf": token, "policy": "reads"}).status_code == 303
    assert root.post(f"{url}/untag", data={"csrf": token, "key": "env"}).status_code == 303
    assert iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"] == []
    assert iam.list_role_policies(RoleName=name)["PolicyNames"] == []
    assert iam.list_role_tags(RoleName=name)["Tags"] == [{"Key": "team", "Value": "blue"}]
    deleted = root.post(f"{url}/delete", data={"csrf": token})
    assert deleted.status_code == 303 and deleted.headers["location"] == "/console/roles"
    with pytest.raises(ClientError):
        iam.get_role(RoleName=name)


def test_an_invalid_inline_policy_is_shown_with_its_error_and_kept(server: ServerInfo, root: httpx.Client) -> None:
    name = make_role(server)
    text = '{"Version": "2012-10-17",\n "Statement": {"Effect": "Allow", "Action": "s3:GetObject"}}'
    answer = root.post(f"/console/roles/{name}/inline", data={"csrf": csrf(root), "policy": "p", "document": text})
    assert answer.status_code == 400
    assert errors_shown(answer) == ["line 2, column 15: Policy statement must contain resources. [Statement 1]"]
    assert editor_text(answer) == text
    assert server.client("iam").list_role_policies(RoleName=name)["PolicyNames"] == []


def test_a_part_the_principal_may_not_read_shows_its_error_and_the_rest(server: ServerInfo) -> None:
    name = make_role(server, Description="visible")
    client, _ = signed_in(server, allow(["iam:GetRole", "iam:ListRolePolicies", "iam:ListAttachedRolePolicies"]))
    with closing(client):
        page = client.get(f"/console/roles/{name}")
        assert page.status_code == 200
        assert text_by_id(page, "tags-error").startswith("AccessDenied")
        assert text_by_id(page, "role-description") == "visible"
        assert 'id="inline-error"' not in page.text and 'id="attached-error"' not in page.text


# ---------------------------------------------------------------------------- managed policies
def test_policies_create_list_view_and_new_version(server: ServerInfo, root: httpx.Client) -> None:
    iam = server.client("iam")
    token = csrf(root)
    name = random_name("Managed")
    old_style = json.dumps({**S3_READ, "Version": "2008-10-17"})
    refused = root.post("/console/policies/new", data={"csrf": token, "name": name, "document": old_style})
    assert refused.status_code == 400 and errors_shown(refused)[0].startswith("line 1, column 13: ")

    created = root.post("/console/policies/new", data={"csrf": token, "name": name, "description": "reads",
                                                       "document": json.dumps(S3_READ)})
    assert created.status_code == 303
    arn = f"arn:aws:iam::{server.account_id}:policy/{name}"
    assert parse_qs(urlsplit(created.headers["location"]).query)["arn"] == [arn]

    listed = root.get("/console/policies", params={"q": name.lower()})
    assert re.findall(r'class="policy-link">([^<]*)<', listed.text) == [name]
    aws = root.get("/console/policies", params={"scope": "AWS", "q": "ReadOnlyAccess"})
    aws_names = re.findall(r'class="policy-link">([^<]*)<', aws.text)
    assert aws_names and all("readonlyaccess" in n.lower() for n in aws_names) and name not in aws_names
    assert "arn%3Aaws%3Aiam%3A%3Aaws%3Apolicy%2FReadOnlyAccess" in aws.text or 'id="policies-next"' in aws.text

    role = make_role(server)
    iam.attach_role_policy(RoleName=role, PolicyArn=arn)
    view = root.get(created.headers["location"])
    assert view.status_code == 200
    assert text_by_id(view, "policy-arn") == arn and text_by_id(view, "policy-default-version") == "v1"
    assert text_by_id(view, "policy-document-text") == json.dumps(S3_READ, indent=2)
    assert re.findall(r'class="entity-role">([^<]*)<', view.text) == [role]

    wider = {**S3_READ, "Statement": [{**S3_READ["Statement"][0], "Action": ["s3:GetObject", "s3:ListBucket"]}]}
    bad = root.post("/console/policies/version", data={"csrf": token, "arn": arn, "default": "1", "document": "{"})
    assert bad.status_code == 400 and errors_shown(bad) == [
        "line 1, column 2: Syntax errors in policy. Expecting property name enclosed in double quotes."]
    made = root.post("/console/policies/version", data={"csrf": token, "arn": arn, "default": "1", "document": json.dumps(wider)})
    assert made.status_code == 303
    policy = iam.get_policy(PolicyArn=arn)["Policy"]
    assert policy["DefaultVersionId"] == "v2"
    view = root.get(made.headers["location"])
    assert text_by_id(view, "policy-document-text") == json.dumps(wider, indent=2)


def test_a_policy_page_for_a_missing_policy_is_the_apis_error(server: ServerInfo, root: httpx.Client) -> None:
    answer = root.get("/console/policies/view", params={"arn": f"arn:aws:iam::{server.account_id}:policy/none-{random_name()}"})
    assert answer.status_code == 404 and text_by_id(answer, "error").startswith("NoSuchEntity")


def test_update_a_roles_description_and_max_session(server: ServerInfo) -> None:
    name = random_name("role")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{server.account_id}:root"}, "Action": "sts:AssumeRole"}]}
    iam = server.client("iam")
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))
    client = signed_in_as_root(server)
    try:
        token = csrf_of(client.get(f"/console/roles/{name}"))
        saved = client.post(f"/console/roles/{name}/update", data={"csrf": token, "description": "on call", "max_session": "7200"})
        assert saved.status_code == 303
        role = iam.get_role(RoleName=name)["Role"]
        assert role["Description"] == "on call" and role["MaxSessionDuration"] == 7200
        refused = client.post(f"/console/roles/{name}/update", data={"csrf": token, "description": "x", "max_session": "60"})
        assert refused.status_code == 400 and "ValidationError" in refused.text
    finally:
        client.close()
