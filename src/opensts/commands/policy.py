"""``opensts policy validate`` and ``opensts policy evaluate``: the policy engine on the command line.

The lead registers the group in ``opensts/cli.py`` with ``cli.add_command(policy)``.
"""
from __future__ import annotations

import json
import sys
from typing import Any

import click

from opensts.policy import (
    PolicyKind,
    PolicyValidationError,
    Principal,
    PrincipalType,
    Request,
    evaluate,
    evaluate_trust,
    parse_policy,
    principal_type_of,
)


def _read(file: str) -> str:
    if file == "-":
        return sys.stdin.read()
    try:
        with open(file, encoding="utf-8") as fh:
            return fh.read()
    except OSError as exc:
        raise click.ClickException(f"cannot read {file}: {exc.strerror}") from None


@click.group("policy")
def policy() -> None:
    """Validate and evaluate AWS IAM policy documents."""


@policy.command("validate")
@click.argument("file")
@click.option(
    "--kind", type=click.Choice(["identity", "resource", "trust"]), default="identity", show_default=True,
    help="Which policy grammar to apply.",
)
@click.option("--managed", is_flag=True, help='Require "Version": "2012-10-17" as IAM managed policies do.')
def validate(file: str, kind: str, managed: bool) -> None:
    """Validate the policy in FILE ("-" for stdin); print OK or the MalformedPolicyDocument message."""
    text = _read(file)
    try:
        parse_policy(text, kind, require_current_version=managed)
    except PolicyValidationError as exc:
        click.echo(f"MalformedPolicyDocument: {exc.message}", err=True)
        sys.exit(1)
    click.echo("OK")


def _principal(raw: Any) -> Principal:
    if isinstance(raw, str):
        return Principal(arn=raw, type=principal_type_of(raw))
    if not isinstance(raw, dict) or not isinstance(raw.get("arn", "*"), str):
        raise click.ClickException("request.principal must be an ARN or an object with an arn")
    arn = raw.get("arn", "*")
    ptype = raw.get("type")
    try:
        return Principal(
            arn=arn,
            type=PrincipalType(ptype) if ptype else principal_type_of(arn),
            account=raw.get("account"),
            id=raw.get("id"),
            role_arn=raw.get("roleArn"),
            tags=raw.get("tags") or {},
        )
    except ValueError as exc:
        raise click.ClickException(f"bad principal: {exc}") from None


def _request(raw: Any) -> Request:
    if not isinstance(raw, dict) or "principal" not in raw or "action" not in raw:
        raise click.ClickException("request must be an object with principal and action")
    return Request(
        principal=_principal(raw["principal"]),
        action=raw["action"],
        resource=raw.get("resource", "*"),
        resource_account=raw.get("resourceAccount"),
        context=raw.get("context") or {},
        resource_policy_required=raw.get("resourcePolicyRequired"),
    )


@policy.command("evaluate")
@click.argument("file")
def evaluate_cmd(file: str) -> None:
    """Evaluate the request in FILE ("-" for stdin) and print the decision as JSON.

    FILE holds {"request": {"principal": ARN | {arn, type, account, id, roleArn, tags}, "action",
    "resource", "resourceAccount", "context"}, "identityPolicies": [...], "resourcePolicy": {...},
    "permissionsBoundaries": [...], "sessionPolicies": [...], "scps": [[...], ...]}; with
    "trustPolicy" instead of "resourcePolicy" the role trust rules apply.
    """
    try:
        doc = json.loads(_read(file))
    except ValueError as exc:
        raise click.ClickException(f"input is not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise click.ClickException("input must be a JSON object")
    request = _request(doc.get("request"))

    def many(key: str, kind: PolicyKind) -> list[Any]:
        items = doc.get(key) or []
        if not isinstance(items, list):
            items = [items]
        return [parse_policy(p, kind) for p in items]

    try:
        identity = many("identityPolicies", PolicyKind.IDENTITY)
        boundaries = many("permissionsBoundaries", PolicyKind.IDENTITY)
        sessions = many("sessionPolicies", PolicyKind.IDENTITY)
        scps = [[parse_policy(p, PolicyKind.SCP) for p in (lvl if isinstance(lvl, list) else [lvl])] for lvl in doc.get("scps") or []]
        if doc.get("trustPolicy") is not None:
            trust = parse_policy(doc["trustPolicy"], PolicyKind.TRUST)
            decision = evaluate_trust(request, trust, identity, boundaries, sessions, scps)
        else:
            rp = doc.get("resourcePolicy")
            resource_policy = parse_policy(rp, PolicyKind.RESOURCE) if rp is not None else None
            decision = evaluate(request, identity, resource_policy, boundaries, sessions, scps)
    except PolicyValidationError as exc:
        click.echo(f"MalformedPolicyDocument: {exc.message}", err=True)
        sys.exit(1)
    click.echo(json.dumps(decision.to_dict(), indent=2))
