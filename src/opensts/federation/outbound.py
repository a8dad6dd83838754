"""OpenSTS as an OpenID Connect issuer (outbound identity federation): issuer URLs and discovery.

Each account that enabled outbound identity federation has one issuer,
``<public URL>/oidc/<issuer id>``, where the public URL is ``--public-url`` (``Settings.public_base_url``)
and the issuer id is the opaque, random id stored with the account's federation state
(``store/outbound_federation.py``): the URL does not reveal the account id. Changing ``--public-url``
changes every issuer URL, so verifiers must be configured again.

Under the issuer, unauthenticated (``server/oidc_issuer.py``):

- ``/.well-known/openid-configuration``: :func:`discovery_document` (OpenID Connect Discovery 1.0 §3,
  for ID tokens only: no authorization or token endpoint, since nobody signs in here);
- ``/.well-known/jwks.json``: the deployment's public signing keys (``tokens/jwt_keys.py``).

An issuer is *served* while its account has the feature on, and after it is turned off until every
token issued before can have expired (``MAX_TOKEN_LIFETIME`` plus slack after ``disabled_at``):
turning the feature off stops new tokens, and tokens already issued stay verifiable until they
expire, as AWS documents. After that, and for unknown ids, both paths answer 404.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from opensts.tokens.jwt_keys import ALGORITHMS, MAX_TOKEN_LIFETIME, RETIREMENT_GRACE

ISSUER_PATH_PREFIX = "/oidc/"
DISCOVERY_SUFFIX = "/.well-known/openid-configuration"
JWKS_SUFFIX = "/.well-known/jwks.json"
ISSUER_ID_RE = re.compile(r"^[a-z2-7]{26}$")  # store.outbound_federation.new_issuer_id
AWS_CLAIMS_NAMESPACE = "https://sts.amazonaws.com/"
CACHE_CONTROL = "public, max-age=300"  # tokens/jwt_keys.PUBLISH_AHEAD is longer than this
SERVED_AFTER_DISABLE = timedelta(seconds=MAX_TOKEN_LIFETIME + RETIREMENT_GRACE)

CLAIMS_SUPPORTED = ("iss", "sub", "aud", "iat", "exp", "jti", AWS_CLAIMS_NAMESPACE)


def issuer_url(public_base_url: str, issuer_id: str) -> str:
    return f"{public_base_url.rstrip('/')}{ISSUER_PATH_PREFIX}{issuer_id}"


def issuer_served(enabled: bool, disabled_at: datetime | None, now: datetime) -> bool:
    """Whether the issuer's discovery documents are answered (see the module)."""
    if enabled:
        return True
    return disabled_at is not None and now < disabled_at + SERVED_AFTER_DISABLE


def discovery_document(issuer: str) -> dict[str, Any]:
    """The OpenID Provider Metadata of ``issuer``."""
    return {
        "issuer": issuer,
        "jwks_uri": issuer + JWKS_SUFFIX,
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": list(ALGORITHMS),
        "scopes_supported": ["openid"],
        "claims_supported": list(CLAIMS_SUPPORTED),
    }
