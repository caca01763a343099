"""services/notifier: notices by e-mail and signed webhook, at each recipient's privacy level.

Pure core: :mod:`.recipients` (who gets what), :mod:`.render` (+ ``templates/``), :mod:`.compose`
(planned, rendered, signed notices), :mod:`.tokens` (acknowledgement links), :mod:`.model`.
Shell: :mod:`.handlers` (consume → insert notices), :mod:`.delivery` (the sending loop),
:mod:`.channels` (SMTP, webhook), :mod:`.store` (+ ``sql/``), :mod:`.acks` (``GET /ack/{token}``),
:mod:`.main` (the composition root). Community event requests are a room of this pipeline:
:mod:`.requests` (``notices``, ``handlers``, ``store``).
"""
