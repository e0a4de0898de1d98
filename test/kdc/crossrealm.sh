#!/bin/sh
# crossrealm.sh DIR PORT
#
# Creates three MIT Kerberos realms chained by one-way cross-realm trusts,
# CLIENT.TEST -> MIDDLE.TEST -> SERVICE.TEST, every file in DIR (no system
# configuration is read or changed), and starts one krb5kdc serving all
# three on 127.0.0.1:PORT. A ticket of alice@CLIENT.TEST for
# HTTP/localhost@SERVICE.TEST then goes through MIDDLE.TEST, which its
# transited field names. internal/testenv (StartCrossRealmKDC) uses it.
#
# What it makes, all in DIR:
#   krb5.conf       for clients: the three realms and the [capaths] from
#                   CLIENT.TEST to SERVICE.TEST through MIDDLE.TEST
#   kdc.conf        the KDC's realms (KRB5_KDC_PROFILE)
#   kdc-krb5.conf   the KDC's krb5.conf: without [capaths] unless
#                   KDC_CAPATHS=1, so that by default SERVICE.TEST's KDC
#                   finds the path not allowed and (reject_bad_transit =
#                   false) issues the ticket without TRANSITED-POLICY-CHECKED;
#                   with KDC_CAPATHS=1 it checks the path and sets the flag
#   service.keytab  HTTP/localhost@SERVICE.TEST
#   alice@CLIENT.TEST (password alice-pw); krb5kdc.pid, krb5kdc.log
set -eu

if [ $# -lt 2 ]; then
	echo "usage: $0 DIR PORT" >&2
	exit 2
fi
DIR=$1
PORT=$2
KDC_CAPATHS=${KDC_CAPATHS:-0}

find_prog() {
	for d in /usr/sbin /sbin /usr/local/sbin /usr/bin /usr/local/bin; do
		if [ -x "$d/$1" ]; then
			echo "$d/$1"
			return 0
		fi
	done
	command -v "$1" 2>/dev/null && return 0
	echo "crossrealm.sh: $1 is not installed (Debian: apt-get install krb5-kdc krb5-admin-server krb5-user)" >&2
	exit 1
}
KDB5_UTIL=$(find_prog kdb5_util)
KADMIN=$(find_prog kadmin.local)
KRB5KDC=$(find_prog krb5kdc)

mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
REALMS="CLIENT.TEST MIDDLE.TEST SERVICE.TEST"

base() {
	cat <<EOF
[libdefaults]
	default_realm = CLIENT.TEST
	dns_lookup_kdc = false
	dns_lookup_realm = false
	dns_canonicalize_hostname = false
	rdns = false
	udp_preference_limit = 1
	ticket_lifetime = 10h
	permitted_enctypes = aes256-cts-hmac-sha1-96 aes128-cts-hmac-sha1-96
[realms]
	CLIENT.TEST = {
		kdc = 127.0.0.1:$PORT
	}
	MIDDLE.TEST = {
		kdc = 127.0.0.1:$PORT
	}
	SERVICE.TEST = {
		kdc = 127.0.0.1:$PORT
	}
[domain_realm]
	localhost = SERVICE.TEST
EOF
}
capaths() {
	cat <<EOF
[capaths]
	CLIENT.TEST = {
		SERVICE.TEST = MIDDLE.TEST
		MIDDLE.TEST = .
	}
	MIDDLE.TEST = {
		SERVICE.TEST = .
	}
EOF
}
{ base; capaths; } >"$DIR/krb5.conf"
if [ "$KDC_CAPATHS" = 1 ]; then
	{ base; capaths; } >"$DIR/kdc-krb5.conf"
else
	base >"$DIR/kdc-krb5.conf"
fi

{
	cat <<EOF
[kdcdefaults]
	kdc_ports = $PORT
	kdc_tcp_ports = $PORT
[realms]
EOF
	for r in $REALMS; do
		cat <<EOF
	$r = {
		database_name = $DIR/$r.db
		key_stash_file = $DIR/$r.stash
		acl_file = $DIR/kadm5.acl
		max_life = 10h
		supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal
		# issue tickets whose path the KDC finds not allowed, without
		# TRANSITED-POLICY-CHECKED: the service has to judge the path
		reject_bad_transit = false
	}
EOF
	done
	cat <<EOF
[logging]
	kdc = FILE:$DIR/krb5kdc.log
	default = FILE:$DIR/krb5kdc.log
EOF
} >"$DIR/kdc.conf"
: >"$DIR/kadm5.acl"

KRB5_CONFIG=$DIR/kdc-krb5.conf
KRB5_KDC_PROFILE=$DIR/kdc.conf
export KRB5_CONFIG KRB5_KDC_PROFILE

ka() { "$KADMIN" -r "$1" -q "$2" >/dev/null; }
rm -f "$DIR"/*.db* "$DIR"/*.stash "$DIR"/*.keytab
for r in $REALMS; do
	"$KDB5_UTIL" -r "$r" create -s -P "master-$$-pw" >/dev/null
done
# A cross-realm key is the same principal, hence the same salt, made from
# the same password in both realms' databases.
TRUST=trust-$$-$(date +%s)
ka CLIENT.TEST "addprinc -clearpolicy -pw $TRUST-1 krbtgt/MIDDLE.TEST@CLIENT.TEST"
ka MIDDLE.TEST "addprinc -clearpolicy -pw $TRUST-1 krbtgt/MIDDLE.TEST@CLIENT.TEST"
ka MIDDLE.TEST "addprinc -clearpolicy -pw $TRUST-2 krbtgt/SERVICE.TEST@MIDDLE.TEST"
ka SERVICE.TEST "addprinc -clearpolicy -pw $TRUST-2 krbtgt/SERVICE.TEST@MIDDLE.TEST"
ka CLIENT.TEST "addprinc -clearpolicy -pw alice-pw alice@CLIENT.TEST"
ka SERVICE.TEST "addprinc -clearpolicy -randkey HTTP/localhost@SERVICE.TEST"
ka SERVICE.TEST "ktadd -k $DIR/service.keytab HTTP/localhost@SERVICE.TEST"
chmod 0644 "$DIR"/*.keytab

rm -f "$DIR/krb5kdc.pid"
"$KRB5KDC" -r CLIENT.TEST -r MIDDLE.TEST -r SERVICE.TEST -P "$DIR/krb5kdc.pid"
i=0
while [ ! -s "$DIR/krb5kdc.pid" ]; do
	i=$((i + 1))
	if [ $i -gt 100 ]; then
		echo "crossrealm.sh: krb5kdc did not start; see $DIR/krb5kdc.log" >&2
		exit 1
	fi
	sleep 0.05
done
echo "KDC for $REALMS on 127.0.0.1:$PORT, pid $(cat "$DIR/krb5kdc.pid"), files in $DIR"
