"""HTTP answers every service's API shares: RFC 9457 problem details, a bounded JSON body reader,
and a contract violation's field errors (never the values sent)."""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

PROBLEM_JSON = "application/problem+json"
JSON_CONTENT = re.compile(r"^application/json\s*(;.*)?$", re.IGNORECASE)
MAX_JSON_DEPTH = 32
"""No contract nests deeper than a few levels; a body that does is refused before parsing."""


def problem(status: int, code: str, title: str, detail: str, **extra: Any) -> JSONResponse:
    """An RFC 9457 problem details response (``type`` is ``urn:commande:problem:<code>``); a 401
    says how to authenticate."""
    body = {"type": f"urn:commande:problem:{code}", "title": title, "status": status,
            "detail": detail, **{k: v for k, v in extra.items() if v is not None}}
    headers = {"WWW-Authenticate": 'Bearer realm="commande"'} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


async def read_json_body(request: Request, max_bytes: int, what: str) -> bytes | Response:
    """The body of a JSON request, or the problem: 415 unless the content type is JSON, 413 as
    soon as the body (declared or streamed) passes ``max_bytes``, 400 unless a non-empty body is
    JSON nested at most :data:`MAX_JSON_DEPTH` deep (``[`` × 5,000 made the parser recurse out:
    a 500). ``what`` names the thing in the problem ("A command")."""
    if not JSON_CONTENT.match(request.headers.get("content-type", "")):
        return problem(415, "unsupported_media_type", "Unsupported media type",
                       f"Send {what[0].lower()}{what[1:]} as application/json.")
    declared = request.headers.get("content-length")
    too_big = problem(413, "payload_too_large", "Payload too large",
                      f"{what} may be at most {max_bytes} bytes.")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        return too_big
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > max_bytes:
            return too_big
    if not body:
        return b""  # the caller's contract says whether an empty body will do
    depth = json_depth(bytes(body))
    if depth is None:
        return problem(400, "malformed_json", "Malformed JSON",
                       f"{what} must be a JSON document (RFC 8259); this body does not parse.")
    if depth > MAX_JSON_DEPTH:
        return problem(400, "malformed_json", "JSON nested too deeply",
                       f"{what} may nest objects and arrays at most {MAX_JSON_DEPTH} deep.")
    return bytes(body)


def json_depth(body: bytes) -> int | None:
    """How deep ``body``'s arrays and objects nest, without recursing (``None``: not JSON).

    Brackets inside strings do not count; the document is parsed by ``json`` only when its
    depth is known to be bounded."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            deepest = max(deepest, depth)
            if deepest > MAX_JSON_DEPTH:
                return deepest
        elif byte in (0x5D, 0x7D):  # ] }
            depth -= 1
    try:
        json.loads(body)
    except ValueError:
        return None
    return deepest


def field_errors(exc: ValidationError) -> list[dict[str, Any]]:
    """A contract violation's field errors for a problem (never the input values), at most 100."""
    return [{"field": ".".join(str(p) for p in e["loc"]) or None, "message": e["msg"]}
            for e in exc.errors(include_input=False, include_url=False)][:100]
