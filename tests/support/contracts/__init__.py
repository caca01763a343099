"""Store contract suites: one base class per service port, whose tests assert what the port
promises; run once on the in-memory fake (``tests/unit``) and once on PostgreSQL
(``tests/integration``)."""
