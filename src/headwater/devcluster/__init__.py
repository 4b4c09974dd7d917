"""headwater.devcluster."""
