"""Resources AWS itself protects, whatever the policies say.

AWS-managed policies (``arn:aws:iam::aws:policy/...``) are read-only to customers; roles under the
``/aws-reserved/`` path (IAM Identity Center) can be read but not changed or passed; KMS aliases
``alias/aws/*`` belong to AWS services. Requests that would change them end in an implicit deny
(an explicit deny still reports as such). Read-style actions are recognised by their verb.
"""
from __future__ import annotations

_READ_VERBS = ("get", "list", "generate", "simulate")
_KMS_ALIAS_WRITES = frozenset({"kms:createalias", "kms:updatealias", "kms:deletealias"})


def reserved_resource_reason(action_lc: str, resource: str) -> str | None:
    """Why the request is refused by an AWS guardrail, or None."""
    service, _, verb = action_lc.partition(":")
    if service == "iam":
        if verb.startswith(_READ_VERBS):
            return None
        if ":iam::aws:policy/" in resource:
            return "AWS managed policies cannot be modified"
        if ":role/aws-reserved/" in resource:
            return "roles under /aws-reserved/ are managed by AWS"
        return None
    if service == "kms" and action_lc in _KMS_ALIAS_WRITES and ":alias/aws/" in resource:
        return "KMS aliases beginning with alias/aws/ are reserved for AWS managed keys"
    return None
