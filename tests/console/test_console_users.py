"""The console's users and groups pages over HTTP against a real server: lists (search, paging, the
account's own users only), detail pages, every write (with CSRF), AWS's errors on the page, the
secret of a new access key shown once. (The same in a real browser: test_console_users_browser.py.)"""

from __future__ import annotations

import base64
import html
import json
import re
from urllib.parse import quote

import httpx
import pyotp
import pytest
from botocore.exceptions import ClientError

from tests.conftest import Credentials, ServerInfo, random_name
from tests.console.helpers import PASSWORD, browser, csrf_of, sign_in, signed_in
from tests.iam.conftest import allow
from tests.iam.test_mfa import consecutive_codes, create_device
from tests.sts.outbound import new_account

READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
DOCUMENT = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}


@pytest.fixture
def admin(server: ServerInfo) -> httpx.Client:
    """A console signed in as a new user allowed every IAM action."""
    client, _ = signed_in(server, allow("iam:*"))
    return client


def text(page: httpx.Response) -> str:
    return html.unescape(page.text)


def post(client: httpx.Client, path: str, **fields: str) -> httpx.Response:
    """POST a console form, with the session's CSRF token (read from the users page)."""
    return client.post(path, data={"csrf": csrf_of(client.get("/console/users")), **fields})


def rows(page: httpx.Response, css_class: str) -> list[str]:
    return [html.unescape(name) for name in re.findall(rf'class="{css_class}" href="[^"]*">([^<]*)<', page.text)]


def user_path(name: str) -> str:
    return f"/console/users/{quote(name, safe='')}"


def new_user(server: ServerInfo) -> str:
    name = random_name("cu")
    server.client("iam").create_user(UserName=name)
    return name


# The users list


def test_create_user_then_find_it_by_a_case_insensitive_search(server: ServerInfo, admin: httpx.Client) -> None:
    name = random_name("Made")
    created = post(admin, "/console/users", UserName=name, Path="/team/")
    assert created.status_code == 303 and created.headers["location"] == user_path(name)
    assert server.client("iam").get_user(UserName=name)["User"]["Path"] == "/team/"
    found = admin.get("/console/users", params={"q": name.upper()[2:]})
    assert found.status_code == 200
    assert rows(found, "user-link") == [name]
    assert "/team/" in found.text
    none = admin.get("/console/users", params={"q": name + "-nobody"})
    assert rows(none, "user-link") == [] and 'id="users-empty"' in none.text


def test_names_with_every_allowed_character_work_in_links_and_forms(server: ServerInfo, admin: httpx.Client) -> None:
    name = f"a+b=c,d.e@f_g-{random_name()}"
    created = post(admin, "/console/users", UserName=name)
    assert created.status_code == 303 and created.headers["location"] == user_path(name)
    assert "%2B" in user_path(name) and "%40" in user_path(name)
    page = admin.get(created.headers["location"])
    assert page.status_code == 200 and re.search(rf'id="user-name">{re.escape(name)}<', page.text)
    assert post(admin, f"{user_path(name)}/tags", Key="k", Value="v").status_code == 303
    assert server.client("iam").list_user_tags(UserName=name)["Tags"] == [{"Key": "k", "Value": "v"}]
    assert rows(admin.get("/console/users", params={"q": name}), "user-link") == [name]


def test_create_user_error_is_shown_on_the_list_page(server: ServerInfo, admin: httpx.Client) -> None:
    name = new_user(server)
    again = post(admin, "/console/users", UserName=name)
    assert again.status_code == 409
    assert "EntityAlreadyExists" in again.text and 'id="error"' in again.text
    assert f'value="{name}"' in again.text  # the form keeps what was typed
    bad = post(admin, "/console/users", UserName="no spaces allowed")
    assert bad.status_code == 400 and "ValidationError" in bad.text


