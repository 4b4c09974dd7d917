"""headwater.source."""
