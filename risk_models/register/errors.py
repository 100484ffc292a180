"""Typed errors of the hidden-danger register, all :class:`gis.errors.InputError` subclasses.

The service maps them to answers: :class:`RoleError` (the role or unit may not act on the
item) to 403, :class:`TransitionError` (the action does not fit the item's state or lacks
data) to 409 or 422, any other :class:`RegisterError` (a bad table or frame) to 422.
"""

from __future__ import annotations

from gis.errors import InputError

__all__ = ["RegisterError", "RoleError", "TransitionError"]


class RegisterError(InputError):
    """A register table, frame or event is wrong; the message says what and how to fix it."""


class TransitionError(RegisterError):
    """An event does not fit the workflow: wrong state, missing or bad data, time out of order."""


class RoleError(TransitionError):
    """The event's role (or the actor's unit) may not make this transition on this item."""
