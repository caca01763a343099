"""services/convening."""
