"""Falcon resources: thin adapters from HTTP to the gate, stores and pages."""

from verifier.resources.forbidden import Forbidden
from verifier.resources.health import Health, Readiness
from verifier.resources.login import Login
from verifier.resources.logout import Logout
from verifier.resources.unauthorized import Unauthorized

__all__ = ["Forbidden", "Health", "Login", "Logout", "Readiness", "Unauthorized"]
