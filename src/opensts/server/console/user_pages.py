"""Users and groups: lists with search and paging, detail pages, and their writes.

Every read and write is an IAM action called as the signed-in principal (``page.call``); a
principal without permission sees AWS's error. Pages (``name="users"`` / ``name="groups"``):

- ``GET /console/users``: ListUsers, 50 a page (``?marker=`` → the "Next" link); ``?q=`` keeps the
  users whose name contains it (case-insensitive), reading at most ``SEARCH_MAX_PAGES`` API pages
  of ``SEARCH_PAGE_ITEMS`` per console page. ``POST /console/users``: CreateUser (UserName, Path).
- ``GET /console/users/{name}``: GetUser, then (side by side) ListGroupsForUser,
  ListAttachedUserPolicies, ListUserPolicies (+ GetUserPolicy for each, its URL-encoded document
  decoded and pretty-printed), ListAccessKeys, ListMFADevices, ListUserTags and GetLoginProfile. A
  part that fails shows its error inline; the rest of the page still renders.
- ``POST /console/users/{name}/...``: ``groups/add|remove`` (AddUserToGroup, RemoveUserFromGroup),
  ``policies/attach|detach`` (AttachUserPolicy, DetachUserPolicy), ``access-keys`` (CreateAccessKey:
  the secret is shown once, in this POST's answer), ``access-keys/status`` (UpdateAccessKey),
  ``access-keys/delete`` (DeleteAccessKey), ``mfa`` (CreateVirtualMFADevice: its QR code and seed,
  and the form for two consecutive codes), ``mfa/enable`` (EnableMFADevice), ``mfa/deactivate``
  (DeactivateMFADevice), ``tags`` / ``tags/delete`` (TagUser, UntagUser), ``password``
  (CreateLoginProfile or UpdateLoginProfile), ``password/delete`` (DeleteLoginProfile), ``delete``
  (DeleteUser).
- ``GET /console/groups``: ListGroups, with the same search and paging; ``POST``: CreateGroup.
- ``GET /console/groups/{name}``: GetGroup (members), ListAttachedGroupPolicies, ListGroupPolicies;
  ``POST /console/groups/{name}/...``: ``members/add|remove`` (AddUserToGroup,
  RemoveUserFromGroup), ``policies/attach|detach`` (AttachGroupPolicy, DetachGroupPolicy),
  ``delete`` (DeleteGroup).

A successful write redirects (303) to the page to show; a failed one shows that page again with the
action's error and status.

Deviations from AWS's console: deleting a user or a group is the bare DeleteUser/DeleteGroup, so
AWS's DeleteConflict is shown while anything is still attached (AWS's console removes the
attachments first); "deactivate" of an MFA device is DeactivateMFADevice only (the virtual device
stays, unassigned; AWS's console also deletes it); the search is a substring filter over bounded
pages of ListUsers/ListGroups (IAM has no name filter), so a search page may hold more or fewer
than 50 rows, and "Next" continues the scan.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from starlette.responses import Response

from opensts.server.console import security
from opensts.server.console.iam_lists import MAX_QUERY, listing, policy_document, when
from opensts.server.console.api_calls import ApiCallFailed
from opensts.server.console.site import Console, Page

DETAIL_ITEMS = 100  # MaxItems of each list on a detail page ("more not shown" beyond)
MAX_INLINE_DOCUMENTS = 20  # inline policy documents fetched for one page
_SEED = re.compile(r"[A-Z2-7=]{16,256}")
_BASE64 = re.compile(r"[A-Za-z0-9+/=]{1,65536}")

Form = dict[str, str]
Params = dict[str, str]


@dataclass
class Part:
    """One part of a detail page: its action's result, or the error the action answered."""

    result: dict[str, Any] = field(default_factory=dict)
    error: ApiCallFailed | None = None

    def items(self, key: str) -> list[Any]:
        value = self.result.get(key, [])
        return value if isinstance(value, list) else []

    @property
    def truncated(self) -> bool:
        return bool(self.result.get("IsTruncated"))


@dataclass
class InlinePolicy:
    name: str
    document: str | None
    error: ApiCallFailed | None


