"""`python -m verifier demo`: the whole stack on one machine, in the foreground.

Starts redis-server, the verifier, the demo legacy app and nginx on 127.0.0.1, creates a user
with a random password, prints what to try, and stops everything on Ctrl-C or SIGTERM. All
state lives in one temporary directory, removed at exit.
"""

from __future__ import annotations

import secrets
import shutil
import signal
import sys
import tempfile
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType

from verifier.demo import processes, upstreams
from verifier.demo.processes import CommandFailed, ManagedProcess, ProcessStartError
from verifier.demo.sso import APP_HOSTS, HOSTILE_SIBLING, PORTAL_HOST, SSO_TEMPLATE, sso_settings

DEMO_USER = "demo"
DEMO_GROUPS = ("admins",)
# A second account without groups: it signs in, but the admin area answers it 403.
GUEST_USER = "guest"
ACCESS_TTL_SECONDS = 30
VERIFIER_WORKERS = 2
VERIFIER_SOCKET_NAME = "verifier.sock"
_WATCH_SECONDS = 0.5
# How long the demo waits for each Python service (the verifier, the demo app) to answer:
# a bound on a broken start, generous for a machine busy with other work.
_START_SECONDS = 60.0


def run_demo(port: int = 8080, *, sso: bool = False, sources: Sequence[str] = ()) -> int:
    """Run the demo stack until Ctrl-C or SIGTERM; return the exit status.

    `sso`: a sign-in portal and three app hosts on *.localhost (verifier.demo.sso).
    `sources`: `ldap` and/or `oidc`: the tests' slapd and OpenID Provider start too, and
    their users sign in beside the local ones (verifier.demo.upstreams).
    """
    missing = upstreams.missing_parts(sources, sso=sso)
    if missing:
        print(f"demo: {missing}", file=sys.stderr)
        return 1
    if not processes.port_is_free(port):
        print(f"demo: 127.0.0.1:{port} is in use; pick another with --port", file=sys.stderr)
        return 1
    try:
        nginx = processes.find_nginx()
        redis_server = processes.find_redis_server()
    except FileNotFoundError as error:
        print(f"demo: {error}", file=sys.stderr)
        return 1
    if not processes.NGINX_TEMPLATE.is_file():
        # The nginx files sit beside the package in a source checkout, not in a wheel.
        print(f"demo: {processes.NGINX_TEMPLATE} is missing: run from a checkout", file=sys.stderr)
        return 1

    stop_requested = threading.Event()
    previous = {
        signum: signal.signal(signum, _setter(stop_requested))
        for signum in (signal.SIGINT, signal.SIGTERM)
    }
    workdir = Path(tempfile.mkdtemp(prefix="verifier-demo-"))
    started: list[ManagedProcess] = []
    try:
        return _run(port, nginx, redis_server, workdir, started, stop_requested, sso, sources)
    except (ProcessStartError, CommandFailed, PermissionError) as error:
        print(f"demo: could not start: {error}", file=sys.stderr)
        return 1
    finally:
        # Front to back: nginx first, so no request reaches a stopped upstream.
        for process in reversed(started):
            process.stop()
        shutil.rmtree(workdir, ignore_errors=True)
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _run(
    port: int,
    nginx: Path,
    redis_server: Path,
    workdir: Path,
    started: list[ManagedProcess],
    stop_requested: threading.Event,
    sso: bool = False,
    sources: Sequence[str] = (),
) -> int:
    redis_port = processes.free_port()
    verifier_port = processes.free_port()
    app_port = processes.free_port()
    metrics_port = processes.free_port()
    settings_env = {
        "VERIFIER_REDIS_URL": f"redis://{processes.LOOPBACK}:{redis_port}/0",
        # Fresh keys per run (made below): tokens of an earlier run are worthless.
        "VERIFIER_KEYS_DIR": str(workdir / "keys"),
        "VERIFIER_ACCESS_TTL_SECONDS": str(ACCESS_TTL_SECONDS),
        # Plain http on localhost: Secure cookies would never be sent back.
        "VERIFIER_COOKIE_SECURE": "false",
        # A free port rather than the default 9464, which something else may hold.
        "VERIFIER_METRICS_BIND": f"{processes.LOOPBACK}:{metrics_port}",
        # Passkeys: browsers refuse WebAuthn on an IP address, so the demo's relying party
        # is `localhost` and its pages must be opened as http://localhost:PORT.
        "VERIFIER_WEBAUTHN_RP_ID": "localhost",
        "VERIFIER_WEBAUTHN_ORIGINS": f"http://localhost:{port}",
        **(sso_settings(port) if sso else {}),
    }
    upstream = upstreams.start(sources, workdir, _site_url(port, sso), started)
    if upstream is not None:
        settings_env["VERIFIER_SOURCES_FILE"] = str(upstream.sources_file)

    print("Starting redis-server, the verifier, the demo app and nginx...", flush=True)
    processes.run_verifier_command(settings_env, "keys", "generate", "--use", "all")
    started.append(processes.start_redis(workdir, redis_port, binary=redis_server))
    # nginx reaches the verifier on its Unix socket, as docs/deployment.md advises when
    # both share a host; the port stays for probes (/readyz) and the app's key set.
    verifier_socket = workdir / VERIFIER_SOCKET_NAME
    started.append(
        processes.start_verifier(
            settings_env,
            verifier_port,
            VERIFIER_WORKERS,
            log_dir=workdir,
            unix_socket=verifier_socket,
            socket_group=processes.nginx_worker_group(),
            timeout=_START_SECONDS,
        )
    )
    jwks_url = f"http://{processes.LOOPBACK}:{port}/.well-known/jwks.json"
    if sso:
        # nginx answers only the listed names (127.0.0.1 is refused): the app asks the
        # verifier itself, which serves the same public keys on every host.
        jwks_url = f"http://{processes.LOOPBACK}:{verifier_port}/.well-known/jwks.json"
    started.append(
        processes.start_legacy_app(
            app_port, log_dir=workdir, jwks_url=jwks_url, timeout=_START_SECONDS
        )
    )
    conf_path = workdir / "nginx.conf"
    conf_path.write_text(
        processes.render_nginx_conf(
            prefix=workdir,
            listen_port=port,
            verifier_port=verifier_port,
            app_port=app_port,
            verifier_socket=verifier_socket,
            template=SSO_TEMPLATE if sso else processes.NGINX_TEMPLATE,
        ),
        encoding="utf-8",
    )
    started.append(processes.start_nginx(nginx, workdir, conf_path, port=port))

    password = secrets.token_urlsafe(12)
    processes.add_user(settings_env, DEMO_USER, password, groups=DEMO_GROUPS)
    guest_password = secrets.token_urlsafe(12)
    processes.add_user(settings_env, GUEST_USER, guest_password)
    if upstream is not None:
        # Before the welcome, whose last line says how to stop: a reader may stop there.
        print(upstream.welcome(), flush=True)
    if sso:
        _print_sso_welcome(port, password, guest_password, nginx, workdir)
    else:
        _print_welcome(port, password, guest_password, nginx, workdir)
    metrics_url = f"http://{processes.LOOPBACK}:{metrics_port}/metrics"
    print(f"Metrics (Prometheus; not served through nginx): {metrics_url}\n", flush=True)

    while not stop_requested.wait(_WATCH_SECONDS):
        for process in started:
            if not process.is_running():
                print(
                    f"demo: {process.name} exited with status {process.returncode}:\n"
                    f"{process.log_tail()}",
                    file=sys.stderr,
                )
                return 1
    print("\nStopping...", flush=True)
    return 0


