"""The gateway's committed OpenAPI document is the code's, and describes every route it serves."""

from __future__ import annotations

import json
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from services.gateway import api, openapi
from services.gateway.main import build
from services.gateway.settings import GatewaySettings

pytestmark = pytest.mark.unit


def test_the_committed_document_is_the_generated_one() -> None:
    """Regenerate with `commande schemas export`."""
    assert json.loads(openapi.DOCUMENT.read_text()) == openapi.document()


def test_every_route_is_documented_and_every_documented_operation_served() -> None:
    settings = GatewaySettings(env="development", kafka_security_protocol="PLAINTEXT")
    svc = build(settings)
    # the table console's pages (/console/...) are HTML for browsers, not the API
    served = {(route.path, method) for route in svc.routes  # type: ignore[attr-defined]
              for method in route.methods - {"HEAD"}  # type: ignore[attr-defined]
              if not route.path.startswith("/console/")}  # type: ignore[attr-defined]
    document: dict[str, Any] = openapi.document()
    documented = {(path, method.upper()) for path, item in document["paths"].items()
                  for method in item}
    assert served == documented
    assert len(served) == len(api.OPERATIONS)


def test_every_schema_is_valid_json_schema_and_every_ref_resolves() -> None:
    document = openapi.document()
    schemas = document["components"]["schemas"]
    for schema in schemas.values():
        Draft202012Validator.check_schema(schema)
    text = json.dumps(document)
    for name in {part.split('"')[0] for part in text.split("#/components/schemas/")[1:]}:
        assert name in schemas, name


def test_no_command_body_accepts_an_actor() -> None:
    for op in api.OPERATIONS:
        if op.body is not None:
            schema = op.body.model_json_schema()
            assert "actor" not in schema["properties"]
            assert schema["additionalProperties"] is False
