"""The JSON Schema (draft 2020-12) of each event and command, as committed under snapshots/."""

from __future__ import annotations

from typing import Any

from schemas.base import Message

DIALECT = "https://json-schema.org/draft/2020-12/schema"
ID_BASE = "urn:commande:schema:"


def json_schema(model: type[Message]) -> dict[str, Any]:
    """The validation JSON Schema of ``model``, with its CloudEvents type and topic.

    ``$id`` is ``urn:commande:schema:<ce_type>``; ``x-cloudevents-type`` and ``x-kafka-topic``
    say where records of this type travel.
    """
    schema = model.model_json_schema(mode="validation")
    return {
        "$schema": DIALECT,
        "$id": ID_BASE + model.ce_type,
        "x-cloudevents-type": model.ce_type,
        "x-kafka-topic": model.topic.name,
        **schema,
    }
