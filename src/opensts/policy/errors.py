"""The one exception the policy engine raises for bad policy documents.

The engine imports nothing from the rest of OpenSTS; the IAM/STS layers map this to the AWS
``MalformedPolicyDocument`` error (HTTP 400) using :attr:`PolicyValidationError.message`.
"""
from __future__ import annotations


class PolicyValidationError(Exception):
    """A policy document is not valid for its kind.

    ``message`` is the text for AWS's ``MalformedPolicyDocument`` error; ``statement_index``
    (0-based) and ``sid`` locate the offending statement when there is one.
    """

    def __init__(self, message: str, *, statement_index: int | None = None, sid: str | None = None) -> None:
        self.aws_message = message
        self.statement_index = statement_index
        self.sid = sid
        if statement_index is not None:
            where = f"Statement {statement_index + 1}"
            if sid:
                where += f' (Sid "{sid}")'
            message = f"{message} [{where}]"
        self.message = message
        super().__init__(message)
