#!/usr/bin/env bash
# Join running redis-server nodes (started by test/redis/start.sh with
# --conf "cluster-enabled yes") into one Redis Cluster with redis-cli (Debian
# package redis-tools):
#
#   test/redis/cluster-create.sh REPLICAS ADDR... [-- REDIS-CLI-OPTION...]
#
# REPLICAS is the number of replicas per master (--cluster-replicas); the
# first len(ADDR)/(REPLICAS+1) addresses become the masters. Options after
# "--" go to redis-cli as they are: authentication (--user NAME --pass PW,
# or -a PW) and TLS (--tls --cacert CA --cert CERT --key KEY).
#
# Exits 2 on bad arguments and 127 when redis-cli is not installed.
set -euo pipefail

usage() { echo "usage: $0 REPLICAS ADDR... [-- REDIS-CLI-OPTION...]" >&2; exit 2; }
[[ $# -ge 2 ]] || usage
replicas=$1
shift
[[ $replicas =~ ^[0-9]+$ ]] || usage
addrs=()
while [[ $# -gt 0 && $1 != -- ]]; do addrs+=("$1"); shift; done
[[ $# -gt 0 ]] && shift
[[ ${#addrs[@]} -gt 0 ]] || usage

cli=""
for c in redis-cli /usr/bin/redis-cli; do
	if command -v "$c" >/dev/null 2>&1; then cli=$(command -v "$c"); break; fi
done
if [[ -z $cli ]]; then
	echo "$0: redis-cli is not installed (Debian: apt-get install redis-tools)" >&2
	exit 127
fi

# --no-auth-warning: the password of a throw-away test cluster on the
# command line is fine.
exec "$cli" --no-auth-warning "$@" --cluster create "${addrs[@]}" --cluster-replicas "$replicas" --cluster-yes
