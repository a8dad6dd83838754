"""The policy simulator and the message decoder over HTTP, against a real server."""

from __future__ import annotations

import html
import json
import re
from contextlib import closing

import httpx

from tests.authorize.conftest import authorize
from tests.conftest import ServerInfo, random_name
from tests.console.helpers import csrf_of, signed_in, signed_in_as_root
from tests.iam.conftest import allow, make_user

BUCKET = "arn:aws:s3:::reports"


def simulate(client: httpx.Client, **fields: str | list[str]) -> httpx.Response:
    page = client.get("/console/simulator")
    assert page.status_code == 200, page.text
    return client.post("/console/simulator", data={"csrf": csrf_of(page), **fields})


def text_of(page: httpx.Response, element_id: str) -> str:
    """The text of the element with this id (tags dropped, entities read)."""
    found = re.search(rf'id="{re.escape(element_id)}"[^>]*>(.*?)</(td|span|p|dd|pre|div)>', page.text, re.S)
    assert found, f"no #{element_id} in the page"
    return html.unescape(re.sub(r"<[^>]+>", "", found.group(1))).strip()


def marks(page: httpx.Response, element_id: str) -> list[str]:
    """The highlighted parts of the policy text with this id."""
    found = re.search(rf'<pre class="policy" id="{re.escape(element_id)}">(.*?)</pre>', page.text, re.S)
    assert found, f"no policy text #{element_id}"
    return [html.unescape(m) for m in re.findall(r"<mark>(.*?)</mark>", found.group(1), re.S)]


def test_principal_simulation_shows_decisions_and_highlights_the_matched_statements(server: ServerInfo) -> None:
    iam = server.client("iam")
    read = {"Sid": "ReadReports", "Effect": "Allow", "Action": "s3:GetObject", "Resource": f"{BUCKET}/*"}
    no_delete = {"Sid": "NoDelete", "Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*"}
    inline = {"Version": "2012-10-17", "Statement": [read, no_delete]}
    name, _ = make_user(server)
    iam.put_user_policy(UserName=name, PolicyName="reports", PolicyDocument=json.dumps(inline, indent=2))
    listing = {"Sid": "ListReports", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": BUCKET}
    managed = iam.create_policy(PolicyName=random_name("list"), PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [listing]}, indent=4))["Policy"]
    iam.attach_user_policy(UserName=name, PolicyArn=managed["Arn"])
    user_arn = iam.get_user(UserName=name)["User"]["Arn"]
    with closing(signed_in_as_root(server)) as client:
        assert user_arn in client.get("/console/simulator").text  # offered in the datalist
        page = simulate(client, mode="principal", principal=user_arn,
                        actions="s3:GetObject\ns3:DeleteObject\ns3:ListBucket\ns3:PutObject",
                        resources=f"{BUCKET}/2024/q1.csv")
        assert page.status_code == 200, page.text
        assert [text_of(page, f"decision-{i}") for i in range(1, 5)] == [
            "allowed", "explicitDeny", "implicitDeny", "implicitDeny"]
        assert text_of(page, "resource-1") == f"{BUCKET}/2024/q1.csv"
        assert (text_of(page, "policy-id-1-1"), text_of(page, "policy-type-1-1")) == ("reports", "user")
        assert [json.loads(m) for m in marks(page, "policy-text-1-1")] == [read]
        assert [json.loads(m) for m in marks(page, "policy-text-2-1")] == [no_delete]
        assert 'id="matched-3-1"' not in page.text and 'id="matched-4-1"' not in page.text  # ListBucket on an object: nothing matches
        bucket_page = simulate(client, mode="principal", principal=user_arn, actions="s3:ListBucket", resources=BUCKET)
        assert text_of(bucket_page, "decision-1") == "allowed"
        assert text_of(bucket_page, "policy-id-1-1") == managed["PolicyName"]
        assert text_of(bucket_page, "policy-type-1-1") == "user-managed"
        assert [json.loads(m) for m in marks(bucket_page, "policy-text-1-1")] == [listing]
        assert not re.search(r"<script(?![^>]*\bsrc=)", page.text) and " style=" not in page.text


