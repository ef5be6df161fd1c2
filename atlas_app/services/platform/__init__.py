"""Platform services used by every area: actors, errors, permissions, tenancy helpers, audit, sign-in, users, passwords, API tokens, the outbox and throttles."""
