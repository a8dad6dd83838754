"""X.509 certificates and private keys as IAM takes them (signing and server certificates), read
with ``cryptography``, and the errors AWS answers about them.

- A certificate body is exactly one PEM ``CERTIFICATE`` block; anything else is
  ``MalformedCertificate`` ("Unable to parse certificate. Please ensure the certificate is in PEM
  format."). A certificate past its ``notAfter`` is refused: for server certificates with AWS's
  ``MalformedCertificate`` "Certificate is no longer valid. The 'Not After' date restriction on the
  certificate has passed.", for signing certificates with ``InvalidCertificate``.
- A private key is one unencrypted PEM key (PKCS#1 or PKCS#8), RSA of 1024-4096 bits or EC; an
  encrypted key, another algorithm or anything unreadable is ``MalformedCertificate``. The key must
  be the certificate's (``KeyPairMismatch`` otherwise).
- A chain is 1-:data:`MAX_CHAIN` PEM certificates that must start with the certificate's issuer and
  go on issuer by issuer, each signature checked (``MalformedCertificate`` "Unable to validate
  certificate chain. ..." otherwise).

Messages follow AWS's where AWS's are known; the rest say what is wrong in AWS's style.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from opensts.errors import AwsError

MAX_CHAIN = 32  # certificates in a chain: bounds the work (AWS's chains are a few)
RSA_KEY_BITS = (1024, 4096)

UNPARSABLE_CERTIFICATE = "Unable to parse certificate. Please ensure the certificate is in PEM format."
EXPIRED_CERTIFICATE = (
    "Certificate is no longer valid. The 'Not After' date restriction on the certificate has passed."
)
BAD_CHAIN = (
    "Unable to validate certificate chain. The certificate chain must start with the immediate signing "
    "certificate, followed by any intermediaries in order. The index within the chain of the invalid "
    "certificate is: {index}"
)
UNPARSABLE_KEY = "Unable to parse private key. Please ensure the key is an unencrypted PEM RSA or EC private key."
KEY_MISMATCH = "The private key does not match the public key in the certificate."


class MalformedCertificate(AwsError):
    code, status = "MalformedCertificate", 400


class InvalidCertificate(AwsError):
    code, status = "InvalidCertificate", 400


class DuplicateCertificate(AwsError):
    code, status = "DuplicateCertificate", 409


class KeyPairMismatch(AwsError):
    code, status = "KeyPairMismatch", 400


def _pem_bytes(text: str) -> bytes:
    # The parameters' pattern is \t\n\r and U+0020-U+00FF: Latin-1 covers every character.
    return text.strip().encode("latin-1", errors="replace")


def parse_certificate(body: str) -> x509.Certificate:
    """The one certificate of a PEM body, or MalformedCertificate."""
    try:
        certificates = x509.load_pem_x509_certificates(_pem_bytes(body))
    except ValueError:
        raise MalformedCertificate(UNPARSABLE_CERTIFICATE) from None
    if len(certificates) != 1:
        raise MalformedCertificate(UNPARSABLE_CERTIFICATE)
    try:
        # Parsed lazily by cryptography: read here what later checks use, so that a key on an
        # unknown curve or a bad validity date is MalformedCertificate, not an error later on.
        certificates[0].public_key()
        certificates[0].not_valid_after_utc
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise MalformedCertificate(UNPARSABLE_CERTIFICATE) from None
    return certificates[0]


def expired(certificate: x509.Certificate, now: datetime) -> bool:
    return certificate.not_valid_after_utc <= now


def fingerprint(certificate: x509.Certificate) -> str:
    """SHA-256 of the DER certificate, hex: what makes two uploads the same certificate."""
    return hashlib.sha256(certificate.public_bytes(serialization.Encoding.DER)).hexdigest()


def parse_private_key(text: str) -> rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey:
    """An unencrypted RSA (1024-4096 bits) or EC private key, or MalformedCertificate."""
    try:
        key = serialization.load_pem_private_key(_pem_bytes(text), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):  # TypeError: the key is encrypted
        raise MalformedCertificate(UNPARSABLE_KEY) from None
    if isinstance(key, rsa.RSAPrivateKey) and RSA_KEY_BITS[0] <= key.key_size <= RSA_KEY_BITS[1]:
        return key
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key
    raise MalformedCertificate(UNPARSABLE_KEY)


def _public_der(key: object) -> bytes:
    return key.public_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def check_key_pair(certificate: x509.Certificate, key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> None:
    """KeyPairMismatch unless ``key`` is the private half of the certificate's public key."""
    if _public_der(certificate.public_key()) != _public_der(key.public_key()):
        raise KeyPairMismatch(KEY_MISMATCH)


def parse_chain(text: str, certificate: x509.Certificate) -> list[x509.Certificate]:
    """The chain's certificates, each the issuer (signature checked) of the one before it, the
    first of ``certificate``; MalformedCertificate otherwise."""
    try:
        chain = x509.load_pem_x509_certificates(_pem_bytes(text))
    except ValueError:
        raise MalformedCertificate(UNPARSABLE_CERTIFICATE) from None
    if not chain or len(chain) > MAX_CHAIN:
        raise MalformedCertificate(BAD_CHAIN.format(index=min(len(chain), MAX_CHAIN)))
    child = certificate
    for index, issuer in enumerate(chain):
        try:
            child.verify_directly_issued_by(issuer)
        except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
            raise MalformedCertificate(BAD_CHAIN.format(index=index)) from None
        child = issuer
    return chain
