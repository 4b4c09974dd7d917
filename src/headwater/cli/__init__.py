"""The `headwater` command line: the `flux` command tree plus `dev` tools for the local cluster.

Commands are registered by name and imported only when invoked (see `registry`), so `headwater --help`
never pays for the controllers' imports.
"""
