#!/usr/bin/env bash
# Start a private redis-server (Debian package redis-server) for tests.
#
#   test/redis/start.sh PORT DIR [--requirepass PASSWORD] [--user NAME PASSWORD PREFIX]
#                       [--tls CERT KEY CA]
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
#
# Exits 2 on bad arguments and 127 when redis-server is not installed.
set -euo pipefail

usage() { echo "usage: $0 PORT DIR [--requirepass PASSWORD] [--user NAME PASSWORD PREFIX] [--tls CERT KEY CA]" >&2; exit 2; }

[[ $# -ge 2 ]] || usage
port=$1 dir=$2
shift 2
[[ $port =~ ^[0-9]+$ ]] || usage
requirepass="" user="" userpass="" userprefix="" tlscert="" tlskey="" tlsca=""
while [[ $# -gt 0 ]]; do
	case $1 in
	--requirepass) [[ $# -ge 2 ]] || usage; requirepass=$2; shift 2 ;;
	--user) [[ $# -ge 4 ]] || usage; user=$2 userpass=$3 userprefix=$4; shift 4 ;;
	--tls) [[ $# -ge 4 ]] || usage; tlscert=$2 tlskey=$3 tlsca=$4; shift 4 ;;
	*) usage ;;
	esac
done

server=""
for c in redis-server /usr/bin/redis-server /usr/sbin/redis-server; do
	if command -v "$c" >/dev/null 2>&1; then server=$(command -v "$c"); break; fi
done
if [[ -z $server ]]; then
	echo "$0: redis-server is not installed (Debian: apt-get install redis-server)" >&2
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
	else
		echo "port $port"
	fi
	echo "dir $dir"
	echo "daemonize no"
	echo "protected-mode yes"
	echo "save \"\""
	echo "appendonly no"
	echo "logfile \"\""
	echo "loglevel notice"
	echo "databases 16"
	echo "tcp-keepalive 0"
	if [[ -n $user ]]; then
		if [[ -n $requirepass ]]; then
			echo "user default on >$requirepass ~* &* +@all"
		else
			echo "user default off"
		fi
		echo "user $user on >$userpass resetkeys ~${userprefix}* resetchannels -@all +set +eval +exists +get +incr +pexpire +pttl +ping +hello +auth"
	elif [[ -n $requirepass ]]; then
		echo "requirepass $requirepass"
	fi
} >"$conf"
chmod 600 "$conf"

exec "$server" "$conf"