def test_users_list_pages_by_50_with_a_next_link(server: ServerInfo, admin: httpx.Client) -> None:
    iam = server.client("iam")
    have = len(iam.list_users(MaxItems=60)["Users"])
    for _ in range(max(0, 55 - have)):
        iam.create_user(UserName=random_name("pg"))
    first = admin.get("/console/users")
    names = rows(first, "user-link")
    assert len(names) == 50
    next_link = re.search(r'href="([^"]+)" id="next-page"', first.text)
    assert next_link is not None
    second = admin.get(html.unescape(next_link.group(1)))
    assert second.status_code == 200
    more = rows(second, "user-link")
    assert more and not set(more) & set(names)


def test_user_without_list_users_sees_the_access_denied(server: ServerInfo) -> None:
    client, name = signed_in(server, allow("iam:GetUser"))
    page = client.get("/console/users")
    assert page.status_code == 403
    assert "AccessDenied" in page.text and "iam:ListUsers" in page.text
    groups = client.get("/console/groups")
    assert groups.status_code == 403 and "iam:ListGroups" in groups.text
    mine = client.get(user_path(name))  # GetUser is allowed: the page shows, the other parts say why not
    assert mine.status_code == 200
    assert f"arn:aws:iam::{server.account_id}:user/{name}" in mine.text
    for part in ("groups", "attached-policies", "inline-policies", "access-keys", "mfa-devices", "tags", "login-profile"):
        assert re.search(rf'id="{part}-error"><strong>AccessDenied</strong>', mine.text), part


def test_list_shows_only_the_signed_in_accounts_users(server: ServerInfo, admin: httpx.Client) -> None:
    prefix = random_name("acct")
    other = new_account(server)
    server.client("iam", other.root).create_user(UserName=f"{prefix}-theirs")
    server.client("iam").create_user(UserName=f"{prefix}-ours")
    found = admin.get("/console/users", params={"q": prefix})
    assert rows(found, "user-link") == [f"{prefix}-ours"]
    assert admin.get(user_path(f"{prefix}-theirs")).status_code == 404


def test_a_post_without_the_csrf_token_is_refused(server: ServerInfo, admin: httpx.Client) -> None:
    name = random_name("csrf")
    refused = admin.post("/console/users", data={"UserName": name})
    assert refused.status_code == 403 and "CSRF" in refused.text
    wrong = admin.post("/console/users", data={"UserName": name, "csrf": "not-the-token"})
    assert wrong.status_code == 403
    victim = new_user(server)
    assert admin.post(f"{user_path(victim)}/delete", data={}).status_code == 403
    iam = server.client("iam")
    with pytest.raises(ClientError):
        iam.get_user(UserName=name)
    assert iam.get_user(UserName=victim)["User"]["UserName"] == victim


def test_signed_out_browser_is_sent_to_sign_in_and_cannot_post(server: ServerInfo) -> None:
    with browser(server) as client:
        assert client.get("/console/users").headers["location"] == "/console/signin"
        assert client.get("/console/groups/anything").headers["location"] == "/console/signin"
        assert client.post("/console/users", data={"UserName": "x"}).status_code == 403


# The user's page


def test_user_page_shows_each_part(server: ServerInfo, admin: httpx.Client) -> None:
    iam = server.client("iam")
    name = random_name("full")
    iam.create_user(UserName=name, Path="/ops/", Tags=[{"Key": "team", "Value": "blue"}])
    group = random_name("grp")
    iam.create_group(GroupName=group)
    iam.add_user_to_group(GroupName=group, UserName=name)
    iam.attach_user_policy(UserName=name, PolicyArn=READ_ONLY)
    iam.put_user_policy(UserName=name, PolicyName="reads", PolicyDocument=json.dumps(DOCUMENT))
    marked = {**DOCUMENT, "Statement": [{**DOCUMENT["Statement"][0], "Resource": "arn:aws:s3:::b/<b>blue</b>"}]}
    iam.put_user_policy(UserName=name, PolicyName="resources", PolicyDocument=json.dumps(marked))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    iam.create_login_profile(UserName=name, Password=PASSWORD)
    page = admin.get(user_path(name))
    assert page.status_code == 200
    body = text(page)
    assert re.search(rf'id="user-arn">arn:aws:iam::{server.account_id}:user/ops/{name}<', body)
    assert f'href="/console/groups/{group}">{group}<' in body
    assert READ_ONLY in body and "ReadOnlyAccess" in body
    assert 'id="inline-policy-name-1">reads<' in body
    assert '{\n  "Version": "2012-10-17",\n  "Statement": [\n    {\n      "Effect": "Allow"' in body  # decoded, pretty
    assert f'id="key-status-{key["AccessKeyId"]}">Active<' in body
    assert key["SecretAccessKey"] not in body
    assert 'id="mfa-none"' in body
    assert '<td class="tag-key">team</td><td class="tag-value">blue</td>' in body
    assert "&lt;b&gt;blue&lt;/b&gt;" in page.text and "<b>blue</b>" not in page.text  # user data is escaped
    assert re.search(r'id="login-profile-state">Enabled since', body)
    assert 'name="exists" value="1"' in body


