"""The IAM parameters many actions share, as request fields with the shapes of botocore's IAM model.

Each function returns a fresh dataclass field (see :mod:`opensts.fields`); patterns and lengths
are those of the member's shape in the IAM API reference
(https://docs.aws.amazon.com/IAM/latest/APIReference/API_Types.html), e.g. ``userNameType`` is
``[\\w+=,.@-]+`` of 1-64 characters and ``existingUserNameType`` the same of 1-128.
"""

from __future__ import annotations

from typing import Any

from opensts.fields import integer, text
from opensts.params import POLICY_TEXT_PATTERN

# Patterns from botocore's IAM model.
ENTITY_NAME_PATTERN = r"[\w+=,.@-]+"  # userNameType, roleNameType, groupNameType, policyNameType
USER_NAME_PATTERN = ENTITY_NAME_PATTERN
ROLE_NAME_PATTERN = ENTITY_NAME_PATTERN
GROUP_NAME_PATTERN = ENTITY_NAME_PATTERN
POLICY_NAME_PATTERN = ENTITY_NAME_PATTERN
PATH_PATTERN = r"(\u002F)|(\u002F[\u0021-\u007E]+\u002F)"
PATH_PREFIX_PATTERN = r"\u002F[\u0021-\u007E]*"
POLICY_DOCUMENT_PATTERN = POLICY_TEXT_PATTERN
DESCRIPTION_PATTERN = r"[\u0009\u000A\u000D\u0020-\u007E\u00A1-\u00FF]*"
MARKER_PATTERN = r"[\u0020-\u00FF]+"
MAX_ITEMS_LIMIT = 1000
DEFAULT_MAX_ITEMS = 100


def user_name(name: str = "UserName", *, required: bool = True, max_len: int = 128) -> Any:
    """``existingUserNameType`` (1-128) by default; ``userNameType`` (1-64) with ``max_len=64``."""
    return text(name, required=required, min_len=1, max_len=max_len, pattern=USER_NAME_PATTERN)


def role_name(name: str = "RoleName", *, required: bool = True) -> Any:
    return text(name, required=required, min_len=1, max_len=64, pattern=ROLE_NAME_PATTERN)


def group_name(name: str = "GroupName", *, required: bool = True) -> Any:
    return text(name, required=required, min_len=1, max_len=128, pattern=GROUP_NAME_PATTERN)


def policy_name(name: str = "PolicyName", *, required: bool = True) -> Any:
    return text(name, required=required, min_len=1, max_len=128, pattern=POLICY_NAME_PATTERN)


def path(name: str = "Path") -> Any:
    """``pathType``; "/" when absent."""
    return text(name, min_len=1, max_len=512, pattern=PATH_PATTERN, default="/")


def new_path(name: str = "NewPath") -> Any:
    """``pathType`` for renames: None when absent (the entity keeps its path)."""
    return text(name, min_len=1, max_len=512, pattern=PATH_PATTERN)


def path_prefix(name: str = "PathPrefix") -> Any:
    """``pathPrefixType``; "/" when absent."""
    return text(name, min_len=1, max_len=512, pattern=PATH_PREFIX_PATTERN, default="/")


def policy_document(name: str = "PolicyDocument", *, required: bool = True, max_len: int = 131072) -> Any:
    """``policyDocumentType``: the JSON text; the engine validates its grammar in the action."""
    return text(name, required=required, min_len=1, max_len=max_len, pattern=POLICY_DOCUMENT_PATTERN)


def arn(name: str, *, required: bool = True) -> Any:
    """``arnType`` (20-2048; checked as an ARN by the action where AWS does)."""
    return text(name, required=required, min_len=20, max_len=2048)


def permissions_boundary(*, required: bool = False) -> Any:
    return arn("PermissionsBoundary", required=required)


def description(name: str = "Description", *, required: bool = False) -> Any:
    return text(name, required=required, max_len=1000, pattern=DESCRIPTION_PATTERN)


def marker() -> Any:
    """``markerType``: where the previous page ended (opaque to clients)."""
    return text("Marker", min_len=1, max_len=320, pattern=MARKER_PATTERN)


def max_items() -> Any:
    """``maxItemsType`` (1-1000); 100 when absent, as AWS."""
    return integer("MaxItems", min_value=1, max_value=MAX_ITEMS_LIMIT, default=DEFAULT_MAX_ITEMS)
