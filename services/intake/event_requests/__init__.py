"""Community event requests in intake: the public asks a district's CMB for a speaker, a district
tour or event participation; the CMB manager schedules, declines or records a withdrawal.

Same shape as the referral side, one module per role:

* :mod:`.rules` (pure): every check at once, each reason naming its field;
* :mod:`.calendar` (pure): business days in America/Toronto, minus Ontario statutory holidays;
* :mod:`.decide` (pure): state + submission, confirmation or command + now -> new state and
  events; reminders, contact purges and the expiry of unconfirmed requests as pure functions of
  the state and ``now``;
* :mod:`.ports`: the store the shell needs and the shared limits the route needs, typed
  ``Protocol`` classes (``EventRequestStore``, ``EventLimits``);
* :mod:`.store`: its PostgreSQL implementation, named SQL on intake's schema (tables in
  ``sql/010_event_requests.sql`` and ``sql/020_event_request_confirmation.sql``);
* :mod:`.handlers`: the consumer on ``commande.event-request-submissions.v1``, and the
  confirmation;
* :mod:`.timers`: the reminder, expiry and purge timers (the runtime's durable timers);
* :mod:`.rate_limit`: the client and recipient limits, in PostgreSQL (shared by every instance;
  ``SharedLimits.bound`` makes the limits of a connection);
* :mod:`.ingress`: ``POST /v1/event-requests``; :mod:`.confirm`: the page of the link that
  confirms a requester's address (``GET`` shows, ``POST`` confirms).

No composition root of its own: intake's :func:`services.intake.main.build` wires them (consumer,
routes, the limits' prune worker) with intake's clock, vault and directory, and intake's one timer
worker fires their timers (docs/adr/0014).

A request from the public (no agency token) is acted on only once its requester confirms the
address they gave: until then the only e-mail is the fixed-text link (nothing they wrote).

Privacy: the requester's contact details (and the free-text venue and topics) are kept only
encrypted in intake's store (``event_request_contacts``), are never logged, never put in a key
or header, and never leave intake except on the restricted topic they arrived on.
"""
