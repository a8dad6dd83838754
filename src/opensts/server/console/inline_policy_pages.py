"""Inline policies of users, groups and roles, edited in the JSON policy editor.

- ``GET /console/{users|groups|roles}/{name}/inline[?policy=]``: the editor, filled from
  GetUserPolicy / GetGroupPolicy / GetRolePolicy when a policy is named (else a template);
- ``POST`` the same path: the document is validated (``policy_positions.py``: errors with line and
  column, the text kept) and then Put{User,Group,Role}Policy adds or replaces it;
- ``POST .../inline/delete``: Delete{User,Group,Role}Policy.

One implementation for the three owners, as IAM's own actions are one per owner kind.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from opensts.server.console import security
from opensts.server.console.api_calls import ApiCallFailed
from opensts.server.console.iam_lists import policy_document
from opensts.server.console.role_pages import IDENTITY_TEMPLATE, Editor
from opensts.server.console.site import Console, Page


@dataclass(frozen=True)
class Owner:
    path: str  # "users"
    page: str  # the nav entry
    entity: str  # "User": UserName, GetUserPolicy, ...
    label: str


OWNERS = (Owner("users", "users", "User", "Users"), Owner("groups", "groups", "Group", "Groups"),
          Owner("roles", "roles", "Role", "Roles"))


def owner_url(owner: Owner, name: str, suffix: str = "") -> str:
    return f"/console/{owner.path}/{quote(name, safe='')}{suffix}"


def register(console: Console) -> None:
    for owner in OWNERS:
        _register_owner(console, owner)


def _register_owner(console: Console, owner: Owner) -> None:
    name_param = f"{owner.entity}Name"

    def context(name: str, policy: str) -> dict[str, Any]:
        return {"owner": owner, "owner_name": name, "policy": policy, "url": owner_url(owner, name)}

    @console.page(f"/console/{owner.path}/{{name}}/inline", name=owner.page)
    async def edit(page: Page) -> Response:
        name, policy = page.request.path_params["name"], (page.query.get("policy") or "")[:128]
        text = IDENTITY_TEMPLATE
        if policy:
            found = await page.call("iam", f"Get{owner.entity}Policy", {name_param: name, "PolicyName": policy})
            text = policy_document(str(found.get("PolicyDocument", "")))
        return page.render("inline_policy.html", editor=Editor(text, "identity"), **context(name, policy))

    @console.page(f"/console/{owner.path}/{{name}}/inline", name=owner.page, method="POST")
    async def put(page: Page) -> Response:
        name, policy = page.request.path_params["name"], page.form.get("policy", "")
        editor = await run_in_threadpool(Editor.checked, page.form.get("document", ""), "identity")
        if editor.problems:
            return page.render("inline_policy.html", 400, editor=editor, **context(name, policy))
        try:
            await page.call("iam", f"Put{owner.entity}Policy",
                            {name_param: name, "PolicyName": policy, "PolicyDocument": editor.text})
        except ApiCallFailed as failed:
            return page.render("inline_policy.html", failed.status, editor=editor, error=failed, **context(name, policy))
        return security.redirect(owner_url(owner, name))

    @console.page(f"/console/{owner.path}/{{name}}/inline/delete", name=owner.page, method="POST")
    async def delete(page: Page) -> Response:
        name = page.request.path_params["name"]
        await page.call("iam", f"Delete{owner.entity}Policy", {name_param: name, "PolicyName": page.form.get("policy", "")})
        return security.redirect(owner_url(owner, name))
