"""API plumbing shared by every app's `api.py`: keys, scopes, errors,
idempotency, pagination and throttling (API.md, "Conventions")."""