def _site_url(port: int, sso: bool) -> str:
    # Where a provider sends the browser back: the portal when there is one (its only
    # redirect URI), else the one host.
    return f"http://{PORTAL_HOST}:{port}" if sso else f"http://localhost:{port}"


def _setter(event: threading.Event) -> Callable[[int, FrameType | None], None]:
    # The handler only flags the request: the main loop stops the children in order.
    def handler(signum: int, frame: FrameType | None) -> None:
        event.set()

    return handler


def _print_welcome(
    port: int, password: str, guest_password: str, nginx: Path, workdir: Path
) -> None:
    # `localhost`, not 127.0.0.1: passkeys (WebAuthn) work on a domain name only.
    url = f"http://localhost:{port}/"
    print(
        f"""
The demo is running: {url}  (open it as localhost, not 127.0.0.1: passkeys need a name)

  user name   {DEMO_USER:<8} password  {password:<18} groups  {", ".join(DEMO_GROUPS)}
  user name   {GUEST_USER:<8} password  {guest_password:<18} groups  (none)

The access cookie lives {ACCESS_TTL_SECONDS} seconds; after that the next request is renewed
silently with the refresh cookie (watch the Set-Cookie headers in the browser's developer
tools).

Try:
  - {url} : you are sent to the sign-in page, and back here after signing in.
  - {url}public/ : the same app, outside the protected location: no sign-in.
  - {url}admin/ : the admin area, for the group admins only and with a second factor:
    {DEMO_USER} is asked to confirm it's you (first to set up an authenticator app: any TOTP
    app, then its code), and arrives there in the same session; {GUEST_USER} gets
    "No access" (403) with a way to sign in as someone else.
  - {url}api/whoami : the identity the app received, as JSON: from the signed
    X-Auth-Assertion, which the app verifies with {url}.well-known/jwks.json.
  - curl -i {url}api/whoami -H 'Accept: application/json' : 401 JSON, no redirect.
  - curl -si {url}api/whoami -H 'X-Auth-User: admin' : still sent to sign in; nginx
    replaces that header before the app sees it.
  - {url}auth/account/passkeys : add a passkey, then sign in with
    the password and the passkey, or with "Sign in with a passkey" alone.
  - Sign in from two browsers, then "Log out everywhere" in one: the other is signed out on
    its next request.

nginx: {nginx}
Logs:  {workdir}
Press Ctrl-C to stop; everything above is deleted.
""",
        flush=True,
    )


