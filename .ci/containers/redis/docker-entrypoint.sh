#!/bin/sh
# Stand-in for the official redis image's entrypoint, written from its documented behaviour:
# options alone (`--appendonly yes`) are options to redis-server; started as root,
# redis-server gets /data and drops to the user redis; anything else runs as given.
set -eu

if [ "${1#-}" != "$1" ]; then
    set -- redis-server "$@"
fi

if [ "$1" = redis-server ] && [ "$(id -u)" = 0 ]; then
    # A new volume mounted on /data is root's: Redis writes its append-only file there.
    chown -R redis:redis /data
    exec setpriv --reuid=redis --regid=redis --init-groups "$0" "$@"
fi

exec "$@"