def test_attach_and_detach_a_managed_policy(server: ServerInfo, admin: httpx.Client) -> None:
    name = new_user(server)
    iam = server.client("iam")
    done = post(admin, f"{user_path(name)}/policies/attach", PolicyArn=READ_ONLY)
    assert done.status_code == 303 and done.headers["location"] == user_path(name)
    assert [p["PolicyArn"] for p in iam.list_attached_user_policies(UserName=name)["AttachedPolicies"]] == [READ_ONLY]
    assert 'id="detach-ReadOnlyAccess"' in admin.get(user_path(name)).text
    missing = post(admin, f"{user_path(name)}/policies/attach", PolicyArn="arn:aws:iam::aws:policy/NoSuchPolicyHere")
    assert missing.status_code == 404 and "NoSuchEntity" in missing.text and 'id="user-arn"' in missing.text
    assert post(admin, f"{user_path(name)}/policies/detach", PolicyArn=READ_ONLY).status_code == 303
    assert iam.list_attached_user_policies(UserName=name)["AttachedPolicies"] == []
    assert 'id="detach-ReadOnlyAccess"' not in admin.get(user_path(name)).text


def test_a_new_access_keys_secret_is_shown_once(server: ServerInfo, admin: httpx.Client) -> None:
    name = new_user(server)
    created = post(admin, f"{user_path(name)}/access-keys")
    assert created.status_code == 200 and created.headers["cache-control"] == "no-store"
    key_id = re.search(r'id="access-key-id">([A-Z0-9]+)<', created.text).group(1)  # type: ignore[union-attr]
    secret = html.unescape(re.search(r'id="secret-access-key">([^<]+)<', created.text).group(1))  # type: ignore[union-attr]
    iam = server.client("iam")
    assert [k["AccessKeyId"] for k in iam.list_access_keys(UserName=name)["AccessKeyMetadata"]] == [key_id]
    works = server.client("sts", Credentials(key_id, secret)).get_caller_identity()  # the secret is the key's
    assert works["Arn"].endswith(f":user/{name}")
    again = admin.get(user_path(name))
    assert key_id in again.text and secret not in text(again) and 'id="secret-access-key"' not in again.text


def test_deactivate_activate_and_delete_an_access_key(server: ServerInfo, admin: httpx.Client) -> None:
    name = new_user(server)
    iam = server.client("iam")
    key_id = iam.create_access_key(UserName=name)["AccessKey"]["AccessKeyId"]
    assert post(admin, f"{user_path(name)}/access-keys/status", AccessKeyId=key_id, Status="Inactive").status_code == 303
    assert iam.list_access_keys(UserName=name)["AccessKeyMetadata"][0]["Status"] == "Inactive"
    page = admin.get(user_path(name))
    assert f'id="key-status-{key_id}">Inactive<' in page.text and f'id="key-activate-{key_id}"' in page.text
    assert post(admin, f"{user_path(name)}/access-keys/status", AccessKeyId=key_id, Status="Active").status_code == 303
    assert iam.list_access_keys(UserName=name)["AccessKeyMetadata"][0]["Status"] == "Active"
    assert post(admin, f"{user_path(name)}/access-keys/delete", AccessKeyId=key_id).status_code == 303
    assert iam.list_access_keys(UserName=name)["AccessKeyMetadata"] == []
    gone = post(admin, f"{user_path(name)}/access-keys/delete", AccessKeyId=key_id)
    assert gone.status_code == 404 and "NoSuchEntity" in gone.text


