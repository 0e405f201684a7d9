"""Who may enter what: location declarations, central rules, and the decision."""

from verifier.access.decision import AccessPolicy, AccessRequest, Decision, Identity
from verifier.access.rules import RuleSet, load_rules, parse_rules
from verifier.access.subjects import Subjects

__all__ = [
    "AccessPolicy",
    "AccessRequest",
    "Decision",
    "Identity",
    "RuleSet",
    "Subjects",
    "load_rules",
    "parse_rules",
]
