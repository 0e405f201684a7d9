# The verifier image. Default command: the auth service on :8000
#   (`verifier serve` execs gunicorn with the uvicorn worker; VERIFIER_WORKERS sets the count).
# The same image runs the demo legacy app and the admin CLI by overriding the command:
#   gunicorn --bind 0.0.0.0:8001 'verifier.demo.legacy_app:create_app()'
#   verifier users add NAME
#   verifier check-config       (every configuration problem, one line each; exit 1 if any)
# Builds with the classic builder too (docker-compose 1.29's default): no BuildKit-only syntax.

# Builder and runtime must share the interpreter: the venv copied below points at
# /usr/local/bin/python3.11 of this image.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---- builder: build the project's wheel and install it with its dependencies into a venv
FROM ${PYTHON_IMAGE} AS builder

# The venv first on PATH: `pip` below is the venv's (and hadolint recognises and checks it).
ENV PATH=/opt/venv/bin:$PATH \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN python -m venv /opt/venv

WORKDIR /src
COPY pyproject.toml README.md ./
COPY verifier ./verifier
# A regular (non-editable) install: the venv must not point back at /src, which the
# runtime stage does not have. Every dependency ships manylinux wheels (x86_64 and aarch64),
# so no compiler is needed. pip also byte-compiles everything here, once.
RUN pip install --no-cache-dir .

# ---- runtime: the interpreter, the venv and an unprivileged user; no pip cache, no sources
FROM ${PYTHON_IMAGE} AS runtime

# PATH: `verifier`, `gunicorn` and `python` resolve to the venv.
# PYTHONUNBUFFERED: log lines reach `docker logs` as they are written.
# PYTHONDONTWRITEBYTECODE: the bytecode was compiled in the builder, and the service user
# cannot write into the root-owned venv anyway.
# VERIFIER_WORKERS: gunicorn workers for `verifier serve`; set it per container to resize.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    VERIFIER_WORKERS=2

# A fixed numeric id so orchestrators (runAsNonRoot) can check it and file ownership on
# mounted secrets is predictable. The home directory exists because gunicorn (>= 25.1)
# creates its control socket under ~/.gunicorn.
# /keys is where a keys volume goes (VERIFIER_KEYS_DIR): owned by the service user, 0700 as
# the verifier requires, so a new named volume mounted there starts with both.
RUN groupadd --system --gid 10001 verifier \
    && useradd --system --uid 10001 --gid verifier --no-log-init \
        --create-home --home-dir /home/verifier --shell /usr/sbin/nologin verifier \
    && install -d -m 0700 -o 10001 -g 10001 /keys

COPY --from=builder /opt/venv /opt/venv

USER 10001:10001
# An empty working directory: gunicorn puts the cwd on sys.path, and nothing there may
# shadow the installed package.
WORKDIR /home/verifier

EXPOSE 8000

# The liveness probe, /healthz: does the process answer? Not /readyz: orchestrators that act
# on this status (Swarm replaces unhealthy tasks) would restart every verifier during a Redis
# outage, which restarting cannot fix; the service fails closed and recovers by itself.
# docker-compose.yml uses /readyz instead, for start-up order only (see its comment).
# No curl in the slim image: ask with the interpreter we already have (urlopen raises on a
# 4xx or 5xx).
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]

# CMD rather than ENTRYPOINT, so `docker run IMAGE gunicorn ...` or `... verifier users list`
# runs that program instead of passing it as arguments to `verifier serve`.
CMD ["verifier", "serve", "--bind", "0.0.0.0:8000"]
