"""The `ragtune` command line: typer app, one module per command group, thin wrappers over the API."""
