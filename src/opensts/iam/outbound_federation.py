"""Outbound identity federation of the caller's account: turning it on and off, and reading it.

- https://docs.aws.amazon.com/IAM/latest/APIReference/API_EnableOutboundWebIdentityFederation.html:
  turns it on and returns the account's issuer URL (``IssuerIdentifier``); ``FeatureEnabled`` (409)
  when it is already on. The first call creates the account's opaque issuer id; later ones keep it,
  so the issuer URL of an account never changes (unless ``--public-url`` does). It also creates the
  deployment's JWT signing keys if there are none yet, so that the issuer's JWKS is never empty.
- https://docs.aws.amazon.com/IAM/latest/APIReference/API_DisableOutboundWebIdentityFederation.html:
  turns it off (GetWebIdentityToken then answers ``OutboundWebIdentityFederationDisabledException``);
  ``FeatureDisabled`` (404) when it is already off. Tokens issued before stay valid until they
  expire: the issuer's discovery documents are served for an hour more (``federation/outbound.py``).
- https://docs.aws.amazon.com/IAM/latest/APIReference/API_GetOutboundWebIdentityFederationInfo.html:
  ``IssuerIdentifier`` and ``JwtVendingEnabled``. For an account that never turned the feature on
  there is no issuer: ``FeatureDisabled`` (404), the one error botocore's model lists for it. An
  account that turned it off gets its issuer and ``JwtVendingEnabled`` false.

Each needs ``iam:<Action>`` on ``*`` (AWS defines no resource for them). Enable and Disable are IAM
writes: recorded in the audit trail, and every node's caches follow.
"""

from __future__ import annotations

from dataclasses import dataclass

from opensts.actions import ActionContext, action
from opensts.errors import AwsError
from opensts.federation.outbound import issuer_url
from opensts.fields import NoParameters
from opensts.iam.common import authorize_iam, caller_account
from opensts.runtime import jwt_keys
from opensts.store.errors import FederationAlreadyDisabled, FederationAlreadyEnabled


class FeatureEnabled(AwsError):
    code, status = "FeatureEnabled", 409


class FeatureDisabled(AwsError):
    code, status = "FeatureDisabled", 404


ENABLED_MESSAGE = (
    "Outbound identity federation is already enabled for this account. "
    "Use GetOutboundWebIdentityFederationInfo to read its issuer URL."
)
DISABLED_MESSAGE = "Outbound identity federation is already disabled for this account."
NEVER_ENABLED_MESSAGE = "Outbound identity federation is not enabled for this account."


@dataclass(frozen=True, slots=True)
class EnableOutboundWebIdentityFederationResult:
    issuer_identifier: str


@dataclass(frozen=True, slots=True)
class GetOutboundWebIdentityFederationInfoResult:
    issuer_identifier: str
    jwt_vending_enabled: bool


@action("iam", "EnableOutboundWebIdentityFederation", request=NoParameters, writes=True)
def enable_outbound_web_identity_federation(
    ctx: ActionContext, request: NoParameters
) -> EnableOutboundWebIdentityFederationResult:
    account = caller_account(ctx)
    authorize_iam(ctx, "EnableOutboundWebIdentityFederation", "*")
    jwt_keys(ctx.runtime)  # before the issuer exists: its JWKS is never empty
    try:
        state = ctx.runtime.store.outbound_federation.enable(account, ctx.request_time)
    except FederationAlreadyEnabled:
        raise FeatureEnabled(ENABLED_MESSAGE) from None
    return EnableOutboundWebIdentityFederationResult(issuer_url(ctx.runtime.settings.public_base_url, state.issuer_id))


@action("iam", "DisableOutboundWebIdentityFederation", request=NoParameters, writes=True)
def disable_outbound_web_identity_federation(ctx: ActionContext, request: NoParameters) -> None:
    account = caller_account(ctx)
    authorize_iam(ctx, "DisableOutboundWebIdentityFederation", "*")
    try:
        ctx.runtime.store.outbound_federation.disable(account, ctx.request_time)
    except FederationAlreadyDisabled:
        raise FeatureDisabled(DISABLED_MESSAGE) from None


@action("iam", "GetOutboundWebIdentityFederationInfo", request=NoParameters)
def get_outbound_web_identity_federation_info(
    ctx: ActionContext, request: NoParameters
) -> GetOutboundWebIdentityFederationInfoResult:
    account = caller_account(ctx)
    authorize_iam(ctx, "GetOutboundWebIdentityFederationInfo", "*")
    state = ctx.runtime.store.outbound_federation.get(account)
    if state is None:
        raise FeatureDisabled(NEVER_ENABLED_MESSAGE)
    return GetOutboundWebIdentityFederationInfoResult(
        issuer_url(ctx.runtime.settings.public_base_url, state.issuer_id), state.enabled
    )
