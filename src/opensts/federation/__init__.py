"""Identity federation and MFA: TOTP codes of virtual MFA devices, SAML IdP metadata, and (later)
OIDC tokens and SAML assertions."""
