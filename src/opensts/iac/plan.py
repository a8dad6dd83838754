"""The difference between what a file declares and what an account holds, as a list of changes, each
the exact IAM calls that make it.

``+`` creates, ``~`` updates, ``-`` deletes; deletions only with ``prune`` (an account that a file
declares is then owned by it: whatever the account holds that the file does not declare is removed).
Changes are ordered so that each call finds what it needs: creations and updates of providers,
policies, groups, users, roles, instance profiles (in that order: a user joins a declared group, a
trust policy names a declared provider), then deletions in the reverse order (an entity's policies,
memberships, access keys and MFA devices are removed before the entity).

What AWS cannot update in place is refused with the field's path rather than planned as a silent
replacement: a role's, managed policy's or instance profile's path, a managed policy's
description. (Remove the entity from the file, apply with ``--prune``, then declare it again.)

Access keys are never declared nor exported: ``access_key: true`` asks for one key when the user
has none (a user that has one keeps it; no apply ever deletes a key of a declared user).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable

from opensts.iac.format import Account, IacError
from opensts.iac.state import Invoke, access_key_ids, call, pages
from opensts.identity import arn as arns

INSTANCE_PROFILE_ACTIONS = (
    "CreateInstanceProfile", "GetInstanceProfile", "AddRoleToInstanceProfile", "RemoveRoleFromInstanceProfile",
    "DeleteInstanceProfile", "TagInstanceProfile",
)
NEWER = "need a newer OpenSTS"


@dataclass
class Step:
    action: str  # an IAM action, or "CreateAccount" (the CLI's own, not an IAM action)
    params: dict[str, Any]
    user: str | None = None  # CreateAccessKey: whose key (the secret is handed to the caller)


@dataclass
class Change:
    symbol: str  # "+", "~", "-"
    kind: str  # "user", "role", ...
    name: str
    details: list[str] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)

    def add(self, action: str, detail: str | None = None, user: str | None = None, /, **params: Any) -> None:
        self.steps.append(Step(action, params, user))
        if detail:
            self.details.append(detail)


@dataclass
class AccountPlan:
    account_id: str
    changes: list[Change]
    create_account: bool = False


def _tags(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in sorted(tags.items())]


def _doc(document: Any) -> str:
    return json.dumps(document, separators=(",", ":"))


def _short(value: Any, limit: int = 80) -> str:
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"), sort_keys=True)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def plan_account(
    desired: Account, current: Account, invoke: Invoke | None, *, prune: bool, has: Callable[[str], bool],
) -> list[Change]:
    """The changes that make ``current`` into ``desired`` (``invoke``: None for an account that does not
    exist yet, so that nothing more is read)."""
    w = desired.where
    changes: list[Change] = []

    def tagging(change: Change, kind: str, key: dict[str, Any], have: dict[str, str], want: dict[str, str]) -> None:
        if not has(f"Tag{kind}") and want != have:
            raise IacError(f"tags of this kind {NEWER} (no Tag{kind})", f"{change.kind}s.{change.name}.tags")
        changed = {k: v for k, v in want.items() if have.get(k) != v}
        removed = sorted(set(have) - set(want))
        if changed:
            change.add(f"Tag{kind}", "tags: " + ", ".join(f"{k}={v}" for k, v in sorted(changed.items())), **key, Tags=_tags(changed))
        if removed:
            change.add(f"Untag{kind}", "untag: " + ", ".join(removed), **key, TagKeys=removed)

    def policies(change: Change, kind: str, key: dict[str, Any], have_inline: dict[str, Any], want_inline: dict[str, Any],
                 have_managed: set[str], want_managed: set[str]) -> None:
        for name, doc in sorted(want_inline.items()):
            if have_inline.get(name) != doc:
                change.add(f"Put{kind}Policy", f"{'~' if name in have_inline else '+'} inline policy {name}",
                           **key, PolicyName=name, PolicyDocument=_doc(doc))
        for arn in sorted(want_managed - have_managed):
            change.add(f"Attach{kind}Policy", f"+ managed policy {arn}", **key, PolicyArn=arn)
        for name in sorted(set(have_inline) - set(want_inline)):
            change.add(f"Delete{kind}Policy", f"- inline policy {name}", **key, PolicyName=name)
        for arn in sorted(have_managed - want_managed):
            change.add(f"Detach{kind}Policy", f"- managed policy {arn}", **key, PolicyArn=arn)

    def boundary(change: Change, kind: str, key: dict[str, Any], have: str | None, want: str | None) -> None:
        if want and want != have:
            change.add(f"Put{kind}PermissionsBoundary", f"boundary: {want}", **key, PermissionsBoundary=want)
        elif have and not want:
            change.add(f"Delete{kind}PermissionsBoundary", f"- boundary {have}", **key)

    def done(change: Change) -> None:
        if change.steps:
            changes.append(change)

    # --- Account alias
    if desired.alias and desired.alias != current.alias:
        if not has("CreateAccountAlias"):
            raise IacError(f"account aliases {NEWER} (no CreateAccountAlias)", f"{w}alias")
        change = Change("~" if current.alias else "+", "alias", desired.alias)
        if current.alias and has("DeleteAccountAlias"):
            change.add("DeleteAccountAlias", None, AccountAlias=current.alias)
        change.add("CreateAccountAlias", None, AccountAlias=desired.alias)
        done(change)

    # --- OIDC providers
    for url, want in sorted(desired.oidc_providers.items()):
        arn = arns.oidc_provider_arn(desired.account_id, url)
        have = current.oidc_providers.get(url)
        if have is None:
            change = Change("+", "oidc provider", f"https://{url}")
            change.add("CreateOpenIDConnectProvider", None, Url=f"https://{url}", ClientIDList=want.client_ids,
                       ThumbprintList=want.thumbprints, **({"Tags": _tags(want.tags)} if want.tags else {}))
            done(change)
            continue
        change = Change("~", "oidc provider", f"https://{url}")
        key = {"OpenIDConnectProviderArn": arn}
        for cid in want.client_ids:
            if cid not in have.client_ids:
                change.add("AddClientIDToOpenIDConnectProvider", f"+ client id {cid}", **key, ClientID=cid)
        for cid in have.client_ids:
            if cid not in want.client_ids:
                change.add("RemoveClientIDFromOpenIDConnectProvider", f"- client id {cid}", **key, ClientID=cid)
        if sorted(t.lower() for t in want.thumbprints) != sorted(t.lower() for t in have.thumbprints):
            change.add("UpdateOpenIDConnectProviderThumbprint", f"thumbprints: {', '.join(want.thumbprints) or '(none)'}",
                       **key, ThumbprintList=want.thumbprints)
        tagging(change, "OpenIDConnectProvider", key, have.tags, want.tags)
        done(change)

    # --- SAML providers
    for name, want_saml in sorted(desired.saml_providers.items()):
        have_saml = current.saml_providers.get(name)
        if have_saml is None:
            change = Change("+", "saml provider", name)
            change.add("CreateSAMLProvider", None, Name=name, SAMLMetadataDocument=want_saml.metadata,
                       **({"Tags": _tags(want_saml.tags)} if want_saml.tags else {}))
            done(change)
            continue
        change = Change("~", "saml provider", name)
        key = {"SAMLProviderArn": arns.saml_provider_arn(desired.account_id, name)}
        if have_saml.metadata.strip() != want_saml.metadata.strip():
            change.add("UpdateSAMLProvider", "metadata document", **key, SAMLMetadataDocument=want_saml.metadata)
        tagging(change, "SAMLProvider", key, have_saml.tags, want_saml.tags)
        done(change)

    # --- Customer managed policies
    for name, want_p in sorted(desired.policies.items()):
        have_p = current.policies.get(name)
        arn = arns.policy_arn(desired.account_id, name, want_p.path)
        if have_p is None:
            change = Change("+", "policy", name)
            change.add("CreatePolicy", None, PolicyName=name, Path=want_p.path, PolicyDocument=_doc(want_p.document),
                       **({"Description": want_p.description} if want_p.description else {}),
                       **({"Tags": _tags(want_p.tags)} if want_p.tags else {}))
            done(change)
            continue
        if have_p.path != want_p.path:
            raise IacError(f"a managed policy's path cannot change ({have_p.path} in the store)", f"{w}policies.{name}.path")
        if (have_p.description or None) != (want_p.description or None):
            raise IacError("a managed policy's description cannot change (AWS has no update for it)", f"{w}policies.{name}.description")
        change = Change("~", "policy", name)
        if have_p.document != want_p.document:
            assert invoke is not None
            versions = [v for page in pages(invoke, "ListPolicyVersions", {"PolicyArn": arn}) for v in page.get("Versions") or []]
            old = sorted((v for v in versions if not v.get("IsDefaultVersion")), key=lambda v: v.get("CreateDate"))
            if len(versions) >= 5 and old:  # AWS keeps at most 5 versions: make room
                change.add("DeletePolicyVersion", f"- version {old[0]['VersionId']}", PolicyArn=arn, VersionId=old[0]["VersionId"])
            change.add("CreatePolicyVersion", f"document: {_short(want_p.document)}", PolicyArn=arn,
                       PolicyDocument=_doc(want_p.document), SetAsDefault=True)
        tagging(change, "Policy", {"PolicyArn": arn}, have_p.tags, want_p.tags)
        done(change)

    # --- Groups
    for name, want_g in sorted(desired.groups.items()):
        have_g = current.groups.get(name)
        key = {"GroupName": name}
        if have_g is None:
            change = Change("+", "group", name)
            change.add("CreateGroup", None, GroupName=name, Path=want_g.path)
            policies(change, "Group", key, {}, want_g.inline, set(), want_g.managed)
            done(change)
            continue
        change = Change("~", "group", name)
        if have_g.path != want_g.path:
            change.add("UpdateGroup", f"path: {have_g.path} -> {want_g.path}", GroupName=name, NewPath=want_g.path)
        policies(change, "Group", key, have_g.inline, want_g.inline, have_g.managed, want_g.managed)
        done(change)

    # --- Users
    for name, want_u in sorted(desired.users.items()):
        have_u = current.users.get(name)
        key = {"UserName": name}
        if have_u is None:
            change = Change("+", "user", name)
            change.add("CreateUser", None, UserName=name, Path=want_u.path,
                       **({"PermissionsBoundary": want_u.boundary} if want_u.boundary else {}),
                       **({"Tags": _tags(want_u.tags)} if want_u.tags else {}))
            for group in sorted(want_u.groups):
                change.add("AddUserToGroup", f"+ group {group}", GroupName=group, UserName=name)
            policies(change, "User", key, {}, want_u.inline, set(), want_u.managed)
            if want_u.access_key:
                change.add("CreateAccessKey", "+ access key", name, UserName=name)
            done(change)
            continue
        change = Change("~", "user", name)
        if have_u.path != want_u.path:
            change.add("UpdateUser", f"path: {have_u.path} -> {want_u.path}", UserName=name, NewPath=want_u.path)
        for group in sorted(want_u.groups - have_u.groups):
            change.add("AddUserToGroup", f"+ group {group}", GroupName=group, UserName=name)
        for group in sorted(have_u.groups - want_u.groups):
            change.add("RemoveUserFromGroup", f"- group {group}", GroupName=group, UserName=name)
        policies(change, "User", key, have_u.inline, want_u.inline, have_u.managed, want_u.managed)
        boundary(change, "User", key, have_u.boundary, want_u.boundary)
        tagging(change, "User", key, have_u.tags, want_u.tags)
        if want_u.access_key and invoke is not None and not access_key_ids(invoke, name):
            change.add("CreateAccessKey", "+ access key", name, UserName=name)
        done(change)

    # --- Roles
    for name, want_r in sorted(desired.roles.items()):
        have_r = current.roles.get(name)
        key = {"RoleName": name}
        if have_r is None:
            change = Change("+", "role", name)
            change.add("CreateRole", None, RoleName=name, Path=want_r.path, AssumeRolePolicyDocument=_doc(want_r.trust),
                       MaxSessionDuration=want_r.max_session_duration,
                       **({"Description": want_r.description} if want_r.description else {}),
                       **({"PermissionsBoundary": want_r.boundary} if want_r.boundary else {}),
                       **({"Tags": _tags(want_r.tags)} if want_r.tags else {}))
            policies(change, "Role", key, {}, want_r.inline, set(), want_r.managed)
            done(change)
            continue
        if have_r.path != want_r.path:
            raise IacError(f"a role's path cannot change ({have_r.path} in the store)", f"{w}roles.{name}.path")
        change = Change("~", "role", name)
        if have_r.trust != want_r.trust:
            change.add("UpdateAssumeRolePolicy", f"trust: {_short(want_r.trust)}", RoleName=name, PolicyDocument=_doc(want_r.trust))
        if (have_r.description or "") != (want_r.description or "") or have_r.max_session_duration != want_r.max_session_duration:
            detail = []
            if (have_r.description or "") != (want_r.description or ""):
                detail.append(f"description: {want_r.description or '(none)'}")
            if have_r.max_session_duration != want_r.max_session_duration:
                detail.append(f"max session duration: {have_r.max_session_duration} -> {want_r.max_session_duration}")
            change.add("UpdateRole", "; ".join(detail), RoleName=name, Description=want_r.description or "",
                       MaxSessionDuration=want_r.max_session_duration)
        policies(change, "Role", key, have_r.inline, want_r.inline, have_r.managed, want_r.managed)
        boundary(change, "Role", key, have_r.boundary, want_r.boundary)
        tagging(change, "Role", key, have_r.tags, want_r.tags)
        done(change)

    # --- Instance profiles
    if desired.instance_profiles and not all(has(a) for a in INSTANCE_PROFILE_ACTIONS):
        raise IacError(f"instance profiles {NEWER}", f"{w}instance_profiles")
    for name, want_i in sorted(desired.instance_profiles.items()):
        have_i = current.instance_profiles.get(name)
        key = {"InstanceProfileName": name}
        if have_i is None:
            change = Change("+", "instance profile", name)
            change.add("CreateInstanceProfile", None, InstanceProfileName=name, Path=want_i.path,
                       **({"Tags": _tags(want_i.tags)} if want_i.tags else {}))
            if want_i.role:
                change.add("AddRoleToInstanceProfile", f"role: {want_i.role}", **key, RoleName=want_i.role)
            done(change)
            continue
        if have_i.path != want_i.path:
            raise IacError(f"an instance profile's path cannot change ({have_i.path} in the store)", f"{w}instance_profiles.{name}.path")
        change = Change("~", "instance profile", name)
        if have_i.role != want_i.role:
            if have_i.role:
                change.add("RemoveRoleFromInstanceProfile", f"- role {have_i.role}", **key, RoleName=have_i.role)
            if want_i.role:
                change.add("AddRoleToInstanceProfile", f"+ role {want_i.role}", **key, RoleName=want_i.role)
        tagging(change, "InstanceProfile", key, have_i.tags, want_i.tags)
        done(change)

    if prune:
        assert invoke is not None or not _anything(current)
        changes.extend(_deletions(desired, current, invoke, has))
    return changes


def _anything(account: Account) -> bool:
    return bool(account.users or account.groups or account.roles or account.policies or account.instance_profiles
                or account.oidc_providers or account.saml_providers)


def _deletions(desired: Account, current: Account, invoke: Invoke | None, has: Callable[[str], bool]) -> list[Change]:
    out: list[Change] = []
    account = desired.account_id
    for name, have_i in sorted(current.instance_profiles.items()):
        if name not in desired.instance_profiles:
            change = Change("-", "instance profile", name)
            if have_i.role:
                change.add("RemoveRoleFromInstanceProfile", None, InstanceProfileName=name, RoleName=have_i.role)
            change.add("DeleteInstanceProfile", None, InstanceProfileName=name)
            out.append(change)
    for name, have_r in sorted(current.roles.items()):
        if name in desired.roles:
            continue
        # Its instance profiles: undeclared ones are deleted above; a declared one cannot name it
        # (format.py), so its update takes the role out first.
        change = Change("-", "role", name)
        for policy in sorted(have_r.inline):
            change.add("DeleteRolePolicy", None, RoleName=name, PolicyName=policy)
        for arn in sorted(have_r.managed):
            change.add("DetachRolePolicy", None, RoleName=name, PolicyArn=arn)
        change.add("DeleteRole", None, RoleName=name)
        out.append(change)
    for name, have_u in sorted(current.users.items()):
        if name in desired.users:
            continue
        assert invoke is not None
        change = Change("-", "user", name)
        for key_id in access_key_ids(invoke, name):
            change.add("DeleteAccessKey", f"- access key {key_id}", UserName=name, AccessKeyId=key_id)
        for page in pages(invoke, "ListMFADevices", {"UserName": name}):
            for device in page.get("MFADevices") or []:
                change.add("DeactivateMFADevice", f"- MFA device {device['SerialNumber']}", UserName=name,
                           SerialNumber=device["SerialNumber"])
        if has("GetLoginProfile") and _has_login_profile(invoke, name):
            change.add("DeleteLoginProfile", "- login profile", UserName=name)
        # The user's other credentials: DeleteUser refuses while any is left (DeleteConflict).
        for page in pages(invoke, "ListSSHPublicKeys", {"UserName": name}):
            for ssh in page.get("SSHPublicKeys") or []:
                change.add("DeleteSSHPublicKey", f"- SSH public key {ssh['SSHPublicKeyId']}", UserName=name,
                           SSHPublicKeyId=ssh["SSHPublicKeyId"])
        for page in pages(invoke, "ListSigningCertificates", {"UserName": name}):
            for cert in page.get("Certificates") or []:
                change.add("DeleteSigningCertificate", f"- signing certificate {cert['CertificateId']}", UserName=name,
                           CertificateId=cert["CertificateId"])
        for credential in call(invoke, "ListServiceSpecificCredentials", {"UserName": name}).get("ServiceSpecificCredentials") or []:
            change.add("DeleteServiceSpecificCredential", f"- service-specific credential {credential['ServiceSpecificCredentialId']}",
                       UserName=name, ServiceSpecificCredentialId=credential["ServiceSpecificCredentialId"])
        for group in sorted(have_u.groups):
            change.add("RemoveUserFromGroup", None, GroupName=group, UserName=name)
        for policy in sorted(have_u.inline):
            change.add("DeleteUserPolicy", None, UserName=name, PolicyName=policy)
        for arn in sorted(have_u.managed):
            change.add("DetachUserPolicy", None, UserName=name, PolicyArn=arn)
        change.add("DeleteUser", None, UserName=name)
        out.append(change)
    for name, have_g in sorted(current.groups.items()):
        if name in desired.groups:
            continue
        # Its members: undeclared users are deleted above; declared ones cannot name it (format.py),
        # so their updates take them out first.
        change = Change("-", "group", name)
        for policy in sorted(have_g.inline):
            change.add("DeleteGroupPolicy", None, GroupName=name, PolicyName=policy)
        for arn in sorted(have_g.managed):
            change.add("DetachGroupPolicy", None, GroupName=name, PolicyArn=arn)
        change.add("DeleteGroup", None, GroupName=name)
        out.append(change)
    for name, have_p in sorted(current.policies.items()):
        if name in desired.policies:
            continue
        assert invoke is not None
        arn = arns.policy_arn(account, name, have_p.path)
        change = Change("-", "policy", name)
        for page in pages(invoke, "ListPolicyVersions", {"PolicyArn": arn}):
            for version in page.get("Versions") or []:
                if not version.get("IsDefaultVersion"):
                    change.add("DeletePolicyVersion", None, PolicyArn=arn, VersionId=version["VersionId"])
        change.add("DeletePolicy", None, PolicyArn=arn)
        out.append(change)
    for name in sorted(current.saml_providers):
        if name not in desired.saml_providers:
            change = Change("-", "saml provider", name)
            change.add("DeleteSAMLProvider", None, SAMLProviderArn=arns.saml_provider_arn(account, name))
            out.append(change)
    for url in sorted(current.oidc_providers):
        if url not in desired.oidc_providers:
            change = Change("-", "oidc provider", f"https://{url}")
            change.add("DeleteOpenIDConnectProvider", None, OpenIDConnectProviderArn=arns.oidc_provider_arn(account, url))
            out.append(change)
    return out


def _has_login_profile(invoke: Invoke, user: str) -> bool:
    from opensts.iac.calls import ActionFailed

    try:
        call(invoke, "GetLoginProfile", {"UserName": user})
    except ActionFailed as exc:
        if exc.error.code == "NoSuchEntity":
            return False
        raise
    return True


def render(plans: list[AccountPlan]) -> str:
    """The plan as ``plan`` prints it (and ``apply`` before it applies)."""
    lines: list[str] = []
    counts = {"+": 0, "~": 0, "-": 0}
    for plan in plans:
        if not plan.changes and not plan.create_account:
            continue
        lines.append(f"account {plan.account_id}:")
        if plan.create_account:
            lines.append(f"  + account {plan.account_id}")
            counts["+"] += 1
        for change in plan.changes:
            counts[change.symbol] += 1
            lines.append(f"  {change.symbol} {change.kind} {change.name}")
            lines.extend(f"      {detail}" for detail in change.details)
    if not lines:
        return "No changes."
    lines.append(f"Plan: {counts['+']} to create, {counts['~']} to update, {counts['-']} to delete.")
    return "\n".join(lines)
