"""The STS actions, one module per family. Importing the package registers them."""

from opensts.sts import access_key_info, caller_identity  # noqa: F401