def test_set_up_enable_and_deactivate_an_mfa_device(server: ServerInfo, admin: httpx.Client) -> None:
    name = new_user(server)
    device = random_name("dev")
    setup = post(admin, f"{user_path(name)}/mfa", VirtualMFADeviceName=device)
    assert setup.status_code == 200
    png = re.search(r'id="mfa-qr"[^>]*src="data:image/png;base64,([^"]+)"', setup.text)
    assert png is not None and base64.b64decode(png.group(1)).startswith(b"\x89PNG\r\n\x1a\n")
    seed = re.search(r'<details id="mfa-seed-details">.*?id="mfa-seed">([A-Z2-7=]+)<', setup.text, re.S)
    assert seed is not None
    serial = f"arn:aws:iam::{server.account_id}:mfa/{device}"
    assert f'id="mfa-serial">{serial}<' in setup.text
    csrf = csrf_of(setup)
    form = {"csrf": csrf, "SerialNumber": serial, "seed": seed.group(1), "qr": png.group(1)}
    wrong = admin.post(f"{user_path(name)}/mfa/enable", data={**form, "AuthenticationCode1": "000000",
                                                              "AuthenticationCode2": "000001"})
    assert wrong.status_code >= 400 and 'id="error"' in wrong.text
    assert 'id="mfa-qr"' in wrong.text and seed.group(1) in wrong.text  # the same device, to try again
    code1, code2 = consecutive_codes(pyotp.TOTP(seed.group(1)))
    enabled = admin.post(f"{user_path(name)}/mfa/enable", data={**form, "AuthenticationCode1": code1,
                                                                "AuthenticationCode2": code2})
    assert enabled.status_code == 303 and enabled.headers["location"] == user_path(name)
    iam = server.client("iam")
    assert [d["SerialNumber"] for d in iam.list_mfa_devices(UserName=name)["MFADevices"]] == [serial]
    page = admin.get(user_path(name))
    assert serial in page.text and 'id="mfa-deactivate-1"' in page.text and seed.group(1) not in page.text
    assert post(admin, f"{user_path(name)}/mfa/deactivate", SerialNumber=serial).status_code == 303
    assert iam.list_mfa_devices(UserName=name)["MFADevices"] == []


def test_mfa_setup_keeps_a_tampered_seed_or_qr_off_the_page(server: ServerInfo, admin: httpx.Client) -> None:
    name = new_user(server)
    serial, _, _ = create_device(server.client("iam"))
    answer = post(admin, f"{user_path(name)}/mfa/enable", SerialNumber=serial, seed="<script>", qr='"><img src=x>',
                  AuthenticationCode1="000000", AuthenticationCode2="000001")
    assert answer.status_code >= 400
    assert 'id="mfa-qr"' not in answer.text and 'id="mfa-seed"' not in answer.text and "<script>" not in answer.text


def test_tag_and_untag_a_user(server: ServerInfo, admin: httpx.Client) -> None:
    name = new_user(server)
    iam = server.client("iam")
    assert post(admin, f"{user_path(name)}/tags", Key="cost-center", Value="42").status_code == 303
    assert iam.list_user_tags(UserName=name)["Tags"] == [{"Key": "cost-center", "Value": "42"}]
    page = admin.get(user_path(name))
    assert '<td class="tag-key">cost-center</td><td class="tag-value">42</td>' in page.text
    assert post(admin, f"{user_path(name)}/tags/delete", Key="cost-center").status_code == 303
    assert iam.list_user_tags(UserName=name)["Tags"] == []


