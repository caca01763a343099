"""The gateway's OpenAPI 3.1 document, made from :data:`services.gateway.api.OPERATIONS` (the
table the routes are made from too) and the bodies' and answers' pydantic models.

``services/gateway/openapi.json`` is committed; ``commande schemas export`` rewrites it and a
contract test fails when the code and the file differ.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from services.gateway import api

DOCUMENT = Path(__file__).with_name("openapi.json")
REF = "#/components/schemas/{model}"


def document() -> dict[str, Any]:
    """The whole document."""
    models: set[type[BaseModel]] = {api.Problem}
    for op in api.OPERATIONS:
        models.add(op.ok)
        if op.body is not None:
            models.add(op.body)
    ordered = sorted(models, key=lambda m: m.__name__)
    modes: list[tuple[type[BaseModel], Literal["validation", "serialization"]]] = [
        (m, "validation" if issubclass(m, api.Body) else "serialization") for m in ordered]
    _, definitions = models_json_schema(modes, ref_template=REF)
    paths: dict[str, dict[str, Any]] = {}
    for op in api.OPERATIONS:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "commande gateway",
            "version": "1",
            "description": (
                "The COMMANDE Tables' commands and queries for people and partner systems. Sign "
                "in with the region's OpenID Connect provider (people: authorization code with "
                "PKCE or `commande login`; a partner agency's system: client credentials) and "
                "send the access token as a bearer token. The gateway maps the token's groups "
                "(`/agencies/<agency_id>/<role>`) to an agency through the directory and stamps "
                "that actor on every command: a body never carries `actor`. A command answers "
                "with its outcome: 200 with the facts it caused, 403/409/422 with every reason "
                "(a refusal names the actor), or 504 with a `status_url`."),
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "tags": [{"name": "table"}, {"name": "event requests"}, {"name": "queries"}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {
                "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                "description": "An OpenID Connect access token of the configured issuer, with "
                               "the gateway's audience (`commande-gateway` by default)."}},
            "schemas": definitions.get("$defs", {}),
        },
    }


def _operation(op: api.Operation) -> dict[str, Any]:
    ok = {"description": api.STATUS_TEXT[op.ok_status],
          "content": {"application/json": {"schema": {"$ref": REF.format(model=op.ok.__name__)}}}}
    responses: dict[str, Any] = {str(op.ok_status): ok}
    parameters: list[dict[str, Any]] = [
        {"name": p, "in": "path", "required": True, "schema": {"type": "string", "format": "uuid"}}
        for p in op.params]
    out: dict[str, Any] = {"operationId": op.operation_id, "summary": op.summary, "tags": [op.tag]}
    if op.body is not None:
        parameters.append({
            "name": "wait", "in": "query", "required": False,
            "description": "Seconds to wait for the outcome (0: answer 202 at once); the "
                           "gateway's setting by default, at most 120.",
            "schema": {"type": "number", "minimum": 0, "maximum": 120}})
        out["requestBody"] = {"required": True, "content": {"application/json": {
            "schema": {"$ref": REF.format(model=op.body.__name__)}}}}
        responses["202"] = {"description": api.STATUS_TEXT[202], "content": {
            "application/json": {"schema": {"$ref": REF.format(model=op.ok.__name__)}}}}
    problem = {"application/problem+json": {"schema": {"$ref": REF.format(model="Problem")}}}
    for status in op.statuses:
        responses[str(status)] = {"description": api.STATUS_TEXT[status], "content": problem}
    if parameters:
        out["parameters"] = parameters
    out["responses"] = dict(sorted(responses.items()))
    return out


def render() -> str:
    """The committed file's text."""
    return json.dumps(document(), indent=2, sort_keys=True) + "\n"


def export(path: Path = DOCUMENT) -> Path:
    """Write the document; returns where."""
    path.write_text(render())
    return path


if __name__ == "__main__":
    print(export())
