"""What the tests and the benches share, and nothing the services ship: the synthetic samples of
every event and command (:mod:`.samples`), the fixed analytics stream the tests compute by hand
(:mod:`.analytics_samples`), and reading topics back (:mod:`.kafka`).

The wheel holds ``schemas``, ``services`` and ``deploy`` only; import these from the project root
(pytest's rootdir; ``python -m bench.<name>``).
"""
