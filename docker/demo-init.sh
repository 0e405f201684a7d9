#!/bin/sh
# The demo stack's one-shot set-up: the `init` service of docker-compose.yml runs it on every
# `up`, in the verifier image, before the verifier starts. It makes what is missing and keeps
# what exists, so a second `up` changes nothing:
#   - signing keys in $VERIFIER_KEYS_DIR (the verifier-keys volume), if it holds none;
#   - the users demo (group admins) and guest, if absent, each with a random password that is
#     printed here, once, and stored nowhere else (Redis keeps only its hash).
# Everything goes through the `verifier` command, as an administrator would type it.
set -eu

if [ -z "$(ls -A "$VERIFIER_KEYS_DIR")" ]; then
    verifier keys generate
else
    echo "init: signing keys kept ($VERIFIER_KEYS_DIR holds some: verifier keys list)"
fi

# Apart, so that a failing `users list` (Redis unreachable) stops the script under `set -e`.
users=$(verifier users list)
# One name per line: `users list` prints name, groups and scheme, tab-separated.
existing=$(printf '%s\n' "$users" | cut -f1)
created=""

# add_user NAME GROUPS_SHOWN [verifier users add options...]
add_user() {
    name=$1
    shown=$2
    shift 2
    if printf '%s\n' "$existing" | grep -qx "$name"; then
        echo "init: user $name kept (a new password: docker compose exec verifier verifier users passwd $name)"
        return
    fi
    # 16 random bytes, URL-safe: typed or pasted without trouble.
    password=$(python -c 'import secrets; print(secrets.token_urlsafe(16))')
    # On stdin, never in argv (which `ps` would show to every user of the host).
    printf '%s\n' "$password" | verifier users add "$name" "$@"
    created="$created
  user name   $(printf '%-8s' "$name") password  $password   groups  $shown"
}

add_user demo admins --group admins
add_user guest "(none)"

if [ -n "$created" ]; then
    cat <<EOF

The demo is starting: ${DEMO_URL:-http://localhost:8080/}
Sign in as one of these users; their passwords are shown this once:
$created

EOF
fi