def test_group_policies_and_the_boundary_are_read_as_the_signed_in_principal(server: ServerInfo) -> None:
    iam = server.client("iam")
    team = {"Sid": "TeamReads", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}
    edge = {"Sid": "Edge", "Effect": "Allow", "Action": "s3:Get*", "Resource": "*"}
    name, _ = make_user(server)
    group = random_name("group")
    iam.create_group(GroupName=group)
    iam.add_user_to_group(GroupName=group, UserName=name)
    iam.put_group_policy(GroupName=group, PolicyName="team", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [team]}, indent=1))
    boundary = iam.create_policy(PolicyName=random_name("edge"), PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [edge]}))["Policy"]
    iam.put_user_permissions_boundary(UserName=name, PermissionsBoundary=boundary["Arn"])
    user_arn = iam.get_user(UserName=name)["User"]["Arn"]
    with closing(signed_in_as_root(server)) as client:
        page = simulate(client, mode="principal", principal=user_arn, actions="s3:GetObject\ns3:PutObject")
        assert text_of(page, "decision-1") == "allowed" and text_of(page, "boundary-1") == "Permissions boundary: allows"
        assert text_of(page, "boundary-2") == "Permissions boundary: does not allow"
        matched = {(text_of(page, f"policy-id-1-{j}"), text_of(page, f"policy-type-1-{j}")): j for j in (1, 2)}
        assert set(matched) == {("team", "group"), (boundary["PolicyName"], "user-managed")}
        assert [json.loads(m) for m in marks(page, f"policy-text-1-{matched[('team', 'group')]}")] == [team]
        assert [json.loads(m) for m in marks(page, f"policy-text-1-{matched[(boundary['PolicyName'], 'user-managed')]}")] == [edge]
    # a principal who may simulate but not read the policies: the decision, and why the text is missing
    client, _ = signed_in(server, allow(["iam:SimulatePrincipalPolicy", "iam:List*", "iam:GetUser"]))
    with closing(client):
        page = simulate(client, mode="principal", principal=user_arn, actions="s3:GetObject")
        assert page.status_code == 200 and text_of(page, "decision-1") == "allowed"
        assert "The policy&#39;s text could not be read: AccessDenied" in page.text
        assert 'id="policy-text-1-1"' not in page.text


def test_a_missing_context_key_is_shown_and_giving_it_decides(server: ServerInfo) -> None:
    iam = server.client("iam")
    policy = allow("s3:GetObject", Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}})
    name, _ = make_user(server, policy)
    user_arn = iam.get_user(UserName=name)["User"]["Arn"]
    with closing(signed_in_as_root(server)) as client:
        page = simulate(client, mode="principal", principal=user_arn, actions="s3:GetObject")
        assert text_of(page, "decision-1") == "implicitDeny"
        assert text_of(page, "missing-1") == "aws:SourceIp"
        page = simulate(client, mode="principal", principal=user_arn, actions="s3:GetObject",
                        ctx_key=["aws:SourceIp", ""], ctx_type=["ip", "string"], ctx_values=["10.1.2.3", ""])
        assert text_of(page, "decision-1") == "allowed"
        assert text_of(page, "missing-1") == "none"
        assert 'value="aws:SourceIp"' in page.text  # the form keeps its rows
        page = simulate(client, mode="principal", principal=user_arn, actions="s3:GetObject",
                        ctx_key="aws:SourceIp", ctx_type="ip", ctx_values="192.0.2.1")
        assert text_of(page, "decision-1") == "implicitDeny"


def test_custom_policies_with_a_permissions_boundary(server: ServerInfo) -> None:
    identity = json.dumps(allow("s3:*"), indent=2)
    boundary = json.dumps(allow("s3:Get*"), indent=2)
    with closing(signed_in_as_root(server)) as client:
        page = simulate(client, mode="custom", policy=[identity, ""], boundary=boundary,
                        actions="s3:GetObject\ns3:PutObject", resources=f"{BUCKET}/a\n{BUCKET}/b")
        assert page.status_code == 200, page.text
        rows = [(text_of(page, f"action-{i}"), text_of(page, f"resource-{i}"), text_of(page, f"decision-{i}"))
                for i in range(1, 5)]
        assert rows == [("s3:GetObject", f"{BUCKET}/a", "allowed"), ("s3:GetObject", f"{BUCKET}/b", "allowed"),
                        ("s3:PutObject", f"{BUCKET}/a", "implicitDeny"), ("s3:PutObject", f"{BUCKET}/b", "implicitDeny")]
        assert text_of(page, "boundary-1") == "Permissions boundary: allows"
        assert text_of(page, "boundary-3") == "Permissions boundary: does not allow"
        matched = {text_of(page, f"policy-id-1-{j}"): j for j in (1, 2)}  # the identity policy's and the boundary's
        assert set(matched) == {"PolicyInputList.1", "PermissionsBoundaryPolicyInputList.1"}
        assert text_of(page, f"policy-type-1-{matched['PolicyInputList.1']}") == "none"
        assert [json.loads(m) for m in marks(page, f"policy-text-1-{matched['PolicyInputList.1']}")] == [
            allow("s3:*")["Statement"][0]]
        assert [json.loads(m) for m in marks(page, f"policy-text-1-{matched['PermissionsBoundaryPolicyInputList.1']}")] == [
            allow("s3:Get*")["Statement"][0]]
        # without the boundary, PutObject is allowed
        page = simulate(client, mode="custom", policy=identity, actions="s3:PutObject")
        assert text_of(page, "decision-1") == "allowed" and 'id="boundary-1"' not in page.text


