"""headwater.apply."""
