"""Which keys of a directory are development test keys: derived from a public seed, so anyone can
compute their private halves. The sample directory is made of them; production refuses them
(:mod:`services.runtime.production`)."""

from __future__ import annotations

from directory.model import Directory


def derived_keys(directory: Directory) -> list[str]:
    """``"<agency>.public_key"``-style names of every key of ``directory`` that is a test key."""
    from services.intake import sealing, signing

    def sealing_test_key(name: str) -> str:
        return sealing.public_key_to_b64(sealing.development_private_key(name).public_key)

    def signing_test_key(name: str) -> str:
        return signing.key_to_b64(signing.development_signing_key(name).verify_key)

    found: list[str] = []
    intake_test = signing_test_key(sealing.INTAKE_KEY_NAME)
    if intake_test in directory.intake.all_signing_keys():
        found.append("intake.signing_key")
    for org in directory.organizations:
        if org.public_key == sealing_test_key(org.agency_id):
            found.append(f"{org.agency_id}.public_key")
        if org.signing_key == signing_test_key(org.agency_id):
            found.append(f"{org.agency_id}.signing_key")
    return found
