"""``GET /oidc/<issuer id>/.well-known/openid-configuration`` and ``.../jwks.json``: each account's
OIDC issuer (outbound identity federation), unauthenticated, for the services that verify the
tokens GetWebIdentityToken issues (``federation/outbound.py`` says what is served and when).

Both answers are JSON with ``Cache-Control: public, max-age=300``; an unknown issuer id, or one
whose account turned the feature off more than an hour ago, gets ``404`` (``{"error": "not found"}``,
``Cache-Control: no-store``). The JWKS holds only public keys (``kty``, ``kid``, ``use``, ``alg`` and
``n``/``e`` or ``crv``/``x``/``y``), read from the store on every request, so every node serves the
keys another has just rotated in (verifiers cache the answer; the read is two small queries).
Blocking: the caller runs :meth:`IssuerDocuments.answer` in a worker thread.
"""

from __future__ import annotations

from typing import Any

from opensts.federation.outbound import (
    CACHE_CONTROL,
    DISCOVERY_SUFFIX,
    ISSUER_ID_RE,
    ISSUER_PATH_PREFIX,
    JWKS_SUFFIX,
    discovery_document,
    issuer_served,
    issuer_url,
)
from opensts.runtime import Runtime, jwt_keys, outbound_federation
from opensts.tokens.jwt_keys import published_jwks

NOT_FOUND: tuple[int, dict[str, Any], str] = (404, {"error": "not found"}, "no-store")
DISCOVERY_ROUTE = ISSUER_PATH_PREFIX + "{issuer_id}" + DISCOVERY_SUFFIX
JWKS_ROUTE = ISSUER_PATH_PREFIX + "{issuer_id}" + JWKS_SUFFIX


class IssuerDocuments:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def answer(self, issuer_id: str, document: str) -> tuple[int, dict[str, Any], str]:
        """``(status, JSON body, Cache-Control)`` for ``document`` (``"discovery"`` or ``"jwks"``)."""
        if not ISSUER_ID_RE.match(issuer_id):  # never reaches the store
            return NOT_FOUND
        runtime = self.runtime
        state = outbound_federation(runtime, issuer_id=issuer_id)
        if state is None or not issuer_served(state.enabled, state.disabled_at, runtime.clock.now()):
            return NOT_FOUND
        if document == "discovery":
            return 200, discovery_document(issuer_url(runtime.settings.public_base_url, issuer_id)), CACHE_CONTROL
        return 200, published_jwks(jwt_keys(runtime), int(runtime.clock.timestamp())), CACHE_CONTROL
