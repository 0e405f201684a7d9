"""Sessions: the Redis session store (one atomic script per change), access tokens, the
per-worker liveness cache, pending sign-ins waiting for a second factor, and device labels."""