def user_url(name: str) -> str:
    return f"/console/users/{quote(name, safe='')}"


def group_url(name: str) -> str:
    return f"/console/groups/{quote(name, safe='')}"


async def part(page: Page, action: str, params: Params) -> Part:
    try:
        return Part(await page.call("iam", action, params))
    except ApiCallFailed as failed:
        return Part(error=failed)


async def inline_documents(page: Page, action: str, owner: Params, names: list[Any]) -> list[InlinePolicy]:
    """Each inline policy's document (the first ``MAX_INLINE_DOCUMENTS``), or its error."""
    wanted = [str(name) for name in names[:MAX_INLINE_DOCUMENTS]]
    parts = await asyncio.gather(*(part(page, action, {**owner, "PolicyName": name}) for name in wanted))
    return [
        InlinePolicy(name, None if got.error else policy_document(str(got.result.get("PolicyDocument", ""))), got.error)
        for name, got in zip(wanted, parts)
    ]


async def user_page(page: Page, name: str, error: ApiCallFailed | None = None) -> Response:
    """The user's page (GetUser lets its error through: no user, no page); with ``error``, a failed write's."""
    user = (await page.call("iam", "GetUser", {"UserName": name})).get("User", {})
    who = {"UserName": name}
    most = {**who, "MaxItems": str(DETAIL_ITEMS)}
    groups, attached, inline, keys, mfa, tags, login = await asyncio.gather(
        part(page, "ListGroupsForUser", most), part(page, "ListAttachedUserPolicies", most),
        part(page, "ListUserPolicies", most), part(page, "ListAccessKeys", most),
        part(page, "ListMFADevices", most), part(page, "ListUserTags", most), part(page, "GetLoginProfile", who),
    )
    if login.error is not None and login.error.code == "NoSuchEntity":
        login = Part()  # no console password
    documents = await inline_documents(page, "GetUserPolicy", who, inline.items("PolicyNames"))
    return page.render(
        "user.html", error.status if error else 200, error=error, user=user, name=name, url=user_url(name),
        groups=groups, attached=attached, inline=inline, documents=documents, keys=keys, mfa=mfa, tags=tags,
        login=login, when=when, group_url=group_url,
    )


async def group_page(page: Page, name: str, error: ApiCallFailed | None = None) -> Response:
    """The group's page (GetGroup lets its error through); with ``error``, a failed write's."""
    most = {"GroupName": name, "MaxItems": str(DETAIL_ITEMS)}
    found = await page.call("iam", "GetGroup", most)
    attached, inline = await asyncio.gather(
        part(page, "ListAttachedGroupPolicies", most), part(page, "ListGroupPolicies", most),
    )
    return page.render(
        "group.html", error.status if error else 200, error=error, group=found.get("Group", {}),
        members=found.get("Users", []), members_truncated=bool(found.get("IsTruncated")), name=name,
        url=group_url(name), attached=attached, inline=inline, when=when, user_url=user_url,
    )


def mfa_setup(page: Page, name: str, serial: str, seed: str, qr: str, error: ApiCallFailed | None = None) -> Response:
    return page.render("user_mfa_setup.html", error.status if error else 200, error=error, name=name,
                       url=user_url(name), serial=serial, seed=seed, qr=qr)


def _tag(name: str, form: Form) -> Params:
    return {"UserName": name, "Tags.member.1.Key": form.get("Key", ""), "Tags.member.1.Value": form.get("Value", "")}


