"""Roles, managed policies, and the JSON policy editor.

Every read and write is an IAM action called as the signed-in principal (``page.call``); a denied
list or a missing role is shown as the error page with the action's status. The detail pages are
made of several calls: when one of the secondary ones fails (say ``iam:ListRoleTags`` is denied),
that part shows its error and the rest is still shown.

Roles
- ``GET /console/roles``: ListRoles (MaxItems 50, ``Marker`` → "Next"); ``?q=`` keeps the roles whose
  name holds ``q`` (case-insensitive), reading at most :data:`~opensts.server.console.iam_lists.SEARCH_MAX_PAGES` API pages per screen.
- ``GET|POST /console/roles/new``: CreateRole (name, path, description, MaxSessionDuration, trust policy).
- ``GET /console/roles/{name}``: GetRole, ListRolePolicies, ListAttachedRolePolicies, ListRoleTags.
- ``POST /console/roles/{name}/update``: UpdateRole (description, MaxSessionDuration);
  ``/trust``: UpdateAssumeRolePolicy; ``/attach``, ``/detach``:
  AttachRolePolicy, DetachRolePolicy; ``/tag``, ``/untag``: TagRole, UntagRole; ``/delete``: DeleteRole;
  inline policies are edited in ``inline_policy_pages.py`` (as users' and groups' are).

Managed policies
- ``GET /console/policies``: ListPolicies (``?scope=Local`` by default, ``AWS`` or ``All``), search, paging.
- ``GET|POST /console/policies/new``: CreatePolicy.
- ``GET /console/policies/view?arn=``: GetPolicy, GetPolicyVersion (the default version),
  ListEntitiesForPolicy; ``POST /console/policies/version``: CreatePolicyVersion (SetAsDefault).

The editor
- ``POST /console/policies/validate`` (``document``, ``kind``; the session's CSRF token): JSON
  ``{"errors": [{"line", "column", "message"}]}`` from the engine's validator
  (``policy_positions.py``): a pure function of the text, the one thing here that calls no action.
  ``static/policy_editor.js`` calls it as the user types; every form validates again on submit, so the
  pages work without script.

Deviations from AWS's console: a role named ``new`` is reached only through the API (its page's path
is the create form's); the role list's search reads a bounded number of API pages per screen (``iam_lists.py``) and then offers "Next" (AWS's console loads every role);
the editor has no visual mode.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from opensts.server.console import security
from opensts.server.console.iam_lists import listing, policy_document, when
from opensts.server.console.api_calls import ApiCallFailed
from opensts.server.console.policy_positions import KINDS, Problem, check_policy
from opensts.server.console.site import Console, Page

DETAIL_ITEMS = "100"  # one API page of inline policies, attached policies, tags, entities
MAX_VALIDATE_CHARS = 131_072  # longer texts are not handed to the validator
SCOPES = ("Local", "AWS", "All")

TRUST_TEMPLATE = """{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Principal": {"AWS": "arn:aws:iam::ACCOUNT_ID:root"},
      "Action": "sts:AssumeRole"
    }
  ]
}"""
IDENTITY_TEMPLATE = """{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Action": [],
      "Resource": "*"
    }
  ]
}"""


@dataclass
class Editor:
    """The JSON policy editor's state on a page: its text, grammar, and the errors to show."""

    text: str
    kind: str
    problems: list[Problem] = field(default_factory=list)

    @classmethod
    def checked(cls, text: str, kind: str) -> "Editor":
        return cls(text, kind, validate(text, kind))


def validate(text: str, kind: str) -> list[Problem]:
    if len(text) > MAX_VALIDATE_CHARS:
        return [Problem(1, 1, f"The document is longer than {MAX_VALIDATE_CHARS} characters.")]
    return check_policy(text, kind)


def role_url(name: str, suffix: str = "") -> str:
    return f"/console/roles/{quote(name, safe='')}{suffix}"


def policy_url(arn: str) -> str:
    return "/console/policies/view?" + urlencode({"arn": arn})


async def attempt(page: Page, action: str, params: dict[str, str]) -> tuple[dict[str, Any], ApiCallFailed | None]:
    """``action``'s result, or {} and its error (a part of a detail page that shows its own failure)."""
    try:
        return await page.call("iam", action, params), None
    except ApiCallFailed as failed:
        return {}, failed


def editor_error(page: Page, template: str, editor: Editor, **context: Any) -> Response:
    return page.render(template, 400, editor=editor, **context)


