"""services/notifier: notices by e-mail and signed webhook, at each recipient's privacy level.

Pure core: :mod:`.recipients` (who gets what), :mod:`.render` (+ ``templates/``), :mod:`.tokens`
(acknowledgement links), :mod:`.policy` (retries), :mod:`.model`. Shell: :mod:`.handlers`
(consume → insert notices), :mod:`.delivery` (the sending loop), :mod:`.channels` (SMTP,
webhook), :mod:`.store` (+ ``sql/``), :mod:`.acks` (``GET /ack/{token}``), :mod:`.main` (wiring).
"""