def test_console_password_create_change_and_remove(server: ServerInfo, admin: httpx.Client) -> None:
    name = new_user(server)
    iam = server.client("iam")
    assert "No console password" in admin.get(user_path(name)).text
    assert post(admin, f"{user_path(name)}/password", Password=PASSWORD).status_code == 303
    assert iam.get_login_profile(UserName=name)["LoginProfile"]["PasswordResetRequired"] is False
    with browser(server) as other:
        assert sign_in(other, kind="user", account=server.account_id, username=name, password=PASSWORD).status_code == 303
    changed = post(admin, f"{user_path(name)}/password", Password="Another-pass-2!", exists="1",
                   PasswordResetRequired="1")
    assert changed.status_code == 303
    assert iam.get_login_profile(UserName=name)["LoginProfile"]["PasswordResetRequired"] is True
    assert "a new password is required" in admin.get(user_path(name)).text
    again = post(admin, f"{user_path(name)}/password", Password=PASSWORD)  # create when one exists
    assert again.status_code == 409 and "EntityAlreadyExists" in again.text
    assert post(admin, f"{user_path(name)}/password/delete").status_code == 303
    with pytest.raises(ClientError):
        iam.get_login_profile(UserName=name)


def test_delete_user_shows_the_conflict_until_it_is_bare(server: ServerInfo, admin: httpx.Client) -> None:
    name = new_user(server)
    iam = server.client("iam")
    key_id = iam.create_access_key(UserName=name)["AccessKey"]["AccessKeyId"]
    refused = post(admin, f"{user_path(name)}/delete")
    assert refused.status_code == 409
    assert re.search(r'id="error"><strong>DeleteConflict</strong>', refused.text)
    assert 'id="user-arn"' in refused.text  # the user's page, with the error
    iam.delete_access_key(UserName=name, AccessKeyId=key_id)
    deleted = post(admin, f"{user_path(name)}/delete")
    assert deleted.status_code == 303 and deleted.headers["location"] == "/console/users"
    gone = admin.get(user_path(name))
    assert gone.status_code == 404 and "NoSuchEntity" in gone.text


def test_add_to_and_remove_from_a_group_on_the_users_page(server: ServerInfo, admin: httpx.Client) -> None:
    name = new_user(server)
    group = random_name("grp")
    iam = server.client("iam")
    iam.create_group(GroupName=group)
    assert post(admin, f"{user_path(name)}/groups/add", GroupName=group).status_code == 303
    assert [g["GroupName"] for g in iam.list_groups_for_user(UserName=name)["Groups"]] == [group]
    assert f'id="group-remove-{group}"' in admin.get(user_path(name)).text
    assert post(admin, f"{user_path(name)}/groups/remove", GroupName=group).status_code == 303
    assert iam.list_groups_for_user(UserName=name)["Groups"] == []


# Groups


def test_groups_list_search_and_create(server: ServerInfo, admin: httpx.Client) -> None:
    name = random_name("Team")
    created = post(admin, "/console/groups", GroupName=name, Path="/eng/")
    assert created.status_code == 303 and created.headers["location"] == f"/console/groups/{name}"
    assert server.client("iam").get_group(GroupName=name)["Group"]["Path"] == "/eng/"
    found = admin.get("/console/groups", params={"q": name.lower()})
    assert found.status_code == 200 and rows(found, "group-link") == [name]
    assert rows(admin.get("/console/groups", params={"q": name + "-x"}), "group-link") == []
    again = post(admin, "/console/groups", GroupName=name)
    assert again.status_code == 409 and "EntityAlreadyExists" in again.text


def test_group_page_members_policies_and_delete(server: ServerInfo, admin: httpx.Client) -> None:
    iam = server.client("iam")
    group = random_name("grp")
    iam.create_group(GroupName=group)
    iam.put_group_policy(GroupName=group, PolicyName="inline-one", PolicyDocument=json.dumps(DOCUMENT))
    user = new_user(server)
    base = f"/console/groups/{group}"
    assert post(admin, f"{base}/members/add", UserName=user).status_code == 303
    assert post(admin, f"{base}/policies/attach", PolicyArn=READ_ONLY).status_code == 303
    page = admin.get(base)
    assert page.status_code == 200
    assert re.search(rf'id="group-arn">arn:aws:iam::{server.account_id}:group/{group}<', page.text)
    assert rows(page, "member-link") == [user]
    assert 'id="detach-ReadOnlyAccess"' in page.text and '>inline-one</a>' in page.text
    assert [u["UserName"] for u in iam.get_group(GroupName=group)["Users"]] == [user]
    nobody = post(admin, f"{base}/members/add", UserName="no-such-user-here")
    assert nobody.status_code == 404 and "NoSuchEntity" in nobody.text and 'id="group-arn"' in nobody.text
    refused = post(admin, f"{base}/delete")
    assert refused.status_code == 409 and "DeleteConflict" in refused.text
    assert post(admin, f"{base}/members/remove", UserName=user).status_code == 303
    assert post(admin, f"{base}/policies/detach", PolicyArn=READ_ONLY).status_code == 303
    iam.delete_group_policy(GroupName=group, PolicyName="inline-one")
    after = admin.get(base)
    assert 'id="members-none"' in after.text and 'id="detach-ReadOnlyAccess"' not in after.text
    assert post(admin, f"{base}/delete").status_code == 303
    assert admin.get(base).status_code == 404


