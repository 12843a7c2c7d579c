"""Adapters: the only modules that import an SDK. Each implements a protocol of `stratus.ports`."""
