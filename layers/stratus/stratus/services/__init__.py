"""The rules of Stratus. No HTTP, no SDKs: services talk to the ports in `stratus.ports`."""
