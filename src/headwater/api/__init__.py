"""headwater.api."""
