"""HTTP answers every service's API shares: RFC 9457 problem details, a bounded JSON body reader,
and a contract violation's field errors (never the values sent)."""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

PROBLEM_JSON = "application/problem+json"
JSON_CONTENT = re.compile(r"^application/json\s*(;.*)?$", re.IGNORECASE)


def problem(status: int, code: str, title: str, detail: str, **extra: Any) -> JSONResponse:
    """An RFC 9457 problem details response (``type`` is ``urn:commande:problem:<code>``); a 401
    says how to authenticate."""
    body = {"type": f"urn:commande:problem:{code}", "title": title, "status": status,
            "detail": detail, **{k: v for k, v in extra.items() if v is not None}}
    headers = {"WWW-Authenticate": 'Bearer realm="commande"'} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


async def read_json_body(request: Request, max_bytes: int, what: str) -> bytes | Response:
    """The body of a JSON request, or the problem: 415 unless the content type is JSON, 413 as
    soon as the body (declared or streamed) passes ``max_bytes``. ``what`` names the thing in the
    problem ("A command")."""
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
    return bytes(body)


def field_errors(exc: ValidationError) -> list[dict[str, Any]]:
    """A contract violation's field errors for a problem (never the input values), at most 100."""
    return [{"field": ".".join(str(p) for p in e["loc"]) or None, "message": e["msg"]}
            for e in exc.errors(include_input=False, include_url=False)][:100]