def test_group_page_shows_a_denied_part_inline(server: ServerInfo) -> None:
    group = random_name("grp")
    server.client("iam").create_group(GroupName=group)
    client, _ = signed_in(server, allow(["iam:GetGroup", "iam:ListGroupPolicies"]))
    page = client.get(f"/console/groups/{group}")
    assert page.status_code == 200
    assert re.search(r'id="attached-policies-error"><strong>AccessDenied</strong>', page.text)
    assert 'id="inline-policies"' in page.text
    denied = post(client, f"/console/groups/{group}/delete")
    assert denied.status_code == 403 and "AccessDenied" in denied.text and "iam:DeleteGroup" in denied.text



# The search's bounds (the list function alone, with a stand-in for the signed API calls)


class FakeListUsers:
    """A page whose ListUsers answers from ``total`` users, ``MaxItems`` at a time; records the calls."""

    def __init__(self, total: int, query: dict[str, str]) -> None:
        self.names = [f"user-{i:05d}{'-match' if i % 3 == 0 else ''}" for i in range(total)]
        self.query = query
        self.calls: list[dict[str, str]] = []

    async def call(self, service: str, action: str, params: dict[str, str]) -> dict:
        self.calls.append(params)
        start = int(params.get("Marker", "0"))
        end = start + int(params["MaxItems"])
        found = {"Users": [{"UserName": n} for n in self.names[start:end]], "IsTruncated": end < len(self.names)}
        return {**found, "Marker": str(end)} if found["IsTruncated"] else found


def run_listing(fake: FakeListUsers):  # type: ignore[no-untyped-def]
    import asyncio

    from opensts.server.console.iam_lists import listing

    return asyncio.run(listing(fake, "/console/users", "ListUsers", "Users", "UserName"))  # type: ignore[arg-type]


def test_search_stops_after_a_page_of_matches_and_continues_from_there() -> None:
    from opensts.server.console.iam_lists import PAGE_SIZE, SEARCH_PAGE_ITEMS

    fake = FakeListUsers(1000, {"q": "MATCH"})
    found = run_listing(fake)
    assert all("-match" in row["UserName"] for row in found.rows) and len(found.rows) >= PAGE_SIZE
    assert len(fake.calls) == 2 and found.scanned == 2 * SEARCH_PAGE_ITEMS
    assert found.next_url == "/console/users?q=MATCH&marker=200"
    after = run_listing(FakeListUsers(1000, {"q": "MATCH", "marker": "200"}))
    assert after.rows[0]["UserName"] == "user-00201-match"


def test_search_reads_a_bounded_number_of_api_pages() -> None:
    from opensts.server.console.iam_lists import SEARCH_MAX_PAGES, SEARCH_PAGE_ITEMS

    fake = FakeListUsers(50_000, {"q": "nothing-has-this"})
    found = run_listing(fake)
    assert found.rows == [] and len(fake.calls) == SEARCH_MAX_PAGES
    assert found.next_url is not None and found.next_url.endswith(f"marker={SEARCH_MAX_PAGES * SEARCH_PAGE_ITEMS}")


def test_without_a_search_one_api_page_of_50() -> None:
    fake = FakeListUsers(120, {})
    found = run_listing(fake)
    assert [c["MaxItems"] for c in fake.calls] == ["50"] and len(found.rows) == 50
    assert found.next_url == "/console/users?marker=50"
    last = run_listing(FakeListUsers(120, {"marker": "100"}))
    assert len(last.rows) == 20 and last.next_url is None