# Writes that redirect to the detail page when done: (path suffix, action, its parameters from the form).
USER_WRITES: tuple[tuple[str, str, Callable[[str, Form], Params]], ...] = (
    ("groups/add", "AddUserToGroup", lambda n, f: {"UserName": n, "GroupName": f.get("GroupName", "")}),
    ("groups/remove", "RemoveUserFromGroup", lambda n, f: {"UserName": n, "GroupName": f.get("GroupName", "")}),
    ("policies/attach", "AttachUserPolicy", lambda n, f: {"UserName": n, "PolicyArn": f.get("PolicyArn", "").strip()}),
    ("policies/detach", "DetachUserPolicy", lambda n, f: {"UserName": n, "PolicyArn": f.get("PolicyArn", "")}),
    ("access-keys/status", "UpdateAccessKey",
     lambda n, f: {"UserName": n, "AccessKeyId": f.get("AccessKeyId", ""), "Status": f.get("Status", "")}),
    ("access-keys/delete", "DeleteAccessKey", lambda n, f: {"UserName": n, "AccessKeyId": f.get("AccessKeyId", "")}),
    ("mfa/deactivate", "DeactivateMFADevice", lambda n, f: {"UserName": n, "SerialNumber": f.get("SerialNumber", "")}),
    ("tags", "TagUser", _tag),
    ("tags/delete", "UntagUser", lambda n, f: {"UserName": n, "TagKeys.member.1": f.get("Key", "")}),
    ("password/delete", "DeleteLoginProfile", lambda n, f: {"UserName": n}),
)
GROUP_WRITES: tuple[tuple[str, str, Callable[[str, Form], Params]], ...] = (
    ("members/add", "AddUserToGroup", lambda n, f: {"GroupName": n, "UserName": f.get("UserName", "").strip()}),
    ("members/remove", "RemoveUserFromGroup", lambda n, f: {"GroupName": n, "UserName": f.get("UserName", "")}),
    ("policies/attach", "AttachGroupPolicy",
     lambda n, f: {"GroupName": n, "PolicyArn": f.get("PolicyArn", "").strip()}),
    ("policies/detach", "DetachGroupPolicy", lambda n, f: {"GroupName": n, "PolicyArn": f.get("PolicyArn", "")}),
)


def register(console: Console) -> None:
    register_users(console)
    register_user_secrets(console)
    register_groups(console)


def register_users(console: Console) -> None:
    @console.page("/console/users", name="users")
    async def users(page: Page, error: ApiCallFailed | None = None) -> Response:
        found = await listing(page, "/console/users", "ListUsers", "Users", "UserName")
        return page.render("users.html", error.status if error else 200, error=error, listing=found,
                           q=(page.query.get("q") or "")[:MAX_QUERY], when=when, user_url=user_url,
                           form=page.form if error else {})

    @console.page("/console/users", name="users", method="POST")
    async def create_user(page: Page) -> Response:
        name = page.form.get("UserName", "").strip()
        path = page.form.get("Path", "").strip()
        try:
            await page.call("iam", "CreateUser", {"UserName": name, **({"Path": path} if path else {})})
        except ApiCallFailed as failed:
            return await users(page, failed)
        return security.redirect(user_url(name))

    @console.page("/console/users/{name}", name="users")
    async def user(page: Page) -> Response:
        return await user_page(page, page.request.path_params["name"])

    @console.page("/console/users/{name}/delete", name="users", method="POST")
    async def delete_user(page: Page) -> Response:
        name = page.request.path_params["name"]
        try:
            await page.call("iam", "DeleteUser", {"UserName": name})
        except ApiCallFailed as failed:
            return await user_page(page, name, failed)
        return security.redirect("/console/users")

    @console.page("/console/users/{name}/password", name="users", method="POST")
    async def password(page: Page) -> Response:
        name = page.request.path_params["name"]
        action = "UpdateLoginProfile" if page.form.get("exists") == "1" else "CreateLoginProfile"
        reset = "true" if page.form.get("PasswordResetRequired") else "false"
        return await user_write(page, action, {"UserName": name, "Password": page.form.get("Password", ""),
                                               "PasswordResetRequired": reset})

    for suffix, action, params_of in USER_WRITES:
        _declare_write(console, f"/console/users/{{name}}/{suffix}", "users", action, params_of, user_write)


