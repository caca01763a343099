"""A replay's worker process: ``python -m services.analytics.worker`` (ADR 0016).

Started by :func:`services.analytics.replay.replay` for a group of partitions, never by hand: it
reads its job pickled from stdin and writes pickled frames to what was its stdout (records read,
then its part or its error). Anything else the process prints goes to stderr.
"""

from __future__ import annotations

import os
import sys

from services.analytics.replay import serve


def main() -> None:
    """Serve one job; fd 1 becomes stderr so that no stray print can corrupt a frame."""
    frames = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    serve(sys.stdin.buffer, frames)


if __name__ == "__main__":
    main()
