"""The local stack: AWS emulation, resources from template.yaml, LanceDB and the API on 127.0.0.1.

Installed in development only (see pyproject.toml); never part of the Lambda layer."""
