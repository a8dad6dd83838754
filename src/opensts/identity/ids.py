"""AWS-shaped identifiers.

Access key ids carry their account the way AWS encodes it: the id is a 4-letter prefix and 16
base32 characters (10 bytes); bits 46..7 of the first six bytes hold the account number (AWS does
not document the layout; GetAccessKeyInfo reads it:
https://docs.aws.amazon.com/STS/latest/APIReference/API_GetAccessKeyInfo.html). We generate ours
the same way so GetAccessKeyInfo answers without a lookup. The other unique ids (user,
role, policy, group, instance profile) are opaque: prefix + 17 random base32 characters, as AWS's are.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets

ACCESS_KEY_PREFIXES = ("AKIA", "ASIA")
ACCOUNT_ID_PATTERN = re.compile(r"^[0-9]{12}$")
_ACCOUNT_MASK = 0x7FFFFFFFFF80  # bits 46..7 of the first 48 bits
_BASE32_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


def is_account_id(value: str) -> bool:
    return len(value) == 12 and value.isascii() and value.isdigit()  # ACCOUNT_ID_PATTERN, without the regex


def new_account_id() -> str:
    """A random 12-digit account id that does not start with 0 (AWS's never do)."""
    return str(secrets.randbelow(9 * 10**11) + 10**11)


# Every pair of base32 digits, indexed by the 10 bits they stand for: an 80-bit id is 8 lookups
# (base64.b32encode is pure Python before 3.12, and access key ids are made on every STS call).
_BASE32_PAIRS = tuple(a + b for a in _BASE32_ALPHABET for b in _BASE32_ALPHABET)


def _base32_80(n: int) -> str:
    """The 16-character base32 form of an 80-bit number (no padding), as base64.b32encode writes it."""
    p = _BASE32_PAIRS
    return (p[n >> 70] + p[n >> 60 & 1023] + p[n >> 50 & 1023] + p[n >> 40 & 1023]
            + p[n >> 30 & 1023] + p[n >> 20 & 1023] + p[n >> 10 & 1023] + p[n & 1023])


def _access_key_id(prefix: str, account_id: str, random: bytes | None = None) -> str:
    if not is_account_id(account_id):
        raise ValueError(f"not a 12-digit account id: {account_id!r}")
    random_bits = int.from_bytes(random or secrets.token_bytes(10), "big")
    head = (int(account_id) << 7) | (random_bits & 0x7F)  # top bit stays 0, low 7 bits random
    return prefix + _base32_80(head << 32 | (random_bits >> 48 & 0xFFFFFFFF))


def new_long_term_access_key_id(account_id: str) -> str:
    """An ``AKIA`` id for an IAM user's or the root's long-term key."""
    return _access_key_id("AKIA", account_id)


def new_temporary_access_key_id(account_id: str) -> str:
    """An ``ASIA`` id for temporary (session) credentials."""
    return _access_key_id("ASIA", account_id)


def account_from_access_key_id(access_key_id: str) -> str | None:
    """The account encoded in an AWS-format access key id, or None if the id is not in that format."""
    if len(access_key_id) != 20 or not access_key_id[:4].isalpha():
        return None
    try:
        raw = base64.b32decode(access_key_id[4:])
    except ValueError:
        return None
    account = (int.from_bytes(raw[0:6], "big") & _ACCOUNT_MASK) >> 7
    return f"{account:012d}"


def new_secret_access_key() -> str:
    """40 characters of base64 alphabet, the shape of an AWS secret key (240 bits of entropy)."""
    return base64.b64encode(secrets.token_bytes(30)).decode("ascii")


def new_temporary_key_pair(account_id: str) -> tuple[str, str]:
    """An ``ASIA`` id and a secret key for session credentials, from one read of the system CSPRNG
    (a read is a system call: STS issues these on every call)."""
    random = secrets.token_bytes(40)
    return _access_key_id("ASIA", account_id, random[:10]), binascii.b2a_base64(random[10:], newline=False).decode("ascii")


def new_unique_id(prefix: str) -> str:
    """A unique id such as AIDA…, AROA…, ANPA…, AGPA…, AIPA…: prefix + 17 random base32 characters."""
    return prefix + _random_base32(17)


def _random_base32(count: int) -> str:
    """``count`` uniformly random characters of :data:`_BASE32_ALPHABET` (5 bits each), from one read
    of the system CSPRNG: a character chosen at a time cost a read (a system call) each."""
    bits = int.from_bytes(secrets.token_bytes((count * 5 + 7) // 8), "big")
    return "".join(_BASE32_ALPHABET[bits >> shift & 31] for shift in range(0, count * 5, 5))


def new_user_id() -> str:
    return new_unique_id("AIDA")


def new_role_id() -> str:
    return new_unique_id("AROA")


def new_policy_id() -> str:
    return new_unique_id("ANPA")


def new_group_id() -> str:
    return new_unique_id("AGPA")


def new_instance_profile_id() -> str:
    return new_unique_id("AIPA")


# --- User credentials and server certificates (IAM) ---------------------------------------------
def new_ssh_public_key_id() -> str:
    """``APKA…``: an SSH public key's id (UploadSSHPublicKey), 21 characters."""
    return new_unique_id("APKA")


def new_signing_certificate_id() -> str:
    """A signing certificate's id: 28 base32 characters with no prefix, the shape of AWS's
    (``certificateIdType`` is 24-128 word characters)."""
    return _random_base32(28)


def new_server_certificate_id() -> str:
    """``ASCA…``: a server certificate's unique id."""
    return new_unique_id("ASCA")


def new_service_specific_credential_id() -> str:
    """``ACCA…``: a service-specific credential's id."""
    return new_unique_id("ACCA")
