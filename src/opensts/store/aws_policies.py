"""The AWS managed policies (``arn:aws:iam::aws:policy/PATH/NAME``): read-only data shipped with OpenSTS.

The catalogue is ``opensts/data/aws_managed_policies.json.gz``, built by
``scripts/build_aws_managed_policies.py`` from moto's copy of AWS's ListPolicies/GetPolicyVersion
(see that script and docs/iam/aws-managed-policies.md for the source, licence and snapshot date).
Every document was parsed by the policy engine when the file was built, so none is checked here.

Loading: once per process, on first use (a lock makes concurrent first uses load it once). It costs
about 65 ms and keeps about 4 MB (1,485 policies, measured with moto 5.2.1's snapshot); loading on
first use keeps that off the start of CLI commands and of processes that never name an AWS policy.
Nothing here ever changes at runtime, so nothing here is an IAM-data cache; only the attachments
(store/iam_policies.py, table ``aws_policy_attachments``) are IAM data.

Only each policy's default version is shipped (the source holds no other): it is the policy's one
version. AWS's policy ids are not in the source either: :attr:`AwsPolicy.policy_id` is derived from
the ARN (``ANPA`` + 17 base32 characters of its SHA-256), the same on every node and every start.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import threading
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import Any

__all__ = ["AWS_POLICY_ARN_PREFIX", "AwsPolicy", "Catalogue", "catalogue", "find", "is_aws_policy_arn"]

AWS_POLICY_ARN_PREFIX = "arn:aws:iam::aws:policy/"
DATA_PACKAGE = "opensts.data"
DATA_FILE = "aws_managed_policies.json.gz"


def is_aws_policy_arn(arn: str | None) -> bool:
    """Whether ``arn`` names an AWS managed policy (whether or not one of that name exists)."""
    return bool(arn) and arn.startswith(AWS_POLICY_ARN_PREFIX)  # type: ignore[union-attr]


@dataclass(frozen=True, slots=True)
class AwsPolicy:
    name: str
    path: str
    arn: str
    default_version_id: str
    created_at: datetime
    updated_at: datetime
    document: str  # the default version's JSON text

    @property
    def policy_id(self) -> str:
        digest = base64.b32encode(hashlib.sha256(self.arn.encode()).digest()).decode("ascii")
        return "ANPA" + digest[:17]


@dataclass(frozen=True, slots=True)
class Catalogue:
    header: dict[str, Any]
    policies: tuple[AwsPolicy, ...]  # by name, case-insensitively (ListPolicies' order)
    by_arn: dict[str, AwsPolicy]

    def get(self, arn: str) -> AwsPolicy | None:
        return self.by_arn.get(arn)


_lock = threading.Lock()
_loaded: Catalogue | None = None


def _date(text: str) -> datetime:
    return datetime.fromisoformat(text)


def load(raw: bytes) -> Catalogue:
    """Parse the gzip'd catalogue file."""
    data = json.loads(gzip.decompress(raw))
    policies = tuple(
        sorted(
            (
                AwsPolicy(
                    p["name"], p["path"], p["arn"], p["default_version_id"], _date(p["create_date"]),
                    _date(p["update_date"]), p["document"],
                )
                for p in data["policies"]
            ),
            key=lambda p: p.name.lower(),
        )
    )
    return Catalogue(data["header"], policies, {p.arn: p for p in policies})


def catalogue() -> Catalogue:
    """The shipped AWS managed policies, loaded on first use."""
    global _loaded
    loaded = _loaded
    if loaded is None:
        with _lock:
            if _loaded is None:
                _loaded = load(resources.files(DATA_PACKAGE).joinpath(DATA_FILE).read_bytes())
            loaded = _loaded
    return loaded


def find(arn: str | None) -> AwsPolicy | None:
    """The AWS managed policy ``arn`` names; None for other ARNs (the catalogue is not loaded for them)."""
    if not arn or not is_aws_policy_arn(arn):
        return None
    return catalogue().get(arn)