def register(console: Console) -> None:
    # ------------------------------------------------------------------------------- roles
    @console.page("/console/roles", name="roles")
    async def roles(page: Page) -> Response:
        found = await listing(page, "/console/roles", "ListRoles", "Roles", "RoleName")
        q = page.query.get("q") or ""
        for role in found.rows:
            role["url"], role["created"] = role_url(str(role.get("RoleName", ""))), when(role.get("CreateDate"))
        return page.render("roles.html", roles=found.rows, q=q, scanned=found.scanned, next_url=found.next_url)

    @console.page("/console/roles/new", name="roles")
    async def new_role(page: Page) -> Response:
        identity = await page.call("sts", "GetCallerIdentity")
        text = TRUST_TEMPLATE.replace("ACCOUNT_ID", str(identity.get("Account", "")))
        return page.render("role_new.html", editor=Editor(text, "trust"), form={"path": "/"})

    @console.page("/console/roles/new", name="roles", method="POST")
    async def create_role(page: Page) -> Response:
        form = page.form
        editor = await run_in_threadpool(Editor.checked, form.get("document", ""), "trust")
        if editor.problems:
            return editor_error(page, "role_new.html", editor, form=form)
        params = {"RoleName": form.get("name", ""), "AssumeRolePolicyDocument": editor.text}
        for name, param in (("path", "Path"), ("description", "Description"), ("max_session", "MaxSessionDuration")):
            if form.get(name, "").strip():
                params[param] = form[name].strip()
        try:
            created = await page.call("iam", "CreateRole", params)
        except ApiCallFailed as failed:
            return page.render("role_new.html", failed.status, editor=editor, form=form, error=failed)
        return security.redirect(role_url(str(created.get("Role", {}).get("RoleName", params["RoleName"]))))

    @console.page("/console/roles/{name}", name="roles")
    async def role(page: Page) -> Response:
        return await role_page(page)

    async def role_page(page: Page, status: int = 200, editor: Editor | None = None,
                        error: ApiCallFailed | None = None) -> Response:
        """The role's page: GetRole (its failure is the page's), then each part's list."""
        name = page.request.path_params["name"]
        found = (await page.call("iam", "GetRole", {"RoleName": name})).get("Role", {})
        found["created"] = when(found.get("CreateDate"))
        trust = policy_document(str(found.get("AssumeRolePolicyDocument", "")))
        inline, inline_error = await attempt(page, "ListRolePolicies", {"RoleName": name, "MaxItems": DETAIL_ITEMS})
        attached, attached_error = await attempt(page, "ListAttachedRolePolicies", {"RoleName": name, "MaxItems": DETAIL_ITEMS})
        tags, tags_error = await attempt(page, "ListRoleTags", {"RoleName": name, "MaxItems": DETAIL_ITEMS})
        for policy in attached.get("AttachedPolicies") or []:
            policy["url"] = policy_url(str(policy.get("PolicyArn", "")))
        return page.render(
            "role.html", status, role=found, trust=trust, editor=editor or Editor(trust, "trust"),
            editing=editor is not None, url=role_url(name), error=error,
            inline=[{"name": n, "url": role_url(name, "/inline?" + urlencode({"policy": n}))} for n in inline.get("PolicyNames") or []],
            inline_more=bool(inline.get("IsTruncated")), inline_error=inline_error,
            attached=attached.get("AttachedPolicies") or [], attached_error=attached_error,
            tags=tags.get("Tags") or [], tags_error=tags_error,
        )

    async def role_write(page: Page, action: str, params: dict[str, str], done: str | None = None) -> Response:
        """A write from the role's page: back to the page (PRG), or the page with the action's error."""
        name = page.request.path_params["name"]
        try:
            await page.call("iam", action, {"RoleName": name, **params})
        except ApiCallFailed as failed:
            return await role_page(page, failed.status, error=failed)
        return security.redirect(done or role_url(name))

    @console.page("/console/roles/{name}/update", name="roles", method="POST")
    async def update_role(page: Page) -> Response:
        params = {"Description": page.form.get("description", "")[:1000]}
        if page.form.get("max_session", "").strip():
            params["MaxSessionDuration"] = page.form["max_session"].strip()[:8]
        return await role_write(page, "UpdateRole", params)

    @console.page("/console/roles/{name}/trust", name="roles", method="POST")
    async def update_trust(page: Page) -> Response:
        editor = await run_in_threadpool(Editor.checked, page.form.get("document", ""), "trust")
        if editor.problems:
            return await role_page(page, 400, editor=editor)
        try:
            await page.call("iam", "UpdateAssumeRolePolicy", {"RoleName": page.request.path_params["name"],
                                                              "PolicyDocument": editor.text})
        except ApiCallFailed as failed:
            return await role_page(page, failed.status, editor=editor, error=failed)
        return security.redirect(role_url(page.request.path_params["name"]))

    @console.page("/console/roles/{name}/attach", name="roles", method="POST")
    async def attach(page: Page) -> Response:
        return await role_write(page, "AttachRolePolicy", {"PolicyArn": page.form.get("arn", "").strip()})

    @console.page("/console/roles/{name}/detach", name="roles", method="POST")
    async def detach(page: Page) -> Response:
        return await role_write(page, "DetachRolePolicy", {"PolicyArn": page.form.get("arn", "")})

    @console.page("/console/roles/{name}/tag", name="roles", method="POST")
    async def tag(page: Page) -> Response:
        return await role_write(page, "TagRole", {"Tags.member.1.Key": page.form.get("key", ""),
                                                  "Tags.member.1.Value": page.form.get("value", "")})

    @console.page("/console/roles/{name}/untag", name="roles", method="POST")
    async def untag(page: Page) -> Response:
        return await role_write(page, "UntagRole", {"TagKeys.member.1": page.form.get("key", "")})

    @console.page("/console/roles/{name}/delete", name="roles", method="POST")
    async def delete_role(page: Page) -> Response:
        return await role_write(page, "DeleteRole", {}, done="/console/roles")

    # --------------------------------------------------------------------- managed policies
    @console.page("/console/policies", name="policies")
    async def policies(page: Page) -> Response:
        scope = page.query.get("scope") or "Local"
        scope = scope if scope in SCOPES else "Local"
        found = await listing(page, "/console/policies", "ListPolicies", "Policies", "PolicyName",
                              {"Scope": scope}, keep={"scope": scope})
        q = page.query.get("q") or ""
        for policy in found.rows:
            policy["url"], policy["updated"] = policy_url(str(policy.get("Arn", ""))), when(policy.get("UpdateDate"))
        return page.render("policies.html", policies=found.rows, q=q, scope=scope, scopes=SCOPES, scanned=found.scanned,
                           next_url=found.next_url)

    @console.page("/console/policies/new", name="policies")
    async def new_policy(page: Page) -> Response:
        return page.render("policy_new.html", editor=Editor(IDENTITY_TEMPLATE, "managed"), form={"path": "/"})

    @console.page("/console/policies/new", name="policies", method="POST")
    async def create_policy(page: Page) -> Response:
        form = page.form
        editor = await run_in_threadpool(Editor.checked, form.get("document", ""), "managed")
        if editor.problems:
            return editor_error(page, "policy_new.html", editor, form=form)
        params = {"PolicyName": form.get("name", ""), "PolicyDocument": editor.text}
        for name, param in (("path", "Path"), ("description", "Description")):
            if form.get(name, "").strip():
                params[param] = form[name].strip()
        try:
            created = await page.call("iam", "CreatePolicy", params)
        except ApiCallFailed as failed:
            return page.render("policy_new.html", failed.status, editor=editor, form=form, error=failed)
        return security.redirect(policy_url(str(created.get("Policy", {}).get("Arn", ""))))

    @console.page("/console/policies/view", name="policies")
    async def policy(page: Page) -> Response:
        return await policy_page(page, page.query.get("arn") or "")

    async def policy_page(page: Page, arn: str, status: int = 200, editor: Editor | None = None,
                          error: ApiCallFailed | None = None) -> Response:
        """The policy's page: GetPolicy (its failure is the page's), its default version, its attachments."""
        found = (await page.call("iam", "GetPolicy", {"PolicyArn": arn})).get("Policy", {})
        found["created"], found["updated"] = when(found.get("CreateDate")), when(found.get("UpdateDate"))
        version, version_error = await attempt(page, "GetPolicyVersion", {"PolicyArn": arn,
                                                                          "VersionId": str(found.get("DefaultVersionId", ""))})
        document = policy_document(str(version.get("PolicyVersion", {}).get("Document", "")))
        entities, entities_error = await attempt(page, "ListEntitiesForPolicy", {"PolicyArn": arn, "MaxItems": DETAIL_ITEMS})
        for listed in entities.get("PolicyRoles") or []:
            listed["url"] = role_url(str(listed.get("RoleName", "")))
        return page.render(
            "policy.html", status, policy=found, arn=arn, document=document, version_error=version_error,
            editor=editor or Editor(document, "managed"), editing=editor is not None, error=error,
            roles=entities.get("PolicyRoles") or [], users=entities.get("PolicyUsers") or [],
            groups=entities.get("PolicyGroups") or [], entities_error=entities_error,
            entities_more=bool(entities.get("IsTruncated")),
        )

    @console.page("/console/policies/version", name="policies", method="POST")
    async def create_version(page: Page) -> Response:
        arn = page.form.get("arn", "")
        editor = await run_in_threadpool(Editor.checked, page.form.get("document", ""), "managed")
        if editor.problems:
            return await policy_page(page, arn, 400, editor=editor)
        params = {"PolicyArn": arn, "PolicyDocument": editor.text,
                  "SetAsDefault": "true" if page.form.get("default") else "false"}
        try:
            await page.call("iam", "CreatePolicyVersion", params)
        except ApiCallFailed as failed:
            return await policy_page(page, arn, failed.status, editor=editor, error=failed)
        return security.redirect(policy_url(arn))

    # --------------------------------------------------------------------------- the editor
    @console.page("/console/policies/validate", name="policies", method="POST")
    async def validate_document(page: Page) -> Response:
        kind = page.form.get("kind", "")
        if kind not in KINDS:
            return security.harden(JSONResponse({"error": f"kind must be one of {', '.join(KINDS)}"}, 400))
        problems = await run_in_threadpool(validate, page.form.get("document", ""), kind)
        return security.harden(JSONResponse({"errors": [problem.as_json() for problem in problems]}))
