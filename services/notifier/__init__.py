"""services/notifier."""
