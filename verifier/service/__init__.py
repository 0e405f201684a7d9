"""Running the service: preflight checks, readiness, the gunicorn worker class and hooks."""
