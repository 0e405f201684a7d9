# The verifier image. Default command: the auth service on :8000
#   (`verifier serve` execs gunicorn with the uvicorn worker; VERIFIER_WORKERS sets the count).
# The same image runs the demo legacy app and the admin CLI by overriding the command:
#   gunicorn --bind 0.0.0.0:8001 'verifier.demo.legacy_app:create_app()'
#   verifier users add NAME
#   verifier check-config       (every configuration problem, one line each; exit 1 if any)
# Builds with the classic builder too (docker-compose 1.29's default), with BuildKit and with
# podman/buildah: no BuildKit-only syntax.
#
# Build arguments (all optional; docs/docker.md), for a build behind a TLS-intercepting proxy
# or from a mirror of PyPI. They are read in the builder stage only, which the image does not
# ship: nothing of them reaches the runtime stage's files, environment or history.
#   CA_CERTIFICATES  PEM certificates to trust besides the base image's CAs, e.g.
#                    --build-arg CA_CERTIFICATES="$(cat proxy-ca.pem)"
#   PIP_INDEX_URL    a simple index to fetch from instead of pypi.org (pip and uv alike);
#                    every file is still checked against the hashes of uv.lock
# A proxy itself: Docker's predefined HTTP_PROXY / HTTPS_PROXY / NO_PROXY build arguments,
# which pip and uv read and Docker keeps out of the image history.

# Builder and runtime must share the interpreter: the venv copied below points at
# /usr/local/bin/python3.11 of this image.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---- builder: install uv.lock's packages, checked against their hashes, and the project's
# wheel into a venv
FROM ${PYTHON_IMAGE} AS builder

ARG CA_CERTIFICATES=""
ARG PIP_INDEX_URL=""

# uv, the installer of uv.lock, goes into a venv of its own that the runtime stage never sees.
# UV_PYTHON_DOWNLOADS: the image's interpreter, never a downloaded one (the venv below must
# point at it). UV_COMPILE_BYTECODE: byte-compile everything here, once.
# PIP_CERT and SSL_CERT_FILE: the CA bundle pip and uv check every server against (uv would
# otherwise use the CAs compiled into it, and ignore an added one); written below.
# UV_DEFAULT_INDEX: uv's name for PIP_INDEX_URL (both read empty as "pypi.org").
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_CERT=/tmp/build-ca.pem \
    SSL_CERT_FILE=/tmp/build-ca.pem \
    UV_DEFAULT_INDEX=${PIP_INDEX_URL} \
    UV_PYTHON_DOWNLOADS=never \
    UV_COMPILE_BYTECODE=1 \
    UV_NO_CACHE=1 \
    UV_LINK_MODE=copy

WORKDIR /src
COPY tools/uv.txt tools/build.txt tools/
# The base image's CAs, then any given: one bundle for every download of this stage.
RUN { cat /etc/ssl/certs/ca-certificates.crt; printf '%s\n' "$CA_CERTIFICATES"; } \
        > /tmp/build-ca.pem
# pip refuses any file whose hash tools/uv.txt does not list.
RUN python -m venv /opt/uv \
    && /opt/uv/bin/pip install --no-cache-dir --require-hashes --no-deps -r tools/uv.txt

COPY pyproject.toml uv.lock README.md ./
COPY verifier ./verifier
# The dependencies: exactly the versions uv.lock holds (--locked fails if it no longer matches
# pyproject.toml), every file checked against the lock's hashes (--require-hashes), nothing
# resolved here. Not the dev or standalone extras: the image runs behind its own nginx and Redis.
# The venv is made by uv, so it holds no pip or setuptools.
RUN /opt/uv/bin/uv export --quiet --locked --no-dev --no-emit-project --no-header \
        --format requirements-txt --output-file /tmp/requirements.txt \
    && /opt/uv/bin/uv venv --python /usr/local/bin/python3 /opt/venv \
    && /opt/uv/bin/uv pip install --python /opt/venv/bin/python --require-hashes --no-deps \
        --requirements /tmp/requirements.txt
# The project itself: a regular (non-editable) wheel, because the runtime stage does not have
# /src; built with the build backend pinned and hash-checked in tools/build.txt.
RUN /opt/uv/bin/uv build --wheel --out-dir /tmp/dist \
        --build-constraints tools/build.txt --require-hashes \
    && /opt/uv/bin/uv pip install --python /opt/venv/bin/python --no-deps /tmp/dist/*.whl

# ---- runtime: the interpreter, the venv and an unprivileged user; no pip cache, no sources,
# no installer
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
# The base image's own pip, setuptools and wheel go (about 25 MB on disk in the base layer,
# which still holds their bytes): the service never installs anything, so they would only be
# code to patch and to flag in scans, and a way to install more. The venv (made by uv) never
# had them. `python` is still the base image's here: the venv is not copied in yet.
RUN python -m pip uninstall --yes --quiet --disable-pip-version-check \
        --root-user-action=ignore pip setuptools wheel \
    && groupadd --system --gid 10001 verifier \
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
