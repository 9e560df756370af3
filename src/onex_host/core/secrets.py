"""The type of every secret a contract holds: a ``SecretStr`` that is refused when it cannot be a secret.

A token with a trailing newline (``echo token > file``, a Kubernetes secret
made from such a file, a ``.env`` line with a space) is the most common secret
mistake, and the worst: the client library refuses it at request time with a
message that quotes the header value, and that message used to reach health
output and error replies. So a secret that starts or ends with whitespace, or
holds a control character, is refused when the contract is parsed, with a
message that names the field and never the value.
"""

from __future__ import annotations

import unicodedata
from typing import Annotated

from pydantic import AfterValidator, SecretStr

MALFORMED_VALUE = (
    "must not start or end with whitespace or contain control characters "
    "(a stray newline from a file, .env line or Kubernetes secret?); the value is not shown"
)


def secret_problem(value: str) -> str | None:
    """Why ``value`` cannot be a secret, or None."""
    if value != value.strip() or any(unicodedata.category(char).startswith("C") for char in value):
        return MALFORMED_VALUE
    return None


def _checked(secret: SecretStr) -> SecretStr:
    problem = secret_problem(secret.get_secret_value())
    if problem:
        raise ValueError(problem)
    return secret


SecretText = Annotated[SecretStr, AfterValidator(_checked)]
"""A secret from a contract (a token, a password, an API key): masked in reprs, refused if malformed."""
