"""Community event requests in notifier: the notices intake's facts call for, on notifier's one
notice pipeline (the same ``notices`` table, delivery loop, channels and retries), with the
requester's submission kept sealed until intake purges it.

Same rooms as intake's :mod:`services.intake.event_requests`, one module per role:

* :mod:`.notices` (pure): who is told what about a request, and the rendered notices (the
  templates and labels of :mod:`services.notifier.render`);
* :mod:`.handlers`: the shell, submissions and de-identified facts in, notices (and the
  ``NoticeFailed`` of those that cannot be sent) out, on the store of the consumer's transaction;
* :mod:`.store`: the PostgreSQL state of a request (sealed contact, facts waiting for it, purge
  tombstones), the ``EventRequestState`` part of :class:`~services.notifier.store.PgNotifierStore`.

No consumer or composition root of its own: notifier's one consumer (registered by
:func:`services.notifier.main.build`) hands submissions and facts from
:class:`services.notifier.handlers.Handlers` to :mod:`.handlers`, and
:mod:`services.notifier.compose`'s ``RequestComposer`` turns a fact into notice rows
(docs/adr/0014).
"""
