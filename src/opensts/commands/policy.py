"""``opensts policy validate`` and ``opensts policy evaluate``: the policy engine on the command line.

Exit status, one scheme for both commands (as ``grep``): **0** the answer is yes (the policy is
valid / the request is allowed), **1** the answer is no (the policy is malformed / the request is
denied, explicitly or implicitly: the JSON output says which), **2** the question could not be
asked (unreadable, non-UTF-8, oversized or non-JSON input, a malformed request or policy in the
``evaluate`` input, bad options). Errors are one line on stderr, never a traceback.

Unlike the API (which keeps AWS's "Syntax errors in policy." for MalformedPolicyDocument), the
command line adds the line and column of a JSON syntax error.

The lead registers the group in ``opensts/cli.py`` with ``cli.add_command(policy)``.
"""
from __future__ import annotations

import json
import sys
from typing import Any, BinaryIO

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

EXIT_YES = 0
EXIT_NO = 1
EXIT_INPUT = 2
MAX_INPUT_BYTES = 10 * 1024 * 1024  # far above any policy; keeps a stray `/dev/zero` from eating memory

EXIT_STATUS_HELP = (
    "Exit status: 0 {yes}, 1 {no}, 2 the input could not be read or is not valid input "
    "(errors: one line on stderr)."
)


class InputError(click.ClickException):
    """The input cannot be used: exit status 2 (as usage errors), one line on stderr."""

    exit_code = EXIT_INPUT

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))


def _read(file: str) -> str:
    """The UTF-8 text of FILE ("-": stdin), or :class:`InputError`."""
    name = "stdin" if file == "-" else file
    try:
        if file == "-":
            data = _read_bounded(sys.stdin.buffer)
        else:
            with open(file, "rb") as fh:
                data = _read_bounded(fh)
    except OSError as exc:
        raise InputError(f"cannot read {name}: {exc.strerror or exc}") from None
    if data is None:
        raise InputError(f"cannot read {name}: larger than {MAX_INPUT_BYTES // (1024 * 1024)} MiB")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"cannot read {name}: not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})") from None


def _read_bounded(fh: BinaryIO) -> bytes | None:
    data = fh.read(MAX_INPUT_BYTES + 1)
    return None if len(data) > MAX_INPUT_BYTES else data


def _malformed(exc: PolicyValidationError, text: str | None = None) -> str:
    """The MalformedPolicyDocument message, with the position of a JSON syntax error when there is one."""
    message = exc.message
    if text is not None and message.startswith("Syntax errors in policy"):
        try:
            json.loads(text)
        except json.JSONDecodeError as err:
            message = f"{message.rstrip('.')}. Line {err.lineno}, column {err.colno}: {err.msg}."
        except RecursionError:
            message = f"{message.rstrip('.')}. The document is nested too deeply."
        except ValueError:
            pass
    return " ".join(f"MalformedPolicyDocument: {message}".split())


@click.group("policy")
def policy() -> None:
    """Validate and evaluate AWS IAM policy documents."""


@policy.command("validate", epilog=EXIT_STATUS_HELP.format(yes="the policy is valid", no="the policy is malformed"))
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
        click.echo(_malformed(exc, text), err=True)
        sys.exit(EXIT_NO)
    click.echo("OK")


def _string(raw: Any, what: str, *, optional: bool = False) -> Any:
    if raw is None and optional:
        return None
    if not isinstance(raw, str):
        raise InputError(f"{what} must be a string")
    return raw


def _principal(raw: Any) -> Principal:
    if isinstance(raw, str):
        return Principal(arn=raw, type=principal_type_of(raw))
    if not isinstance(raw, dict):
        raise InputError("request.principal must be an ARN or an object with an arn")
    arn = _string(raw.get("arn", "*"), "request.principal.arn")
    ptype = _string(raw.get("type"), "request.principal.type", optional=True)
    tags = raw.get("tags") or {}
    if not isinstance(tags, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in tags.items()):
        raise InputError("request.principal.tags must be an object of strings")
    try:
        return Principal(
            arn=arn,
            type=PrincipalType(ptype) if ptype else principal_type_of(arn),
            account=_string(raw.get("account"), "request.principal.account", optional=True),
            id=_string(raw.get("id"), "request.principal.id", optional=True),
            role_arn=_string(raw.get("roleArn"), "request.principal.roleArn", optional=True),
            tags=tags,
        )
    except ValueError as exc:
        raise InputError(f"bad principal: {exc}") from None


