"""Users: the Redis user store, password hashing, htpasswd import and legacy hashes, export,
and the login throttle."""
