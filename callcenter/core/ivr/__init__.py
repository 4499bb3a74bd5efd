"""The IVR: flows as step machines, the YAML model, its checks and runner."""
