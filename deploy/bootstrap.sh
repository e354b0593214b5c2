#!/bin/sh
# Creates what the deployment needs, with accountd's own nsc-compatible CLI:
#
#   keys/     the operator, its system account SYS and the account ACCOUNTD (JetStream enabled, for
#             accountd's KV bucket), with their seeds. Keep it safe and out of version control.
#   secrets/  what the services read: operator.jwt, sys.creds (a SYS user: publishes claim updates),
#             kv.creds (an ACCOUNTD user: reads and writes the bucket), resolver-full.conf and
#             resolver-url.conf (included by nats/*.conf).
#
# Safe to run again: existing entities are kept, secrets/ is rewritten from them.
#
# Environment: ACCOUNTD (the accountd command), ACCOUNTD_HOME (default ./keys next to this script),
# OPERATOR (default accountd), ACCOUNT_SERVER_URL (default http://lb:9090/jwt/v1, what nodes with a
# URL resolver fetch from), JWT_DIR (the full resolver's directory, default /data/jwt).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/secrets}
accountd=${ACCOUNTD:-accountd}
export ACCOUNTD_HOME="${ACCOUNTD_HOME:-$here/keys}"
export ACCOUNTD_OPERATOR_NAME="${OPERATOR:-accountd}"
url=${ACCOUNT_SERVER_URL:-http://lb:9090/jwt/v1}
jwt_dir=${JWT_DIR:-/data/jwt}
op=$ACCOUNTD_OPERATOR_NAME

if [ ! -d "$ACCOUNTD_HOME/stores/$op" ]; then
    "$accountd" add operator --name "$op" --sys --account-server-url "$url" >/dev/null
fi
if [ ! -d "$ACCOUNTD_HOME/stores/$op/accounts/ACCOUNTD" ]; then
    "$accountd" add account --name ACCOUNTD --js-mem-storage -1 --js-disk-storage -1 \
        --js-streams -1 --js-consumer -1 >/dev/null
    "$accountd" add user --account ACCOUNTD --name accountd >/dev/null
fi

mkdir -p "$out"
chmod 700 "$out"
umask 077
"$accountd" describe operator --raw >"$out/operator.jwt"
"$accountd" generate creds --account SYS --name sys --output-file "$out/sys.creds" >/dev/null
"$accountd" generate creds --account ACCOUNTD --name accountd --output-file "$out/kv.creds" >/dev/null
"$accountd" generate config --resolver full --preload-all --dir "$jwt_dir" \
    --output-file "$out/resolver-full.conf" >/dev/null
"$accountd" generate config --resolver url --url "$url" --output-file "$out/resolver-url.conf" >/dev/null
echo "wrote $out: operator.jwt sys.creds kv.creds resolver-full.conf resolver-url.conf (seeds in $ACCOUNTD_HOME)" >&2
