#!/bin/sh
# provision.sh DIR PORT [--foreground]
#
# Creates the Kerberos realm EXAMPLE.TEST on an MIT KDC whose every file lives
# in DIR (no system configuration is read or changed), then starts krb5kdc on
# 127.0.0.1:PORT (TCP and UDP). The tests (internal/testenv/kdc.go) and
# test/kdc/Dockerfile both use this script.
#
# What it makes, all in DIR:
#   krb5.conf, kdc.conf     point KRB5_CONFIG / KRB5_KDC_PROFILE at these
#   principals              alice (password alice-pw), bob (bob-pw),
#                           HTTP/localhost, HTTP/other.example.test,
#                           HTTP/camellia.example.test (camellia keys only)
#   service.keytab          HTTP/localhost and HTTP/other.example.test, kvno 2
#   localhost.keytab        HTTP/localhost only, kvno 2
#   wrong.keytab            HTTP/localhost, kvno 2, but not its key
#   camellia.keytab         HTTP/camellia.example.test
#   krb5kdc.pid, krb5kdc.log
#
# When DIR already holds a realm (principal database, stash and
# service.keytab, as a container's volume does after its first start), the
# database and keytabs are kept and only the KDC is started: a restart keeps
# the keys that authsvc's keytab holds. Remove DIR to start afresh.
#
# With --foreground the KDC runs in the foreground (for a container);
# otherwise it forks and the script returns once the KDC answers.
#
# Environment: REALM (default EXAMPLE.TEST), KDC_HOST (default 127.0.0.1, the
# address clients are told to use; the KDC itself listens on every address).
set -eu

if [ $# -lt 2 ]; then
	echo "usage: $0 DIR PORT [--foreground]" >&2
	exit 2
fi
DIR=$1
PORT=$2
FG=${3:-}
REALM=${REALM:-EXAMPLE.TEST}
KDC_HOST=${KDC_HOST:-127.0.0.1}

find_prog() {
	for d in /usr/sbin /sbin /usr/local/sbin /usr/bin /usr/local/bin; do
		if [ -x "$d/$1" ]; then
			echo "$d/$1"
			return 0
		fi
	done
	command -v "$1" 2>/dev/null && return 0
	echo "provision.sh: $1 is not installed (Debian: apt-get install krb5-kdc krb5-admin-server krb5-user)" >&2
	exit 1
}
KDB5_UTIL=$(find_prog kdb5_util)
KADMIN=$(find_prog kadmin.local)
KRB5KDC=$(find_prog krb5kdc)

mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)

cat >"$DIR/krb5.conf" <<EOF
[libdefaults]
	default_realm = $REALM
	dns_lookup_kdc = false
	dns_lookup_realm = false
	dns_canonicalize_hostname = false
	rdns = false
	udp_preference_limit = 1
	ticket_lifetime = 10h
	forwardable = true
	# camellia is only there for the "unsupported enctype" test.
	permitted_enctypes = aes256-cts-hmac-sha1-96 aes128-cts-hmac-sha1-96 aes256-cts-hmac-sha384-192 aes128-cts-hmac-sha256-128 camellia256-cts-cmac
[realms]
	$REALM = {
		kdc = $KDC_HOST:$PORT
	}
[domain_realm]
	localhost = $REALM
	.example.test = $REALM
	example.test = $REALM
EOF

cat >"$DIR/kdc.conf" <<EOF
[kdcdefaults]
	kdc_ports = $PORT
	kdc_tcp_ports = $PORT
[realms]
	$REALM = {
		database_name = $DIR/principal
		key_stash_file = $DIR/stash
		acl_file = $DIR/kadm5.acl
		max_life = 10h
		max_renewable_life = 1d
		supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal
	}
[logging]
	kdc = FILE:$DIR/krb5kdc.log
	default = FILE:$DIR/krb5kdc.log
EOF
: >"$DIR/kadm5.acl"

KRB5_CONFIG=$DIR/krb5.conf
KRB5_KDC_PROFILE=$DIR/kdc.conf
export KRB5_CONFIG KRB5_KDC_PROFILE

if [ -s "$DIR/principal" ] && [ -s "$DIR/stash" ] && [ -s "$DIR/service.keytab" ]; then
	echo "provision.sh: realm $REALM already in $DIR, kept" >&2
else
	rm -f "$DIR"/principal* "$DIR/stash" "$DIR"/*.keytab
	"$KDB5_UTIL" -r "$REALM" create -s -P "master-$$-pw" >/dev/null

	ka() { "$KADMIN" -r "$REALM" -q "$1" >/dev/null; }

	ka "addprinc -clearpolicy -pw alice-pw alice@$REALM"
	ka "addprinc -clearpolicy -pw bob-pw bob@$REALM"

	# HTTP/localhost: first a key we export as the wrong one, then the real key,
	# with the kvno set back so that both keytabs claim the same kvno: the
	# negative test then fails on decryption, not on the kvno.
	ka "addprinc -clearpolicy -pw wrong-$$-$(date +%s) HTTP/localhost@$REALM"
	ka "modprinc -kvno 2 HTTP/localhost@$REALM"
	ka "ktadd -norandkey -k $DIR/wrong.keytab HTTP/localhost@$REALM"
	ka "cpw -randkey HTTP/localhost@$REALM"
	ka "modprinc -kvno 2 HTTP/localhost@$REALM"
	ka "ktadd -norandkey -k $DIR/localhost.keytab HTTP/localhost@$REALM"
	ka "ktadd -norandkey -k $DIR/service.keytab HTTP/localhost@$REALM"

	ka "addprinc -clearpolicy -randkey HTTP/other.example.test@$REALM"
	ka "modprinc -kvno 2 HTTP/other.example.test@$REALM"
	ka "ktadd -norandkey -k $DIR/service.keytab HTTP/other.example.test@$REALM"

	ka "addprinc -clearpolicy -randkey -e camellia256-cts-cmac:normal HTTP/camellia.example.test@$REALM"
	ka "ktadd -norandkey -k $DIR/camellia.keytab HTTP/camellia.example.test@$REALM"
fi
chmod 0644 "$DIR"/*.keytab

if [ "$FG" = "--foreground" ]; then
	exec "$KRB5KDC" -n -r "$REALM" -P "$DIR/krb5kdc.pid"
fi
rm -f "$DIR/krb5kdc.pid"
"$KRB5KDC" -r "$REALM" -P "$DIR/krb5kdc.pid"
# krb5kdc writes its pid file once it is listening.
i=0
while [ ! -s "$DIR/krb5kdc.pid" ]; do
	i=$((i + 1))
	if [ $i -gt 100 ]; then
		echo "provision.sh: krb5kdc did not start; see $DIR/krb5kdc.log" >&2
		exit 1
	fi
	sleep 0.05
done
echo "KDC for $REALM on $KDC_HOST:$PORT, pid $(cat "$DIR/krb5kdc.pid"), files in $DIR"
