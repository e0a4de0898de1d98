#!/usr/bin/env bash
# Start a private redis-server (Debian package redis-server) for tests.
#
#   test/redis/start.sh PORT DIR [--requirepass PASSWORD] [--user NAME PASSWORD PREFIX]
#                       [--tls CERT KEY CA] [--conf LINE]... [--sentinel]
#
# The server listens on 127.0.0.1:PORT only, keeps nothing on disk (no RDB
# snapshots, no AOF), writes its config to DIR/redis.conf and runs in the
# foreground (exec), so the caller owns the process: SIGTERM stops it, and
# running the script again with the same arguments brings it back on the
# same port (an outage and a recovery).
#
# --requirepass sets the default user's password (AUTH PASSWORD).
# --user adds an ACL user with only what the replay cache needs: SET, EVAL and the
# commands of its quota script (EXISTS GET INCR PEXPIRE PTTL), and PING
# (plus the connection handshake) on keys starting with PREFIX. With --user
# the default user is switched off unless --requirepass is also given.
#
# --tls serves TLS only on PORT (no plaintext port) with the PEM server
# certificate CERT and key KEY, and requires client certificates issued by CA.
# The server presents the same certificate when it is the client (a replica
# to its master, a cluster bus, a sentinel), so it must be good for both.
#
# --conf appends LINE to the configuration as is (repeat it for several):
# replicaof, cluster-enabled, min-replicas-to-write, user rules, ...
#
# --sentinel runs redis-sentinel (Debian package redis-sentinel) instead of
# redis-server, with the same base configuration and the --conf lines
# ("sentinel monitor ..."). A sentinel rewrites its configuration file; it
# lives in DIR like the rest.
#
# Exits 2 on bad arguments and 127 when redis-server is not installed.
set -euo pipefail

usage() { echo "usage: $0 PORT DIR [--requirepass PASSWORD] [--user NAME PASSWORD PREFIX] [--tls CERT KEY CA] [--conf LINE]... [--sentinel]" >&2; exit 2; }

[[ $# -ge 2 ]] || usage
port=$1 dir=$2
shift 2
[[ $port =~ ^[0-9]+$ ]] || usage
requirepass="" user="" userpass="" userprefix="" tlscert="" tlskey="" tlsca="" sentinel=""
extra=()
while [[ $# -gt 0 ]]; do
	case $1 in
	--requirepass) [[ $# -ge 2 ]] || usage; requirepass=$2; shift 2 ;;
	--user) [[ $# -ge 4 ]] || usage; user=$2 userpass=$3 userprefix=$4; shift 4 ;;
	--tls) [[ $# -ge 4 ]] || usage; tlscert=$2 tlskey=$3 tlsca=$4; shift 4 ;;
	--conf) [[ $# -ge 2 ]] || usage; extra+=("$2"); shift 2 ;;
	--sentinel) sentinel=1; shift ;;
	*) usage ;;
	esac
done

prog=redis-server pkg=redis-server
if [[ -n $sentinel ]]; then prog=redis-sentinel pkg=redis-sentinel; fi
server=""
for c in $prog /usr/bin/$prog /usr/sbin/$prog; do
	if command -v "$c" >/dev/null 2>&1; then server=$(command -v "$c"); break; fi
done
if [[ -z $server ]]; then
	echo "$0: $prog is not installed (Debian: apt-get install $pkg)" >&2
	exit 127
fi

mkdir -p "$dir"
conf=$dir/redis.conf
{
	echo "bind 127.0.0.1"
	if [[ -n $tlscert ]]; then
		echo "port 0"
		echo "tls-port $port"
		echo "tls-cert-file $tlscert"
		echo "tls-key-file $tlskey"
		echo "tls-ca-cert-file $tlsca"
		echo "tls-auth-clients yes"
		echo "tls-replication yes"
	else
		echo "port $port"
	fi
	echo "dir $dir"
	echo "daemonize no"
	echo "protected-mode yes"
	if [[ -z $sentinel ]]; then
		echo "save \"\""
		echo "appendonly no"
		echo "databases 16"
	fi
	echo "logfile \"\""
	echo "loglevel notice"
	echo "tcp-keepalive 0"
	if [[ -n $user ]]; then
		if [[ -n $requirepass ]]; then
			echo "user default on >$requirepass ~* &* +@all"
		else
			echo "user default off"
		fi
		echo "user $user on >$userpass resetkeys ~${userprefix}* resetchannels -@all +set +eval +exists +get +incr +pexpire +pttl +wait +ping +hello +auth"
	elif [[ -n $requirepass ]]; then
		echo "requirepass $requirepass"
	fi
	for l in "${extra[@]}"; do echo "$l"; done
} >"$conf"
chmod 600 "$conf"

exec "$server" "$conf"
