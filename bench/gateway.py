"""What the gateway's token check costs, against PyJWT alone in the same run.

Run with the stack up (its Keycloak answers): ``.venv/bin/python -m bench.gateway [--tokens N]
[--record]``. A real access token of the local realm (``d1-chair``) is checked N times by the
gateway's :class:`~services.gateway.tokens.TokenVerifier` (bearer parsing, the issuer compared
first, the signing key from the cached JWKS off the event loop, RS256 signature, audience, expiry,
required claims) and, as the baseline, by ``jwt.decode`` with the key already in hand. The first
check (discovery and JWKS fetch) is reported apart.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import httpx
import jwt

from bench.common import development_stack, percentile, record
from deploy.keycloak.realm import LOCAL_PASSWORD, PEOPLE_CLIENT
from services.gateway.settings import GatewaySettings
from services.gateway.tokens import TokenVerifier


async def measure(settings: GatewaySettings, count: int) -> list[str]:
    issuer = settings.issuer
    async with httpx.AsyncClient(timeout=30) as http:
        answer = await http.post(f"{issuer}/protocol/openid-connect/token", data={
            "grant_type": "password", "client_id": PEOPLE_CLIENT, "username": "d1-chair",
            "password": LOCAL_PASSWORD})
    answer.raise_for_status()
    token = answer.json()["access_token"]
    header = f"Bearer {token}"
    verifier = TokenVerifier(issuer, settings.oidc_audience)
    began = time.perf_counter()
    await verifier.verify(header)
    first = time.perf_counter() - began

    gateway: list[float] = []
    for _ in range(count):
        began = time.perf_counter()
        await verifier.verify(header)
        gateway.append(time.perf_counter() - began)

    key = jwt.PyJWKClient(f"{issuer}/protocol/openid-connect/certs").get_signing_key_from_jwt(token).key
    baseline: list[float] = []
    for _ in range(count):
        began = time.perf_counter()
        jwt.decode(token, key, algorithms=["RS256"], audience=settings.oidc_audience, issuer=issuer)
        baseline.append(time.perf_counter() - began)

    def ms(values: list[float]) -> str:
        return (f"median {statistics.median(values) * 1000:.3f} ms, "
                f"p95 {percentile(values, 95) * 1000:.3f} ms")

    ratio = statistics.median(gateway) / statistics.median(baseline)
    return [f"- first check (discovery and JWKS fetch from Keycloak): {first * 1000:.1f} ms",
            f"- gateway's check, {count} checks of one token: {ms(gateway)}",
            f"- baseline, PyJWT's decode with the key in hand: {ms(baseline)}",
            f"- ratio gateway / baseline (medians): {ratio:.2f}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tokens", type=int, default=2000, help="checks to time")
    parser.add_argument("--record", action="store_true", help="append to bench/RESULTS.md")
    args = parser.parse_args()
    settings = development_stack(GatewaySettings())
    lines = asyncio.run(measure(settings, args.tokens))
    print("\n".join(lines))
    if args.record:
        record("Gateway: the cost of checking a bearer token",
               "One real access token of the stack's Keycloak checked by the gateway's verifier, "
               "against PyJWT's decode with the key already in hand (same run).",
               f"python -m bench.gateway --tokens {args.tokens}", lines)


if __name__ == "__main__":
    main()
