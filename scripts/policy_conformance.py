#!/usr/bin/env python3
"""Run the OpenSTS policy engine over a folder of third-party evaluation cases and print agreement.

Usage: python scripts/policy_conformance.py PATH [--verbose]

PATH holds JSON files, each a list of cases in the iam-simulate corpus format (see its README):
``request`` {action, resource: {resource, accountId}, principal, context, wildcardOnlyAction?},
policy sets, and ``expected.response`` (Allowed / ImplicitlyDenied / ExplicitlyDenied). Cases with a
``simulation`` key use that project's discovery mode and are skipped. The corpus is read at run
time only; nothing of it is stored in this repository.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from opensts.policy import (
    Outcome,
    PolicyKind,
    PolicyValidationError,
    Principal,
    Request,
    evaluate,
    parse_policy,
)
from opensts.policy.request import principal_type_of

EXPECTED = {"Allowed": Outcome.ALLOW, "ImplicitlyDenied": Outcome.IMPLICIT_DENY, "ExplicitlyDenied": Outcome.EXPLICIT_DENY}
NAMES = {v: k for k, v in EXPECTED.items()}


def _principal(raw: Any) -> Principal:
    if isinstance(raw, dict):
        if raw.get("type", "").lower() == "anonymous":
            return Principal.anonymous()
        raw = raw.get("arn") or raw.get("principal")
    return Principal(arn=raw, type=principal_type_of(raw))


def _statements(doc: Any) -> list[dict[str, Any]]:
    st = doc.get("Statement", []) if isinstance(doc, dict) else []
    return st if isinstance(st, list) else [st]


def _resource_kind(doc: Any, action: str) -> PolicyKind:
    # Role trust policies have no Resource element; everything else is an ordinary resource policy.
    if action.lower().startswith("sts:assumerole") and all(
        "Resource" not in s and "NotResource" not in s for s in _statements(doc)
    ):
        return PolicyKind.TRUST
    return PolicyKind.RESOURCE


def run_case(case: dict[str, Any]) -> Outcome:
    req = case["request"]
    res = req["resource"]
    resource = res["resource"] if isinstance(res, dict) else res
    account = res.get("accountId") if isinstance(res, dict) else None
    pattern = ("*" in resource or "?" in resource) and not req.get("wildcardOnlyAction")
    request = Request(
        principal=_principal(req["principal"]),
        action=req["action"],
        resource=resource,
        resource_account=account,
        context=req.get("context") or {},
        resource_is_pattern=pattern,
    )

    def levels(key: str, kind: PolicyKind) -> list[list[Any]]:
        return [[parse_policy(p, kind) for p in level.get("policies", [])] for level in case.get(key) or []]

    resource_docs = []
    if case.get("resourcePolicy") is not None:
        resource_docs.append(case["resourcePolicy"])
    resource_docs.extend(case.get("resourcePolicies") or [])
    resource_policy = None
    if resource_docs:
        merged = {"Version": "2012-10-17", "Statement": [s for d in resource_docs for s in _statements(d)]}
        if len(resource_docs) == 1:
            merged = resource_docs[0]
        resource_policy = parse_policy(merged, _resource_kind(merged, request.action), allow_missing_principal=True)
    session = case.get("sessionPolicy")
    decision = evaluate(
        request,
        [parse_policy(p, PolicyKind.IDENTITY) for p in case.get("identityPolicies") or []],
        resource_policy,
        [parse_policy(p, PolicyKind.IDENTITY) for p in case.get("permissionBoundaries") or []],
        [parse_policy(session, PolicyKind.IDENTITY)] if session else [],
        levels("serviceControlPolicies", PolicyKind.SCP),
        rcps=levels("resourceControlPolicies", PolicyKind.RCP),
        endpoint_policies=[parse_policy(p, PolicyKind.ENDPOINT) for p in case.get("endpointPolicies") or []],
    )
    return decision.outcome


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("path", type=Path)
    ap.add_argument("--verbose", "-v", action="store_true", help="also print agreeing cases")
    args = ap.parse_args(argv)
    total = agree = skipped = 0
    disagreements: list[str] = []
    for file in sorted(args.path.rglob("*.json")):
        rel = file.relative_to(args.path)
        for case in json.loads(file.read_text()):
            if "simulation" in case:
                skipped += 1
                continue
            total += 1
            expected = EXPECTED[case["expected"]["response"]]
            try:
                got: Outcome | str = run_case(case)
            except PolicyValidationError as exc:
                got = f"PolicyValidationError: {exc.message}"
            if got == expected:
                agree += 1
                if args.verbose:
                    print(f"ok    {rel}: {case['name']}")
            else:
                shown = NAMES.get(got, got) if isinstance(got, Outcome) else got
                disagreements.append(f"{rel}: {case['name']!r}: expected {case['expected']['response']}, got {shown}")
    for line in disagreements:
        print("DIFF  " + line)
    pct = 100.0 * agree / total if total else 0.0
    print(f"\n{agree}/{total} cases agree ({pct:.1f}%); {len(disagreements)} disagree; {skipped} simulation cases skipped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
