"""Reference data: districts and municipalities, risk taxonomy, sectors, conclusions, age groups,
genders, legal bases, FHIR task states, study flags, protective factors; for community event
requests: topics, decline and withdrawal reasons, officer roles. Ontario's statutory holidays
come from the ``holidays`` library (:mod:`schemas.reference.calendar`).

The facts live in versioned YAML files beside this module (``version:``, ``provisional:``) so a
table's coordinator can correct them without a release; :func:`reference` loads and validates
them once into a frozen :class:`Reference`.
"""

from schemas.reference.loader import Reference, load, reference

__all__ = ["Reference", "load", "reference"]
