"""The current state in the file format: ``opensts export``.

One account (``--account``) is written in the single-account form (``account:`` at the top);
otherwise every account of the store, as ``accounts:``. Defaults are left out (path ``/``, a
one-hour maximum session duration, empty lists). A managed policy of the same account is named by
its name, others (AWS managed, other accounts') by ARN. Access keys, passwords and MFA devices are
never exported. Applying the output to an empty store reproduces the state; applying it to the store
it came from changes nothing.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from opensts.iac.format import Account
from opensts.identity import arn as arns


def account_content(account: Account, *, with_id: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if with_id:
        out[with_id] = account.account_id
    own = {arns.policy_arn(account.account_id, name, p.path): name for name, p in account.policies.items()}

    def ref(arn: str | None) -> str | None:
        return own.get(arn, arn) if arn else None

    def common(entity: Any, into: dict[str, Any]) -> dict[str, Any]:
        if entity.inline:
            into["inline_policies"] = {name: doc for name, doc in sorted(entity.inline.items())}
        if entity.managed:
            into["managed_policies"] = sorted(ref(a) or "" for a in entity.managed)
        if getattr(entity, "boundary", None):
            into["permissions_boundary"] = ref(entity.boundary)
        if getattr(entity, "tags", None):
            into["tags"] = dict(sorted(entity.tags.items()))
        return into

    def path(value: str) -> dict[str, Any]:
        return {"path": value} if value != "/" else {}

    if account.alias:
        out["alias"] = account.alias
    if account.policies:
        out["policies"] = {
            name: {**path(p.path), **({"description": p.description} if p.description else {}), "document": p.document,
                   **({"tags": dict(sorted(p.tags.items()))} if p.tags else {})}
            for name, p in sorted(account.policies.items())
        }
    if account.groups:
        out["groups"] = {name: common(g, path(g.path)) for name, g in sorted(account.groups.items())}
    if account.users:
        out["users"] = {
            name: common(u, {**path(u.path), **({"groups": sorted(u.groups)} if u.groups else {})})
            for name, u in sorted(account.users.items())
        }
    if account.roles:
        out["roles"] = {
            name: common(r, {
                **path(r.path), **({"description": r.description} if r.description else {}),
                **({"max_session_duration": r.max_session_duration} if r.max_session_duration != 3600 else {}),
                "trust": r.trust,
            })
            for name, r in sorted(account.roles.items())
        }
    if account.instance_profiles:
        out["instance_profiles"] = {
            name: {**path(i.path), **({"role": i.role} if i.role else {}), **({"tags": dict(sorted(i.tags.items()))} if i.tags else {})}
            for name, i in sorted(account.instance_profiles.items())
        }
    if account.oidc_providers:
        out["oidc_providers"] = [
            {"url": f"https://{url}", **({"client_ids": p.client_ids} if p.client_ids else {}),
             **({"thumbprints": p.thumbprints} if p.thumbprints else {}), **({"tags": dict(sorted(p.tags.items()))} if p.tags else {})}
            for url, p in sorted(account.oidc_providers.items())
        ]
    if account.saml_providers:
        out["saml_providers"] = {
            name: {"metadata": p.metadata, **({"tags": dict(sorted(p.tags.items()))} if p.tags else {})}
            for name, p in sorted(account.saml_providers.items())
        }
    return out


def content(accounts: list[Account], *, single: bool) -> dict[str, Any]:
    if single:
        return {"version": 1, **account_content(accounts[0], with_id="account")}
    return {"version": 1, "accounts": [account_content(a, with_id="id") for a in accounts]}


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (SAML metadata) as literal blocks."""


def _str(dumper: yaml.SafeDumper, value: str) -> Any:
    style = "|" if "\n" in value else None  # PyYAML falls back to quoting when a block cannot hold it
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def render(data: dict[str, Any], *, as_json: bool) -> str:
    if as_json:
        return json.dumps(data, indent=2) + "\n"
    text: str = yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=120, default_flow_style=False)
    return text
