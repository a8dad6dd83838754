"""The current IAM state of an account, read through the registered read actions (so the principal
must be allowed to read it: ``iam:GetAccountAuthorizationDetails``, ``iam:GetRole``,
``iam:ListPolicyTags``, ``iam:List*``/``iam:Get*`` of providers and instance profiles).

Results are typed dataclasses; :func:`wire` renders them with AWS's member names (the names the
XML and JSON encoders give them), so this module reads the shapes AWS documents, whatever the
action module calls its attributes. Policy documents come back URL-encoded, as AWS returns them.
Every list is read page by page, at most :data:`MAX_PAGES` pages.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from typing import Any, Callable
from urllib.parse import unquote

from opensts.iac.format import Account, Group, IacError, InstanceProfile, OidcProvider, Policy, Role, SamlProvider, User
from opensts.server.xml import result_fields

MAX_PAGES = 1000
PAGE = 1000
Invoke = Callable[[str, "dict[str, Any] | None"], Any]


def wire(value: Any, depth: int = 0) -> Any:
    """A result dataclass as AWS-named plain values (``None`` members left out)."""
    if depth > 32:
        raise IacError("a result nested too deep")
    if value is None or isinstance(value, (str, bool, int, float, datetime, bytes)):
        return value
    if isinstance(value, (list, tuple)):
        return [wire(item, depth + 1) for item in value]
    if isinstance(value, dict):
        return {str(k): wire(v, depth + 1) for k, v in value.items()}
    if dataclasses.is_dataclass(value):
        out = {}
        for attr, name in result_fields(type(value)):  # type: ignore[arg-type]  # a class is hashable
            item = getattr(value, attr)
            if item is not None:
                out[name] = wire(item, depth + 1)
        return out
    return value


def call(invoke: Invoke, action: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    result = wire(invoke(action, params or {}))
    return result if isinstance(result, dict) else {}


def pages(invoke: Invoke, action: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Every page of a paginated list action (Marker / IsTruncated)."""
    out = []
    marker = None
    for _ in range(MAX_PAGES):
        page = call(invoke, action, {**(params or {}), "MaxItems": PAGE, **({"Marker": marker} if marker else {})})
        out.append(page)
        if not page.get("IsTruncated"):
            return out
        marker = page.get("Marker")
    raise IacError(f"{action}: more than {MAX_PAGES} pages")


AWS_MANAGED_POLICY_PREFIX = "arn:aws:iam::aws:policy/"
SERVICE_LINKED_ROLE_PATH = "/aws-service-role/"


def document(encoded: str) -> Any:
    """A stored policy document (URL-encoded JSON, as AWS returns it) as a JSON value."""
    try:
        return json.loads(unquote(encoded))
    except ValueError:
        return unquote(encoded)


def tags(items: Any) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in items or []}


def read_account(invoke: Invoke, account_id: str, *, instance_profiles: bool) -> Account:
    """Everything IAM as code manages in the account, as the store holds it now."""
    account = Account(account_id)
    aliases = call(invoke, "ListAccountAliases").get("AccountAliases") or []
    account.alias = aliases[0] if aliases else None
    for page in pages(invoke, "GetAccountAuthorizationDetails"):
        for p in page.get("Policies") or []:
            if p["Arn"].startswith(AWS_MANAGED_POLICY_PREFIX):  # AWS's, in use here: not the account's to declare
                continue
            default = next((v for v in p.get("PolicyVersionList") or [] if v.get("IsDefaultVersion")), None)
            account.policies[p["PolicyName"]] = Policy(
                document(default["Document"]) if default else {}, p.get("Path", "/"), p.get("Description") or None,
            )
            account.policies[p["PolicyName"]].tags = _policy_tags(invoke, p["Arn"])
        for g in page.get("GroupDetailList") or []:
            account.groups[g["GroupName"]] = Group(
                g.get("Path", "/"), _inline(g.get("GroupPolicyList")), _attached(g.get("AttachedManagedPolicies")),
            )
        for u in page.get("UserDetailList") or []:
            account.users[u["UserName"]] = User(
                u.get("Path", "/"), set(u.get("GroupList") or []), _inline(u.get("UserPolicyList")),
                _attached(u.get("AttachedManagedPolicies")), _boundary(u.get("PermissionsBoundary")), tags(u.get("Tags")),
            )
        for r in page.get("RoleDetailList") or []:
            if r.get("Path", "/").startswith(SERVICE_LINKED_ROLE_PATH):  # made and removed by their service's actions
                continue
            role = call(invoke, "GetRole", {"RoleName": r["RoleName"]}).get("Role") or {}
            account.roles[r["RoleName"]] = Role(
                document(r["AssumeRolePolicyDocument"]), r.get("Path", "/"), role.get("Description") or None,
                int(role.get("MaxSessionDuration") or 3600), _inline(r.get("RolePolicyList")),
                _attached(r.get("AttachedManagedPolicies")), _boundary(r.get("PermissionsBoundary")), tags(r.get("Tags")),
            )
    for entry in call(invoke, "ListOpenIDConnectProviders").get("OpenIDConnectProviderList") or []:
        got = call(invoke, "GetOpenIDConnectProvider", {"OpenIDConnectProviderArn": entry["Arn"]})
        url = entry["Arn"].split(":oidc-provider/", 1)[-1]
        account.oidc_providers[url] = OidcProvider(
            url, list(got.get("ClientIDList") or []), list(got.get("ThumbprintList") or []), tags(got.get("Tags")),
        )
    for entry in call(invoke, "ListSAMLProviders").get("SAMLProviderList") or []:
        got = call(invoke, "GetSAMLProvider", {"SAMLProviderArn": entry["Arn"]})
        name = entry["Arn"].split(":saml-provider/", 1)[-1]
        account.saml_providers[name] = SamlProvider(got.get("SAMLMetadataDocument") or "", tags(got.get("Tags")))
    if instance_profiles:
        for page in pages(invoke, "ListInstanceProfiles"):
            for p in page.get("InstanceProfiles") or []:
                name = p["InstanceProfileName"]
                got = call(invoke, "GetInstanceProfile", {"InstanceProfileName": name}).get("InstanceProfile") or p
                roles = got.get("Roles") or []
                account.instance_profiles[name] = InstanceProfile(
                    got.get("Path", "/"), roles[0]["RoleName"] if roles else None, tags(got.get("Tags")),
                )
    return account


def _policy_tags(invoke: Invoke, policy_arn: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for page in pages(invoke, "ListPolicyTags", {"PolicyArn": policy_arn}):
        out.update(tags(page.get("Tags")))
    return out


def _inline(items: Any) -> dict[str, Any]:
    return {p["PolicyName"]: document(p["PolicyDocument"]) for p in items or []}


def _attached(items: Any) -> set[str]:
    return {p["PolicyArn"] for p in items or []}


def _boundary(value: Any) -> str | None:
    return value.get("PermissionsBoundaryArn") if isinstance(value, dict) else None


def access_key_ids(invoke: Invoke, user: str) -> list[str]:
    keys: list[str] = []
    for page in pages(invoke, "ListAccessKeys", {"UserName": user}):
        keys.extend(k["AccessKeyId"] for k in page.get("AccessKeyMetadata") or [])
    return keys
