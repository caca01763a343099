"""In-memory stores for the services' shell tests: each implements its service's store port
(``services/<svc>/ports.py``) with the SQL store's semantics and passes the same contract suite
(:mod:`tests.support.contracts`). Not shipped in the wheel."""