def test_the_simulator_shows_the_apis_refusal_and_bounds_its_inputs(server: ServerInfo) -> None:
    target, _ = make_user(server)
    target_arn = server.client("iam").get_user(UserName=target)["User"]["Arn"]
    client, _ = signed_in(server, allow("iam:ListUsers"))
    with closing(client):
        page = simulate(client, mode="principal", principal=target_arn, actions="s3:GetObject")
        assert page.status_code == 403
        assert "AccessDenied" in page.text and "iam:SimulatePrincipalPolicy" in page.text
        assert 'id="actions"' in page.text  # the form stays, with what was typed
        assert "The roles could not be listed: AccessDenied" in page.text
        too_many = simulate(client, mode="custom", policy=json.dumps(allow("s3:*")),
                            actions="\n".join(f"s3:Get{i}" for i in range(51)))
        assert too_many.status_code == 400 and "At most 50 actions" in too_many.text
        no_csrf = client.post("/console/simulator", data={"mode": "custom", "actions": "s3:GetObject"})
        assert no_csrf.status_code == 403
        bad = simulate(client, mode="custom", policy="{not json", actions="s3:GetObject")
        assert bad.status_code == 403  # this user may not simulate at all: refused before the policy is read


def test_a_policy_that_does_not_parse_is_shown_with_the_form(server: ServerInfo) -> None:
    with closing(signed_in_as_root(server)) as client:
        bad = simulate(client, mode="custom", policy="{not json", actions="s3:GetObject")
        assert bad.status_code == 400 and "Invalid policy document PolicyInputList.1" in html.unescape(bad.text)
        assert "{not json</textarea>" in html.unescape(bad.text)


def test_decoding_a_denials_message(server: ServerInfo) -> None:
    name, creds = make_user(server, allow("ec2:DescribeInstances"))
    answer = authorize(server, creds)
    assert answer["decision"] == "Deny"
    user_arn = answer["principal"]["arn"]
    with closing(signed_in_as_root(server)) as client:
        form = client.get("/console/decode")
        assert form.status_code == 200
        page = client.post("/console/decode", data={"csrf": csrf_of(form), "message": f"  {answer['encodedMessage']}\n"})
        assert page.status_code == 200, page.text
        assert text_of(page, "decoded-allowed") == "no"
        assert text_of(page, "decoded-explicit-deny") == "no"
        assert text_of(page, "decoded-action") == "ec2:StopInstances"
        assert text_of(page, "decoded-principal").startswith(user_arn)
        assert "arn:aws:ec2:" in text_of(page, "decoded-resource")
        decoded = json.loads(text_of(page, "decoded-json"))
        assert decoded["context"]["principal"]["arn"] == user_arn and decoded["allowed"] is False
        conditions = page.text.split('id="decoded-conditions"')[1].split("</table>")[0]
        assert "aws:username" in conditions and name in conditions
        assert name in page.text
        link = re.search(r'href="(/console/simulator\?[^"]+)" id="simulate-request"', page.text)
        assert link, "no link to simulate the request"
        prefilled = client.get(html.unescape(link.group(1)))
        assert f'value="{user_arn}"' in prefilled.text and ">ec2:StopInstances</textarea>" in prefilled.text
        broken = answer["encodedMessage"][:-6]
        page = client.post("/console/decode", data={"csrf": csrf_of(form), "message": broken})
        assert page.status_code == 400 and "InvalidAuthorizationMessageException" in page.text
    client, _ = signed_in(server, allow("iam:ListUsers"))
    with closing(client):
        form = client.get("/console/decode")
        page = client.post("/console/decode", data={"csrf": csrf_of(form), "message": answer["encodedMessage"]})
        assert page.status_code == 403 and "sts:DecodeAuthorizationMessage" in page.text


def test_decoding_an_explicit_deny_lists_the_statement(server: ServerInfo) -> None:
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "ec2:*", "Resource": "*"},
        {"Sid": "NoStop", "Effect": "Deny", "Action": "ec2:StopInstances", "Resource": "*"}]}
    _, creds = make_user(server, policy)
    encoded = authorize(server, creds)["encodedMessage"]
    with closing(signed_in_as_root(server)) as client:
        form = client.get("/console/decode")
        page = client.post("/console/decode", data={"csrf": csrf_of(form), "message": encoded})
        assert text_of(page, "decoded-explicit-deny") == "yes"
        matched = page.text.split('id="decoded-matched"')[1].split("</dd>")[0]
        assert "NoStop" in matched and "DENY" in matched
