"""The generated AsyncAPI 3.0 document: valid structure, resolvable refs, schemas that fit.

No official AsyncAPI schema package is installed (npm tooling is out of scope), so the structure
is checked against a JSON Schema of the AsyncAPI 3.0.0 objects we use, written from the spec:
document root, info, servers, channels (address, messages, Kafka bindings), operations (action,
channel ref, message refs), components (schemas, messages).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from schemas.asyncapi import document
from schemas.envelope import to_record
from schemas.signing import sign_record
from schemas.snapshots import ASYNCAPI_FILE, HERE
from schemas.topics import REFERRALS, REFERRALS_URGENT, TOPICS
from services.intake.signing import development_signing_key
from tests.support.samples import SOURCE, all_samples

pytestmark = pytest.mark.unit

REF = {"type": "object", "required": ["$ref"], "properties": {"$ref": {"type": "string"}}}
NAME = "^[A-Za-z0-9\\.\\-_]+$"
ASYNCAPI_3_SUBSET: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["asyncapi", "info"],
    "additionalProperties": False,
    "patternProperties": {"^x-": {}},
    "properties": {
        "asyncapi": {"const": "3.0.0"},
        "id": {"type": "string"},
        "defaultContentType": {"type": "string"},
        "info": {
            "type": "object",
            "required": ["title", "version"],
            "properties": {
                "title": {"type": "string"}, "version": {"type": "string"},
                "description": {"type": "string"},
            },
        },
        "servers": {
            "type": "object",
            "propertyNames": {"pattern": NAME},
            "additionalProperties": {
                "type": "object",
                "required": ["host", "protocol"],
                "properties": {"host": {"type": "string"}, "protocol": {"type": "string"}},
            },
        },
        "channels": {
            "type": "object",
            "propertyNames": {"pattern": NAME},
            "additionalProperties": {
                "type": "object",
                "additionalProperties": False,
                "patternProperties": {"^x-": {}},
                "properties": {
                    "address": {"type": ["string", "null"]},
                    "title": {"type": "string"},
                    "summary": {"type": "string"},
                    "description": {"type": "string"},
                    "messages": {"type": "object", "additionalProperties": REF},
                    "bindings": {
                        "type": "object",
                        "properties": {
                            "kafka": {
                                "type": "object",
                                "properties": {
                                    "topic": {"type": "string"},
                                    "partitions": {"type": "integer", "minimum": 1},
                                    "topicConfiguration": {
                                        "type": "object",
                                        "properties": {
                                            "cleanup.policy": {
                                                "type": "array",
                                                "items": {"enum": ["compact", "delete"]},
                                            },
                                            "retention.ms": {"type": "integer", "minimum": -1},
                                        },
                                    },
                                    "bindingVersion": {"const": "0.5.0"},
                                },
                            }
                        },
                    },
                },
            },
        },
        "operations": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "required": ["action", "channel"],
                "properties": {
                    "action": {"enum": ["send", "receive"]},
                    "channel": REF,
                    "messages": {"type": "array", "items": REF},
                    "summary": {"type": "string"},
                },
            },
        },
        "components": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "schemas": {"type": "object", "propertyNames": {"pattern": NAME}},
                "messages": {
                    "type": "object",
                    "propertyNames": {"pattern": NAME},
                    "additionalProperties": {
                        "type": "object",
                        "additionalProperties": False,
                        "patternProperties": {"^x-": {}},
                        "properties": {
                            "name": {"type": "string"}, "title": {"type": "string"},
                            "summary": {"type": "string"}, "contentType": {"type": "string"},
                            "headers": {"type": "object"}, "payload": {"type": "object"},
                            "tags": {"type": "array"}, "bindings": {"type": "object"},
                        },
                    },
                },
            },
        },
    },
}


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for item in node for r in _refs(item)]
    return []


def _pointer(doc: Any, ref: str) -> Any:
    assert ref.startswith("#/"), ref
    for part in ref[2:].split("/"):
        doc = doc[part.replace("~1", "/").replace("~0", "~")]
    return doc


def _validator(doc: dict[str, Any], ref: str) -> Draft202012Validator:
    registry: Registry = Registry().with_resource(
        "urn:asyncapi", Resource.from_contents(doc, default_specification=DRAFT202012)
    )
    return Draft202012Validator({"$ref": "urn:asyncapi" + ref}, registry=registry)


def test_committed_document_is_current_and_structurally_valid() -> None:
    doc = document()
    assert json.loads((HERE / ASYNCAPI_FILE).read_text("utf-8")) == doc
    Draft202012Validator.check_schema(ASYNCAPI_3_SUBSET)
    errors = [e.message for e in Draft202012Validator(ASYNCAPI_3_SUBSET).iter_errors(doc)]
    assert errors == []


def test_every_ref_resolves() -> None:
    doc = document()
    for ref in _refs(doc):
        assert _pointer(doc, ref) is not None, ref


def test_channels_are_the_topic_registry() -> None:
    doc = document()
    channels = {c["address"]: c for c in doc["channels"].values()}
    assert set(channels) == {t.name for t in TOPICS}
    for spec in TOPICS:
        kafka = channels[spec.name]["bindings"]["kafka"]
        assert kafka["partitions"] == spec.partitions
        assert kafka["topicConfiguration"]["retention.ms"] == spec.retention_ms


def test_component_schemas_are_valid_json_schema() -> None:
    for schema in document()["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize("event", all_samples(), ids=lambda e: type(e).__name__)
def test_samples_fit_their_message_payload_and_headers(event: Any) -> None:
    doc = document()
    message = doc["components"]["messages"][type(event).__name__]
    payload = _validator(doc, message["payload"]["$ref"])
    assert payload.is_valid(json.loads(event.model_dump_json()))
    assert not payload.is_valid({"unexpected": True})
    record = to_record(event, source=SOURCE, correlation_id="trace-1")
    validator = _validator(doc, f"#/components/messages/{type(event).__name__}/headers")
    if record.topic in (REFERRALS.name, REFERRALS_URGENT.name):  # signed by its agency
        unsigned = {k: v.decode() for k, v in record.headers}
        assert not validator.is_valid(unsigned)
        record = sign_record(record, development_signing_key("any-agency"))
    headers = {k: v.decode() for k, v in record.headers}
    assert list(validator.iter_errors(headers)) == []
    assert not validator.is_valid({**headers, "ce_type": "ca.halton.commande.other.thing.v1"})
    channel = next(c for c in doc["channels"].values() if c["address"] == record.topic)
    assert type(event).__name__ in channel["messages"]
