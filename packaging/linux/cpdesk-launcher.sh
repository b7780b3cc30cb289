#!/bin/sh
# /usr/bin/cpdesk: starts the bundle in /opt/cpdesk. The path is worked out from where
# this script really is, so it also works from a scratch root (`dpkg -x pkg.deb DIR`).
here=$(dirname "$(readlink -f "$0")")
exec "$here/../../opt/cpdesk/cpdesk" "$@"
