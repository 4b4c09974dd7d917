"""Git access for the source controller: credentials, transports (HTTP, SSH), ls-remote and checkout."""
