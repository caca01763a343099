"""The plain pages behind links people follow from an e-mail (an acknowledgement, the
confirmation of an address): one paragraph or two and, at most, one button that posts back to the
same address.

The token in such a URL is the capability, so the page is never sent on as a referrer, never
cached and never framed; it loads nothing, runs no script and may post only to itself. ``GET``
only shows; the button's ``POST`` acts (mail scanners follow every link in a message).
"""

from __future__ import annotations

import html

from starlette.responses import HTMLResponse

HEADERS = {
    "Referrer-Policy": "no-referrer", "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
}


def page(title: str, heading: str, *paragraphs: str, button: str | None = None,
         status: int = 200) -> HTMLResponse:
    """A page of ``paragraphs`` (escaped), with a button labelled ``button`` posting to itself."""
    body = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    if button is not None:
        body += (f'<form method="post"><button type="submit">{html.escape(button)}</button>'
                 "</form>")
    return HTMLResponse(
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" '
        f'content="width=device-width, initial-scale=1"><title>{html.escape(title)}</title>'
        f"</head><body><h1>{html.escape(heading)}</h1>{body}</body></html>",
        status, headers=HEADERS)
