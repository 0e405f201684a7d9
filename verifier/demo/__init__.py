"""The local stack: process helpers, the demo legacy app and `python -m verifier demo`."""
