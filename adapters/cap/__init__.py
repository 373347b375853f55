"""The Common Alerting Protocol 1.2: building messages, validating them against the OASIS schema, and the
gateway they are published to."""
