"""ARN helpers: splitting into the six parts and recognising principal ARNs.

``opensts.identity.arn.Arn`` extends :class:`Arn` with strict parsing and IAM resource helpers
(the engine reads ARNs leniently, as policies and requests spell them).
"""
from __future__ import annotations

import re
from typing import NamedTuple

ACCOUNT_ID_RE = re.compile(r"^\d{12}$")


class Arn(NamedTuple):
    partition: str
    service: str
    region: str
    account: str
    resource: str


def split_arn(text: str) -> tuple[str, str, str, str, str, str] | None:
    """Split ``arn:partition:service:region:account:resource`` into its six parts.

    The resource part keeps any further colons (``arn:aws:ec2:r:a:instance/x`` and
    ``arn:aws:logs:r:a:log-group:g:*`` are both valid). Returns None if there are fewer than six parts.
    """
    parts = text.split(":", 5)
    if len(parts) != 6:
        return None
    return parts[0], parts[1], parts[2], parts[3], parts[4], parts[5]


def parse_arn(text: str) -> Arn | None:
    parts = split_arn(text)
    if parts is None or parts[0] != "arn":
        return None
    return Arn(parts[1], parts[2], parts[3], parts[4], parts[5])


def account_of(arn: str) -> str | None:
    parsed = parse_arn(arn)
    return parsed.account if parsed else None


def root_arn(account: str, partition: str = "aws") -> str:
    return f"arn:{partition}:iam::{account}:root"


def role_arn_from_session(session_arn: str) -> str | None:
    """``arn:aws:sts::A:assumed-role/R/S`` -> ``arn:aws:iam::A:role/R`` (the path is unknown here)."""
    parsed = parse_arn(session_arn)
    if parsed is None or parsed.service != "sts" or not parsed.resource.startswith("assumed-role/"):
        return None
    pieces = parsed.resource.split("/")
    if len(pieces) < 3:
        return None
    return f"arn:{parsed.partition}:iam::{parsed.account}:role/{pieces[1]}"


def role_name_from_arn(role_arn: str) -> str | None:
    """Role name (last path segment) of ``arn:aws:iam::A:role/path/Name``."""
    parsed = parse_arn(role_arn)
    if parsed is None or not parsed.resource.startswith("role/"):
        return None
    return parsed.resource.rsplit("/", 1)[-1]
