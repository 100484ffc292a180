"""Register accounts and their tokens: who acts on the hidden-danger register, as which role.

Each account (a person or a unit: an inspector, the 应急管理局, an enterprise) has its own
token ``rpr_<account id>_<secret>``, shown once when the account is made
(``riskplan register account add``) and stored only as a scrypt hash with a per-token salt
(:func:`hashlib.scrypt`, compared with :func:`hmac.compare_digest`). Tokens are never logged
or echoed. Verifying a token costs a scrypt (tens of milliseconds, on purpose); a verified
token is remembered in memory by a keyed hash (never the token) so that the next request of
the same client costs a dictionary lookup, and the account row is re-read on every request so
that disabling it takes effect at once.

The service's API token (``DATA_DIR/api_token``) keeps working: it acts as ``admin``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime

from gis import InputError
from risk_models.register.vocab import ROLES

from ..store import Account, RegisterStore
from .auth import AuthError

__all__ = ["TOKEN_PREFIX", "Actor", "TokenVerifier", "create_account", "hash_token"]

TOKEN_PREFIX = "rpr_"
_TOKEN = re.compile(r"^rpr_([0-9a-f]{32})_([A-Za-z0-9_-]{20,})$")
# scrypt cost: 16 MiB and ~40 ms per check; the salt is per token
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32, "maxmem": 64 * 1024**2}
_CACHE_SIZE = 4096


@dataclass(frozen=True)
class Actor:
    """Who makes a request to the register: account id, role and unit (None: anonymous)."""

    account: str
    role: str
    unit: str | None = None
    label: str = ""


def hash_token(token: str, salt: bytes) -> bytes:
    """The scrypt hash of ``token`` with ``salt``."""
    return hashlib.scrypt(token.encode("utf-8"), salt=salt, **_SCRYPT)


def create_account(
    register: RegisterStore, *, role: str, unit: str | None, label: str = ""
) -> tuple[Account, str]:
    """Make an account and its token; the token is returned once and stored only hashed.

    Parameters
    ----------
    register
        The register store.
    role
        A role of :data:`risk_models.register.vocab.ROLES`.
    unit
        The unit of a scoped role (``department``, ``enterprise``: required; territorial
        government: its name).
    label
        A name for people.

    Returns
    -------
    tuple of Account and str
        The account and its token (``rpr_<id>_<secret>``).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from service.store import SQLiteRegister
    >>> reg = SQLiteRegister(pathlib.Path(tempfile.mkdtemp()) / "r.sqlite3")
    >>> account, token = create_account(reg, role="department", unit="应急管理局")
    >>> token.startswith("rpr_" + account.id), TokenVerifier(reg).verify(token).unit
    (True, '应急管理局')
    """
    if role not in ROLES:
        msg = f"Role `{role}` is unknown. Fix: use one of {list(ROLES)}."
        raise InputError(msg)
    unit = (unit or "").strip() or None
    scope = register.workflow.scopes.get(role)
    if scope is not None and scope[1] and unit is None:
        msg = f"A `{role}` account acts for a unit. Fix: give `--unit` (its `{scope[0]}`)."
        raise InputError(msg)
    account = Account(
        id=uuid.uuid4().hex,
        role=role,
        unit=unit,
        label=label.strip() or f"{role} {unit or ''}".strip(),
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    token = f"{TOKEN_PREFIX}{account.id}_{secrets.token_urlsafe(32)}"
    salt = secrets.token_bytes(16)
    register.add_account(account, salt=salt, digest=hash_token(token, salt))
    return account, token


class TokenVerifier:
    """Checks register tokens against the stored hashes (remembering the verified ones)."""

    def __init__(self, register: RegisterStore) -> None:
        self.register = register
        self._key = secrets.token_bytes(32)
        self._seen: OrderedDict[bytes, str] = OrderedDict()
        self._lock = threading.Lock()

    def verify(self, token: str) -> Actor:
        """The actor of a valid token; :class:`AuthError` (403) for any other."""
        match = _TOKEN.match(token)
        wrong = "The register token is wrong or disabled. Fix: ask the register administrator for one."
        if match is None:
            raise AuthError(wrong, 403, key="register_token_wrong")
        account_id = match.group(1)
        found = self.register.account_secret(account_id)
        if found is None:
            raise AuthError(wrong, 403, key="register_token_wrong")
        account, salt, digest = found
        key = hmac.new(self._key, token.encode("utf-8"), hashlib.sha256).digest()
        with self._lock:
            known = self._seen.get(key) == account_id
            if known:
                self._seen.move_to_end(key)
        if not known:
            if not hmac.compare_digest(hash_token(token, salt), digest):
                raise AuthError(wrong, 403, key="register_token_wrong")
            with self._lock:
                self._seen[key] = account_id
                while len(self._seen) > _CACHE_SIZE:
                    self._seen.popitem(last=False)
        if account.disabled:
            raise AuthError(wrong, 403, key="register_token_wrong")
        return Actor(account.id, account.role, account.unit, account.label)
