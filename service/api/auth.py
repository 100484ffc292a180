"""The API token that guards write endpoints (and, when configured, read endpoints).

The token comes from the environment variable ``RISKPLAN_API_TOKEN`` or, failing that, from
the file ``DATA_DIR/api_token`` (mode 0600), created with a random token on first start.
Clients send ``Authorization: Bearer <token>``; it is compared in constant time
(:func:`hmac.compare_digest`) and never logged or echoed.
"""

from __future__ import annotations

import hmac
import logging
import os
import secrets
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from gis import InputError

__all__ = ["TOKEN_ENV", "TOKEN_FILE", "AuthError", "TokenSource", "check_bearer", "resolve_token"]

log = logging.getLogger(__name__)

TOKEN_ENV = "RISKPLAN_API_TOKEN"
TOKEN_FILE = "api_token"
_MIN_TOKEN_CHARS = 16


class AuthError(InputError):
    """A request lacks a token (``status`` 401) or carries a wrong one (403)."""

    def __init__(
        self, message: str, status: int, *, key: str | None = None, values: Mapping[str, object] | None = None
    ) -> None:
        super().__init__(message, key=key, values=values)
        self.status = status


@dataclass(frozen=True)
class TokenSource:
    """The token in force and where it came from.

    Attributes
    ----------
    token
        The secret itself (``repr`` hides it).
    path
        The token file, or ``None`` when the token came from the environment.
    created
        True when this start created the file.
    """

    token: str = field(repr=False)
    path: Path | None
    created: bool = False

    def describe(self) -> str:
        """Where the token is, for people (never the token itself)."""
        if self.path is None:
            return f"API token taken from the environment variable {TOKEN_ENV}"
        verb = "created and stored" if self.created else "stored"
        return f"API token {verb} in {self.path} (send it as `Authorization: Bearer <token>`)"


def resolve_token(data_dir: str | Path, *, env: dict[str, str] | None = None) -> TokenSource:
    """Return the API token from ``$RISKPLAN_API_TOKEN`` or ``DATA_DIR/api_token``, creating the file.

    Examples
    --------
    >>> import tempfile
    >>> src = resolve_token(tempfile.mkdtemp(), env={})
    >>> src.created, oct(src.path.stat().st_mode & 0o777), len(src.token) >= 32
    (True, '0o600', True)
    """
    environ = os.environ if env is None else env
    given = environ.get(TOKEN_ENV, "").strip()
    if given:
        if len(given) < _MIN_TOKEN_CHARS:
            msg = f"${TOKEN_ENV} is too short. Fix: use at least {_MIN_TOKEN_CHARS} random characters."
            raise InputError(msg)
        return TokenSource(given, None)
    path = Path(data_dir) / TOKEN_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            log.warning("%s is readable by other users; run `chmod 600 %s`", path, path)
        existing = path.read_text(encoding="utf-8").strip()
        if len(existing) < _MIN_TOKEN_CHARS:
            msg = f"The token file `{path}` is empty or too short. Fix: delete it to have a new one made."
            raise InputError(msg) from None
        return TokenSource(existing, path)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(token + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    log.info("created a new API token file at %s", path)
    return TokenSource(token, path, created=True)


def check_bearer(authorization: str | None, token: str) -> None:
    """Raise :class:`AuthError` unless ``authorization`` is ``Bearer <token>``.

    Examples
    --------
    >>> check_bearer("Bearer s3cret-s3cret-s3cret", "s3cret-s3cret-s3cret")
    >>> check_bearer(None, "s3cret-s3cret-s3cret")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    service.api.auth.AuthError: This endpoint needs an API token...
    """
    if not authorization:
        msg = (
            "This endpoint needs an API token. Fix: send `Authorization: Bearer <token>`; "
            "the token is in DATA_DIR/api_token on the server."
        )
        raise AuthError(msg, 401, key="token_missing")
    scheme, _, given = authorization.partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        msg = "The Authorization header must be `Bearer <token>`."
        raise AuthError(msg, 401, key="bearer_malformed")
    if not hmac.compare_digest(given.strip().encode("utf-8"), token.encode("utf-8")):
        msg = "The API token is wrong. Fix: use the token from DATA_DIR/api_token on the server."
        raise AuthError(msg, 403, key="token_wrong")