def _print_sso_welcome(
    port: int, password: str, guest_password: str, nginx: Path, workdir: Path
) -> None:
    wiki, grafana, org2 = (f"http://{host}:{port}/" for host in APP_HOSTS)
    portal = f"http://{PORTAL_HOST}:{port}/"
    evil = f"http://{HOSTILE_SIBLING}:{port}/"
    print(
        f"""
Single sign-on demo: one portal, three app hosts on two root domains (*.localhost names
resolve to 127.0.0.1 in Chromium, Firefox and curl; every cookie is __Host-, no Domain).

  portal      {portal}   (every sign-in, the account page)
  app hosts   {wiki}
              {grafana}
              {org2}   (another root domain)

  user name   {DEMO_USER:<8} password  {password:<18} groups  {", ".join(DEMO_GROUPS)}
  user name   {GUEST_USER:<8} password  {guest_password:<18} groups  (none)

Try:
  - {wiki} : sent to the portal to sign in, then back on wiki with a session of its own.
  - {grafana} and {org2} : no password asked; each host gets its own session by a
    one-time code (watch the redirects in the developer tools: no cookie carries Domain).
  - {portal}auth/account : one session, with the hosts it has entered.
  - {evil} : a hostile sibling tosses Domain=corp.localhost cookies named like ours;
    reload wiki afterwards: nothing changed.
  - Sign out on grafana ("Sign out" on {grafana}auth/account goes to the portal's page,
    or POST /auth/logout there): wiki and app.org2 are signed out at once too.
  - http://{PORTAL_HOST}:{port}/auth/sso/authorize?host=evil.corp.localhost&challenge=x :
    an unlisted host gets a 400 page, never a redirect.

nginx: {nginx}
Logs:  {workdir}
Press Ctrl-C to stop; everything above is deleted.
""",
        flush=True,
    )
