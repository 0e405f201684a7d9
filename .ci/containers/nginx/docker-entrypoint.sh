#!/bin/sh
# Stand-in for the official nginx image's entrypoint, written from its documented behaviour
# ("Using environment variables in nginx configuration" on the image's page), only the part
# the compose file relies on: when the command is nginx, every *.template file in
# $NGINX_ENVSUBST_TEMPLATE_DIR (/etc/nginx/templates) is rendered by envsubst into
# $NGINX_ENVSUBST_OUTPUT_DIR (/etc/nginx/conf.d) under its name without the suffix,
# substituting only the environment variables whose names match NGINX_ENVSUBST_FILTER (all
# when it is empty).
set -eu

if [ "${1:-}" = nginx ]; then
    templates="${NGINX_ENVSUBST_TEMPLATE_DIR:-/etc/nginx/templates}"
    suffix=.template
    output="${NGINX_ENVSUBST_OUTPUT_DIR:-/etc/nginx/conf.d}"
    # envsubst replaces only the variables it is given: name them, filtered.
    variables=$(awk -v filter="${NGINX_ENVSUBST_FILTER:-}" \
        'BEGIN { for (name in ENVIRON) if (name ~ filter) printf "${%s} ", name }')
    for template in "$templates"/*"$suffix"; do
        [ -f "$template" ] || continue
        target="$output/$(basename "$template" "$suffix")"
        echo "$0: envsubst $template > $target"
        envsubst "$variables" < "$template" > "$target"
    done
fi

exec "$@"
