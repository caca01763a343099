"""``python -m services.cli`` runs the ``commande`` command."""

from services.cli import main

main()
