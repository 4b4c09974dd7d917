"""Unit tests of headwater.install (manifest generation, sync files, image naming)."""
