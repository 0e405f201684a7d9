"""The HTML the verifier serves itself, one module per page family; no request handling."""