def _request(raw: Any) -> Request:
    if not isinstance(raw, dict) or "principal" not in raw or "action" not in raw:
        raise InputError("request must be an object with principal and action")
    context = raw.get("context") or {}
    if not isinstance(context, dict):
        raise InputError("request.context must be an object")
    required = raw.get("resourcePolicyRequired")
    if required is not None and not isinstance(required, bool):
        raise InputError("request.resourcePolicyRequired must be true or false")
    try:
        return Request(
            principal=_principal(raw["principal"]),
            action=_string(raw["action"], "request.action"),
            resource=_string(raw.get("resource", "*"), "request.resource"),
            resource_account=_string(raw.get("resourceAccount"), "request.resourceAccount", optional=True),
            context=context,
            resource_policy_required=required,
        )
    except (ValueError, TypeError) as exc:
        raise InputError(f"bad request: {exc}") from None


def _no_resource_policy_reason(request: Request) -> str:
    """Why a request without a resource policy was denied on the resource side (the engine's
    generic reason speaks of a resource policy that was never given)."""
    principal = request.principal
    if principal.type in (PrincipalType.ANONYMOUS, PrincipalType.SERVICE, PrincipalType.WEB_IDENTITY, PrincipalType.SAML):
        return "no resource-based policy was given, and only one can grant this principal"
    if request.resource_account is not None and request.resource_account != principal.account:
        return (
            f"no resource-based policy was given: cross-account access (resource account "
            f"{request.resource_account}) needs one that allows the principal"
        )
    return "no resource-based policy was given, and this resource's own policy must allow the principal"


@policy.command(
    "evaluate", epilog=EXIT_STATUS_HELP.format(yes="allowed", no="denied (explicitly or implicitly)"),
)
@click.argument("file")
def evaluate_cmd(file: str) -> None:
    """Evaluate the request in FILE ("-" for stdin) and print the decision as JSON.

    FILE holds {"request": {"principal": ARN | {arn, type, account, id, roleArn, tags}, "action",
    "resource", "resourceAccount", "context"}, "identityPolicies": [...], "resourcePolicy": {...},
    "permissionsBoundaries": [...], "sessionPolicies": [...], "scps": [[...], ...]}; with
    "trustPolicy" instead of "resourcePolicy" the role trust rules apply.
    """
    text = _read(file)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"input is not JSON: line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    except (ValueError, RecursionError):
        raise InputError("input is not JSON") from None
    if not isinstance(doc, dict):
        raise InputError("input must be a JSON object")
    request = _request(doc.get("request"))

    def one(raw: Any, kind: PolicyKind, where: str) -> Any:
        try:
            return parse_policy(raw, kind)
        except PolicyValidationError as exc:
            raise InputError(f"{where}: {_malformed(exc, raw if isinstance(raw, str) else None)}") from None

    def many(key: str, kind: PolicyKind) -> list[Any]:
        items = doc.get(key) or []
        if not isinstance(items, list):
            items = [items]
        return [one(p, kind, f"{key}[{i}]") for i, p in enumerate(items)]

    identity = many("identityPolicies", PolicyKind.IDENTITY)
    boundaries = many("permissionsBoundaries", PolicyKind.IDENTITY)
    sessions = many("sessionPolicies", PolicyKind.IDENTITY)
    levels = doc.get("scps") or []
    if not isinstance(levels, list):
        raise InputError("scps must be a list (of levels, each a policy or a list of policies)")
    scps = [
        [one(p, PolicyKind.SCP, f"scps[{i}]") for p in (level if isinstance(level, list) else [level])]
        for i, level in enumerate(levels)
    ]
    given_resource_policy = False
    if doc.get("trustPolicy") is not None:
        trust = one(doc["trustPolicy"], PolicyKind.TRUST, "trustPolicy")
        given_resource_policy = True
        decision = evaluate_trust(request, trust, identity, boundaries, sessions, scps)
    else:
        rp = doc.get("resourcePolicy")
        resource_policy = one(rp, PolicyKind.RESOURCE, "resourcePolicy") if rp is not None else None
        given_resource_policy = resource_policy is not None
        decision = evaluate(request, identity, resource_policy, boundaries, sessions, scps)
    out = decision.to_dict()
    if not given_resource_policy and "resource" in out.get("blockedBy", []):
        index = out["blockedBy"].index("resource")
        reasons = list(out.get("reasons", []))
        if index < len(reasons):
            reasons[index] = _no_resource_policy_reason(request)
            out["reasons"] = reasons
    click.echo(json.dumps(out, indent=2))
    sys.exit(EXIT_YES if decision.allowed else EXIT_NO)
