"""HTTP rules shared by the resources and the /auth path: cookies, CSRF, safe redirects."""
