"""Messages name what exists: every ``COMMANDE_*`` name in a message, a help text or a doc is a
setting some settings class defines, or an option the CLI reads from the environment."""

from __future__ import annotations

import re

import pytest

from services.runtime.settings import PROJECT_ROOT
from tests.support.setting_names import TEST_ONLY, defined, files

pytestmark = pytest.mark.unit

NAME = re.compile(r"COMMANDE_[A-Z0-9_]*[A-Z0-9]\b(?!\*)")


def test_every_commande_name_mentioned_exists() -> None:
    known = defined() | TEST_ONLY
    unknown: dict[str, str] = {}
    for path in files():
        for name in NAME.findall(path.read_text(errors="replace")):
            if name not in known:
                unknown.setdefault(name, str(path.relative_to(PROJECT_ROOT)))
    assert unknown == {}


@pytest.mark.parametrize("make", ["contact_box", "vault"])
def test_an_unknown_key_id_names_the_setting_that_exists(make: str) -> None:
    """Composed messages too: the rotation error names the previous-keys setting."""
    import base64
    import uuid

    from services.intake.vault import Vault
    from services.notifier.contacts import ContactBox
    from services.runtime.cipher import CipherError, Sealed

    old = Sealed("k-old", bytes(12), b"x" * 32)
    box = ContactBox.from_settings("k-new", base64.b64encode(bytes(32)).decode())
    vault = Vault("k-new", {"k-new": bytes(32)})
    def opening() -> object:
        if make == "contact_box":
            return box.open(uuid.uuid4(), old)
        return vault.decrypt_record(b"c", uuid.uuid4(), old)

    with pytest.raises(CipherError) as caught:
        opening()
    named = set(NAME.findall(str(caught.value)))
    assert named
    assert named <= defined()