def register_user_secrets(console: Console) -> None:
    """The writes whose answer shows a secret once: a new access key, a new MFA device's seed."""

    @console.page("/console/users/{name}/access-keys", name="users", method="POST")
    async def create_access_key(page: Page) -> Response:
        name = page.request.path_params["name"]
        try:
            created = await page.call("iam", "CreateAccessKey", {"UserName": name})
        except ApiCallFailed as failed:
            return await user_page(page, name, failed)
        return page.render("user_access_key.html", name=name, url=user_url(name), key=created.get("AccessKey", {}))

    @console.page("/console/users/{name}/mfa", name="users", method="POST")
    async def create_mfa_device(page: Page) -> Response:
        name = page.request.path_params["name"]
        device_name = page.form.get("VirtualMFADeviceName", "").strip() or name
        try:
            created = await page.call("iam", "CreateVirtualMFADevice", {"VirtualMFADeviceName": device_name})
        except ApiCallFailed as failed:
            return await user_page(page, name, failed)
        device = created.get("VirtualMFADevice", {})
        try:
            seed = base64.b64decode(str(device.get("Base32StringSeed", ""))).decode("ascii")
        except (binascii.Error, UnicodeDecodeError):
            seed = ""
        return mfa_setup(page, name, str(device.get("SerialNumber", "")), seed, str(device.get("QRCodePNG", "")))

    @console.page("/console/users/{name}/mfa/enable", name="users", method="POST")
    async def enable_mfa_device(page: Page) -> Response:
        name, form = page.request.path_params["name"], page.form
        serial = form.get("SerialNumber", "")
        try:
            await page.call("iam", "EnableMFADevice", {
                "UserName": name, "SerialNumber": serial,
                "AuthenticationCode1": form.get("AuthenticationCode1", "").strip(),
                "AuthenticationCode2": form.get("AuthenticationCode2", "").strip(),
            })
        except ApiCallFailed as failed:  # the same device again, to try other codes
            seed, qr = form.get("seed", ""), form.get("qr", "")
            return mfa_setup(page, name, serial, seed if _SEED.fullmatch(seed) else "",
                             qr if _BASE64.fullmatch(qr) else "", failed)
        return security.redirect(user_url(name))


def register_groups(console: Console) -> None:
    @console.page("/console/groups", name="groups")
    async def groups(page: Page, error: ApiCallFailed | None = None) -> Response:
        found = await listing(page, "/console/groups", "ListGroups", "Groups", "GroupName")
        return page.render("groups.html", error.status if error else 200, error=error, listing=found,
                           q=(page.query.get("q") or "")[:MAX_QUERY], when=when, group_url=group_url,
                           form=page.form if error else {})

    @console.page("/console/groups", name="groups", method="POST")
    async def create_group(page: Page) -> Response:
        name = page.form.get("GroupName", "").strip()
        path = page.form.get("Path", "").strip()
        try:
            await page.call("iam", "CreateGroup", {"GroupName": name, **({"Path": path} if path else {})})
        except ApiCallFailed as failed:
            return await groups(page, failed)
        return security.redirect(group_url(name))

    @console.page("/console/groups/{name}", name="groups")
    async def group(page: Page) -> Response:
        return await group_page(page, page.request.path_params["name"])

    @console.page("/console/groups/{name}/delete", name="groups", method="POST")
    async def delete_group(page: Page) -> Response:
        name = page.request.path_params["name"]
        try:
            await page.call("iam", "DeleteGroup", {"GroupName": name})
        except ApiCallFailed as failed:
            return await group_page(page, name, failed)
        return security.redirect("/console/groups")

    for suffix, action, params_of in GROUP_WRITES:
        _declare_write(console, f"/console/groups/{{name}}/{suffix}", "groups", action, params_of, group_write)


async def user_write(page: Page, action: str, params: Params) -> Response:
    """``action``, then the user's page: redirected to when done, shown with the error when not."""
    name = page.request.path_params["name"]
    try:
        await page.call("iam", action, params)
    except ApiCallFailed as failed:
        return await user_page(page, name, failed)
    return security.redirect(user_url(name))


async def group_write(page: Page, action: str, params: Params) -> Response:
    name = page.request.path_params["name"]
    try:
        await page.call("iam", action, params)
    except ApiCallFailed as failed:
        return await group_page(page, name, failed)
    return security.redirect(group_url(name))


def _declare_write(
    console: Console, path: str, area: str, action: str, params_of: Callable[[str, Form], Params],
    write: Callable[[Page, str, Params], Awaitable[Response]],
) -> None:
    @console.page(path, name=area, method="POST")
    async def endpoint(page: Page) -> Response:
        return await write(page, action, params_of(page.request.path_params["name"], page.form))
