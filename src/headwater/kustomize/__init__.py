"""headwater.kustomize."""
