"""Who logs in: the OpenID Connect client (oidc) and the dashboard's sessions (sessions)."""
