"""The one request/approval state machine, shared by certificate and account requests."""
