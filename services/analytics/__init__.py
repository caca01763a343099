"""Analytics: side-effect-free replay of the event streams into pure projections, and exports.

Modules, by role:

* ``projections`` — pure folds (``fold(state, envelope) -> state``) and the summaries built
  from their states: per-situation timeline, de-identified provincial rows, statistics.
* ``replay`` — reads topics from a point in time with its own partition assignment (no group,
  no commits, no producer) and feeds the folds.
* ``exports`` — CSV, Parquet, data dictionary and the HTML report, small cells suppressed.
* ``simulate`` — a deterministic synthetic history for analysts, tests and the benchmark.
"""
