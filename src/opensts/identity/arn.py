"""ARNs: parsing and formatting in one place.

``arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE``. IAM and STS ARNs have an empty region. The
formatting helpers below are the only place in OpenSTS that spells out an ARN layout.

There is one ARN type: the policy engine's :class:`opensts.policy.arn.Arn` (its five parts after
``arn:``). :class:`Arn` here is that type with what IAM needs on top (a strict :meth:`Arn.parse`,
the resource's type, path and name, and the text form); the policy engine, which imports nothing
from the rest of OpenSTS, keeps its own lenient parsing.
"""

from __future__ import annotations

from opensts.policy import arn as engine_arn

PARTITION = "aws"


class Arn(engine_arn.Arn):
    """An ARN's parts (``partition``, ``service``, ``region``, ``account``, ``resource``), with IAM's helpers."""

    __slots__ = ()

    @classmethod
    def parse(cls, text: str) -> "Arn":
        """Split an ARN into its six parts; ValueError if it is not one (or has no partition or service)."""
        parts = text.split(":", 5)
        if len(parts) != 6 or parts[0] != "arn" or not parts[1] or not parts[2]:
            raise ValueError(f"invalid ARN: {text!r}")
        return cls(parts[1], parts[2], parts[3], parts[4], parts[5])

    @property
    def resource_type(self) -> str:
        """``user`` for ``user/path/name``; the whole resource when it has no ``/``."""
        return self.resource.split("/", 1)[0]

    @property
    def resource_name(self) -> str:
        """The last path segment: the entity name of an IAM ARN."""
        return self.resource.rsplit("/", 1)[-1]

    @property
    def resource_path(self) -> str:
        """The IAM path between the type and the name, with its slashes: ``/`` or ``/a/b/``."""
        segments = self.resource.split("/")
        return "/" + "".join(s + "/" for s in segments[1:-1]) if len(segments) > 2 else "/"

    def __str__(self) -> str:
        return f"arn:{self.partition}:{self.service}:{self.region}:{self.account}:{self.resource}"


def _iam(account: str, resource: str) -> str:
    return f"arn:{PARTITION}:iam::{account}:{resource}"


def root_arn(account: str) -> str:
    return _iam(account, "root")


def user_arn(account: str, name: str, path: str = "/") -> str:
    return _iam(account, f"user{path}{name}")


def role_arn(account: str, name: str, path: str = "/") -> str:
    return _iam(account, f"role{path}{name}")


def group_arn(account: str, name: str, path: str = "/") -> str:
    return _iam(account, f"group{path}{name}")


def policy_arn(account: str, name: str, path: str = "/") -> str:
    return _iam(account, f"policy{path}{name}")


def mfa_arn(account: str, name: str, path: str = "/") -> str:
    return _iam(account, f"mfa{path}{name}")


def oidc_provider_arn(account: str, url_without_scheme: str) -> str:
    return _iam(account, f"oidc-provider/{url_without_scheme}")


def saml_provider_arn(account: str, name: str) -> str:
    return _iam(account, f"saml-provider/{name}")


def assumed_role_arn(account: str, role_name: str, session_name: str) -> str:
    """The session ARN drops the role's path, as AWS does."""
    return f"arn:{PARTITION}:sts::{account}:assumed-role/{role_name}/{session_name}"


def federated_user_arn(account: str, name: str) -> str:
    return f"arn:{PARTITION}:sts::{account}:federated-user/{name}"
