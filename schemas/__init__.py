"""The contracts of commande: every event and command, their envelope, topics and reference data.

Modules, by role:

* ``base`` — model base classes, constrained field types, key rules.
* ``referrals``, ``situations``, ``meetings``, ``commands``, ``disclosures``, ``notices`` — the
  events and commands of each stream.
* ``registry`` — ``ce_type`` ↔ model class, topic ↔ allowed types.
* ``envelope`` — CloudEvents 1.0 Kafka binary mode: ``to_record`` / ``from_record``.
* ``signing`` — the bytes an Ed25519 signature covers: a partner's referral record
  (``ce_signature``) and intake's disclosure package; signing and verifying them.
* ``errors`` — the one error tree (envelope errors are ``ContractError`` subclasses).
* ``topics`` — the Kafka topic registry.
* ``reference`` — versioned reference data (YAML) and ``reference()``.
* ``json_schemas``, ``asyncapi``, ``compat``, ``snapshots`` — generated contracts under version
  control and the backward-compatibility check.

Submodules are imported explicitly (``from schemas.envelope import from_record``); this package
imports nothing itself so that ``schemas.topics`` and ``schemas.errors`` stay cheap.
"""
