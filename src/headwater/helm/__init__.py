"""The Helm side: the engine that runs the real Helm v4 SDK (`engine.py`, `engine-go/`), and, on it,
the helm controller reconciling HelmRelease.
"""
