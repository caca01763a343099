"""An AsyncAPI 3.0 document of the topics and message schemas, generated from the registry.

Interim: once the FastStream apps exist their own AsyncAPI output describes the operations;
this document describes the contracts (channels = topics, messages = CloudEvents types).
"""

from __future__ import annotations

from typing import Any

from pydantic.json_schema import models_json_schema

from schemas.base import BASE64_PATTERN, CE_TYPE_PATTERN, RFC3339_PATTERN, UUID7_PATTERN, Message
from schemas.envelope import CONTENT_TYPE, SPECVERSION
from schemas.registry import MESSAGES, is_command, models_on
from schemas.signing import H_SIGNATURE
from schemas.topics import DLQ, REFERRALS, TOPICS, TopicSpec

ASYNCAPI_VERSION = "3.0.0"
KAFKA_BINDING_VERSION = "0.5.0"
REF = "#/components/schemas/{model}"


def channel_id(spec: TopicSpec) -> str:
    """The channel id of a topic: ``commande.referral-status.v1`` → ``referralStatus``,
    ``commande.referrals.urgent.v1`` → ``referralsUrgent``."""
    words = [w for part in spec.name.split(".")[1:-1] for w in part.split("-")]
    return words[0] + "".join(w.capitalize() for w in words[1:])


def _headers_schema() -> dict[str, Any]:
    uuid7 = {"type": "string", "pattern": UUID7_PATTERN}
    token = {"type": "string", "pattern": r"^[A-Za-z0-9._:-]{1,128}$"}
    return {
        "type": "object",
        "description": "CloudEvents 1.0 Kafka binary-mode headers. Never personal data.",
        "required": ["ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time", "content-type"],
        "properties": {
            "ce_specversion": {"type": "string", "const": SPECVERSION},
            "ce_id": uuid7,
            "ce_source": {"type": "string", "pattern": r"^[\x21-\x7e]{1,256}$"},
            "ce_type": {"type": "string", "pattern": CE_TYPE_PATTERN},
            "ce_time": {"type": "string", "format": "date-time", "pattern": RFC3339_PATTERN},
            "ce_subject": {**uuid7, "description": "The situation id, when there is one."},
            "content-type": {"type": "string", "const": CONTENT_TYPE},
            "ce_correlationid": token,
            "ce_causationid": token,
            H_SIGNATURE: {"type": "string", "pattern": BASE64_PATTERN, "description": (
                "Extension attribute 'signature': base64 of the Ed25519 signature of the record "
                "(schemas/signing.py, docs/partners.md). Required on referral records.")},
        },
    }


def _message(model: type[Message]) -> dict[str, Any]:
    doc = (model.__doc__ or "").strip().split("\n", 1)[0]
    return {
        "name": model.__name__,
        "title": model.__name__,
        "summary": doc,
        "contentType": CONTENT_TYPE,
        "headers": {
            "allOf": [
                {"$ref": REF.format(model="CloudEventHeaders")},
                {"properties": {"ce_type": {"const": model.ce_type}},
                 **({"required": [H_SIGNATURE]} if model.topic is REFERRALS else {})},
            ]
        },
        "payload": {"$ref": REF.format(model=model.__name__)},
        "tags": [{"name": "command" if is_command(model) else "event"}],
        "x-cloudevents-type": model.ce_type,
        "bindings": {
            "kafka": {
                "key": {"type": "string", "description": model.topic.key_rule},
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
    }


def _channel(spec: TopicSpec, models: list[type[Message]]) -> dict[str, Any]:
    messages = {m.__name__: {"$ref": f"#/components/messages/{m.__name__}"} for m in models}
    if spec is DLQ:
        messages = {"DeadLetter": {"$ref": "#/components/messages/DeadLetter"}}
    return {
        "address": spec.name,
        "title": spec.name,
        "description": (
            f"Key: {spec.key_rule}. Writers: {spec.writers}. Readers: {spec.readers}."
            + (" Restricted: carries identity." if spec.restricted else "")
        ),
        "messages": messages,
        "bindings": {
            "kafka": {
                "topic": spec.name,
                "partitions": spec.partitions,
                "topicConfiguration": {
                    "cleanup.policy": [spec.cleanup.value],
                    "retention.ms": spec.retention_ms,
                },
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
    }


def document() -> dict[str, Any]:
    """The AsyncAPI 3.0 document (a JSON-ready dict)."""
    _, defs = models_json_schema(
        [(model, "validation") for model in MESSAGES], ref_template=REF
    )
    schemas: dict[str, Any] = dict(defs.get("$defs", {}))
    schemas["CloudEventHeaders"] = _headers_schema()
    messages: dict[str, Any] = {m.__name__: _message(m) for m in MESSAGES}
    messages["DeadLetter"] = {
        "name": "DeadLetter",
        "title": "DeadLetter",
        "summary": "The original record's bytes, with error, orig_topic, orig_partition and "
        "orig_offset headers.",
        "contentType": "application/octet-stream",
        "payload": {"description": "the original value, unchanged"},
    }
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for spec in TOPICS:
        models = list(models_on(spec.name))
        cid = channel_id(spec)
        channels[cid] = _channel(spec, models)
        refs = [{"$ref": f"#/channels/{cid}/messages/{name}"} for name in channels[cid]["messages"]]
        operations[f"send_{cid}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{cid}"},
            "summary": f"{spec.writers} publish to {spec.name}",
            "messages": refs,
        }
        operations[f"receive_{cid}"] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{cid}"},
            "summary": f"{spec.readers} consume {spec.name}",
            "messages": refs,
        }
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "commande contracts",
            "version": "1.0.0",
            "description": "CloudEvents 1.0 over Kafka (binary mode) between the commande "
            "services and partner agencies. Generated from schemas/registry.py.",
        },
        "defaultContentType": CONTENT_TYPE,
        "servers": {
            "local": {
                "host": "127.0.0.1:9092",
                "protocol": "kafka",
                "description": "The embedded single-node stack (commande stack up).",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {"schemas": schemas, "messages": messages},
    }
