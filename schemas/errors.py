"""The one error tree of commande.

Every error we raise on purpose derives from :class:`CommandeError` and carries a message a
person can act on. Driver errors (asyncpg, aiokafka, smtplib) are translated at the adapter that
met them, so callers never catch a library's exception types.
"""

from __future__ import annotations


class CommandeError(Exception):
    """Root of every error commande raises on purpose."""


class ConfigurationError(CommandeError):
    """A setting, a reference-data file or the local environment is wrong; the message says how to fix it."""


class ContractError(CommandeError):
    """A record or payload does not satisfy its contract (envelope, event model, registry)."""


class RuleViolation(CommandeError):
    """A domain rule refused an event or command."""


class StaleState(CommandeError):
    """A command does not fit the current state of its aggregate."""


class TransientError(CommandeError):
    """A dependency (database, broker, mail server) is unavailable for now: retry, never drop."""
