"""The one error tree of commande.

Every error we raise on purpose derives from :class:`CommandeError` and carries a message a
person can act on. Driver errors (asyncpg, aiokafka, smtplib) are translated at the adapter that
met them, so callers never catch a library's exception types.
"""

from __future__ import annotations


class CommandeError(Exception):
    """Root of every error commande raises on purpose."""


class ConfigurationError(CommandeError):
    """A setting, a reference-data file or the local environment is wrong.

    The message says how to fix it.
    """


class ContractError(CommandeError):
    """A record or payload does not satisfy its contract (envelope, event model, registry)."""


class RuleViolation(CommandeError):
    """A domain rule refused an event or command."""


class StaleState(CommandeError):
    """A command does not fit the current state of its aggregate."""


class TransientError(CommandeError):
    """A dependency (database, broker, mail server) is unavailable for now: retry, never drop."""


class EnvelopeError(ContractError):
    """A Kafka record is not a valid commande CloudEvent; ``header`` names the culprit.

    Messages never echo a value that could carry personal data: only header names, field paths
    and the (short, sanitised) values of protocol attributes such as ``ce_type``.
    """

    def __init__(self, message: str, *, header: str | None = None) -> None:
        super().__init__(message)
        self.header = header


class MissingHeader(EnvelopeError):
    """A required ``ce_`` header (or ``content-type``) is absent."""


class InvalidHeader(EnvelopeError):
    """A header is present but malformed (not UTF-8, not a UUIDv7, not RFC 3339, repeated, ...)."""


class BadSpecVersion(EnvelopeError):
    """``ce_specversion`` is not ``1.0``."""


class UnknownEventType(EnvelopeError):
    """``ce_type`` names no registered event or command."""


class WrongTopic(EnvelopeError):
    """The event type is registered, but not for the topic the record came from."""


class UnsupportedContentType(EnvelopeError):
    """``content-type`` is not ``application/json`` (binary mode, JSON body: the contract)."""


class InvalidBody(ContractError):
    """The record value does not match its type's model.

    ``errors`` lists ``(path, message)`` pairs; ``path`` is dotted (``summary.persons.0.age_group``)
    or ``""`` for the whole body. The offending values are never included.
    """

    def __init__(self, ce_type: str, errors: tuple[tuple[str, str], ...]) -> None:
        shown = "; ".join(f"{path or '<body>'}: {msg}" for path, msg in errors[:20])
        more = f" (+{len(errors) - 20} more)" if len(errors) > 20 else ""
        super().__init__(f"body does not match {ce_type}: {shown}{more}")
        self.ce_type = ce_type
        self.errors = errors

    @property
    def paths(self) -> tuple[str, ...]:
        """The dotted paths of every failing field."""
        return tuple(path for path, _ in self.errors)


class Unauthenticated(CommandeError):
    """A bearer token was refused (absent, malformed, expired, wrong issuer or audience, bad
    signature); ``code`` says which, for a problem a client can act on. Never echoes the token."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
