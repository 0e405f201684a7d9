"""`make bench`: the verifier's /auth measured through nginx, against a floor and a baseline.

One run starts its own redis-server, verifier, naive baseline and single-worker nginx on
127.0.0.1, logs in through the real login endpoint, drives each scenario with wrk and writes
bench/results/latest.json. See `python -m bench --help` and docs/benchmark.md.
"""
