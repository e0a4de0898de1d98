#!/bin/sh
# provision.sh DIR ADDR PORT [--foreground]
#
# Creates the Active Directory domain AD.EXAMPLE.TEST (NetBIOS name ADEX) on a
# Samba 4.17 AD domain controller whose every file lives in DIR (no system
# configuration is read or changed), then starts it on the loopback address
# ADDR: its KDC on ADDR:PORT (TCP and UDP), its LDAP on ADDR:389 and 636 (Samba
# has no setting for the LDAP port, so give every instance its own 127.x.y.z;
# internal/testenv/samba.go picks a free one and holds a lock on it). The
# tests (internal/testenv/samba.go) and docs/active-directory.md use it.
#
# Provisioning takes several seconds; with AD_TEMPLATE=DIR2 the provisioned
# domain (before it is started) is kept in DIR2 and copied from there the next
# time, under a lock (flock) so that concurrent callers provision it once.
#
# What it makes, all in DIR:
#   etc/smb.conf            the DC's configuration
#   krb5.conf               for MIT clients: KRB5_CONFIG=DIR/krb5.conf
#   ca.pem                  the CA of the DC's LDAPS certificate, which
#                           names dc1.ad.example.test (not the address)
#   authsvc.keytab          HTTP/localhost and HTTP/authsvc.ad.example.test
#                           (account svc-authsvc, AES only)
#   legacy.keytab           HTTP/legacy.ad.example.test (account svc-legacy,
#                           msDS-SupportedEncryptionTypes=4: RC4 tickets)
#   samba.pid, log.samba
# Accounts (passwords Name-pw-1, e.g. alice / Alice-pw-1; UPN name@ad.example.test):
#   Administrator / Admin-pw-1
#   alice, bob              AES (msDS-SupportedEncryptionTypes=24)
#   rc4user                 msDS-SupportedEncryptionTypes=4
#   dave                    disabled
#   erin                    locked out (lockoutTime set when DIR is started)
#   frank                   account expired (accountExpires in 2012)
#   grace                   must change her password (pwdLastSet=0)
#   kdis klock kexp kchg    ordinary; the live tests change their state
#   svc-authsvc, svc-legacy service accounts with the SPNs above
# Groups: "SOAP Developers" (alice, k*) is a member of "Engineering" (bob):
# nested; "Night Ops" (alice, dave, erin, frank, grace).
#
# With --foreground samba runs in the foreground; otherwise the script returns
# once the DC answers on LDAP and Kerberos, and prints the environment.
set -eu

if [ $# -lt 3 ]; then
	echo "usage: $0 DIR ADDR PORT [--foreground]" >&2
	exit 2
fi
DIR=$1
ADDR=$2
PORT=$3
FG=${4:-}
REALM=AD.EXAMPLE.TEST
DOMAIN=ADEX
HERE=$(cd "$(dirname "$0")" && pwd)

find_prog() {
	for d in /usr/sbin /sbin /usr/local/sbin /usr/bin /usr/local/bin; do
		if [ -x "$d/$1" ]; then
			echo "$d/$1"
			return 0
		fi
	done
	command -v "$1" 2>/dev/null && return 0
	echo "provision.sh: $1 is not installed (Debian: apt-get install samba-ad-dc samba-ad-provision)" >&2
	exit 1
}
SAMBA=$(find_prog samba)
SAMBA_TOOL=$(find_prog samba-tool)
PYTHON=/usr/bin/python3

mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)

# smbconf D ADDR PORT: the DC's smb.conf for the domain in D. Everything
# samba writes goes under D; only the KDC and LDAP run, on ADDR alone.
smbconf() {
	mkdir -p "$1/etc" "$1/run" "$1/cache" "$1/state" "$1/private"
	cat >"$1/etc/smb.conf" <<EOF
[global]
	netbios name = DC1
	realm = $REALM
	workgroup = $DOMAIN
	server role = active directory domain controller
	server services = ldap, kdc
	interfaces = $2/8
	bind interfaces only = yes
	krb5 port = $3
	ldap server require strong auth = allow_sasl_over_tls
	tls enabled = yes
	tls keyfile = $1/tls/dc.key
	tls certfile = $1/tls/dc.pem
	tls cafile = $1/tls/ca.pem
	private dir = $1/private
	lock directory = $1
	state directory = $1/state
	cache directory = $1/cache
	pid directory = $1/run
	binddns dir = $1/bind-dns
	ncalrpc dir = $1/run/ncalrpc
	winbindd socket directory = $1/run/winbindd
	ntp signd socket directory = $1/run/ntp_signd
	log file = $1/log.samba
	max log size = 10000
	logging = file
	log level = 1 auth_audit:3 kerberos:2
	idmap_ldb:use rfc2307 = yes
EOF
}

# clear D: empties D, which must be empty or hold an earlier domain of this
# script (never wipe a directory given by mistake).
clear() {
	if [ -d "$1" ] && [ -n "$(ls -A "$1")" ] && [ ! -f "$1/etc/smb.conf" ] && [ ! -f "$1/provision.log" ]; then
		echo "provision.sh: $1 is not empty and holds no domain of this script; refusing to clear it" >&2
		exit 1
	fi
	rm -rf "$1"
	mkdir -p "$1"
}

# provision D: a new domain with the test accounts in D (samba not started).
provision() {
	clear "$1"
	"$SAMBA_TOOL" domain provision --targetdir="$1" --realm=$REALM --domain=$DOMAIN \
		--server-role=dc --dns-backend=NONE --host-name=dc1 --use-rfc2307 \
		--adminpass='Admin-pw-1' --option="interfaces=127.0.0.1/8" \
		--option="bind interfaces only=yes" >"$1/provision.log" 2>&1 ||
		{ cat "$1/provision.log" >&2; exit 1; }
	smbconf "$1" 127.0.0.1 88
	"$PYTHON" "$HERE/accounts.py" "$1/etc/smb.conf"
	"$SAMBA_TOOL" domain exportkeytab "$1/authsvc.keytab" -s "$1/etc/smb.conf" --principal=HTTP/localhost >/dev/null
	"$SAMBA_TOOL" domain exportkeytab "$1/authsvc.keytab" -s "$1/etc/smb.conf" --principal=HTTP/authsvc.ad.example.test >/dev/null
	"$SAMBA_TOOL" domain exportkeytab "$1/legacy.keytab" -s "$1/etc/smb.conf" --principal=HTTP/legacy.ad.example.test >/dev/null
	tlscerts "$1/tls"
	touch "$1/complete"
}

# tlscerts D: a CA and the DC's certificate (dc1.ad.example.test), in D.
# Samba's own autogenerated certificate names the host in its CN only, which
# Go's TLS (and so authsvc) refuses: it wants a subjectAltName.
tlscerts() {
	mkdir -p "$1"
	openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=ADEX test CA" \
		-keyout "$1/ca.key" -out "$1/ca.pem" 2>/dev/null
	openssl req -newkey rsa:2048 -nodes -subj "/CN=dc1.ad.example.test" \
		-keyout "$1/dc.key" -out "$1/dc.csr" 2>/dev/null
	printf 'subjectAltName=DNS:dc1.ad.example.test,DNS:ad.example.test\nextendedKeyUsage=serverAuth\n' >"$1/ext"
	openssl x509 -req -in "$1/dc.csr" -CA "$1/ca.pem" -CAkey "$1/ca.key" -CAcreateserial \
		-days 3650 -extfile "$1/ext" -out "$1/dc.pem" 2>/dev/null
	chmod 0600 "$1/dc.key" "$1/ca.key"
}

if [ -n "${AD_TEMPLATE:-}" ]; then
	mkdir -p "$(dirname "$AD_TEMPLATE")"
	exec 9>"$AD_TEMPLATE.lock"
	flock 9
	[ -f "$AD_TEMPLATE/complete" ] || provision "$AD_TEMPLATE"
	clear "$DIR"
	cp -a "$AD_TEMPLATE/." "$DIR/"
	flock -u 9
	exec 9>&-
else
	provision "$DIR"
fi
rm -f "$DIR/complete" "$DIR/log.samba" "$DIR/samba.pid"
smbconf "$DIR" "$ADDR" "$PORT"

# erin is locked out now: lockoutTime (100 ns since 1601) within the domain's
# lockout duration (30 minutes by default).
"$PYTHON" - "$DIR/etc/smb.conf" <<'EOF'
import sys, time, ldb
from samba.auth import system_session
from samba.param import LoadParm
from samba.samdb import SamDB
lp = LoadParm(); lp.load(sys.argv[1])
db = SamDB(url=lp.private_path("sam.ldb"), session_info=system_session(), lp=lp)
m = ldb.Message()
m.dn = ldb.Dn(db, "CN=erin,CN=Users," + str(db.domain_dn()))
now = int((time.time() + 11644473600) * 10000000)
m["lockoutTime"] = ldb.MessageElement(str(now), ldb.FLAG_MOD_REPLACE, "lockoutTime")
db.modify(m, controls=["relax:0"])
EOF

cat >"$DIR/krb5.conf" <<EOF
[libdefaults]
	default_realm = $REALM
	dns_lookup_kdc = false
	dns_lookup_realm = false
	dns_canonicalize_hostname = false
	rdns = false
	udp_preference_limit = 1
	forwardable = true
	# rc4-hmac only so that the RC4 test can get an RC4 ticket to refuse.
	permitted_enctypes = aes256-cts-hmac-sha1-96 aes128-cts-hmac-sha1-96 rc4-hmac
	allow_rc4 = true
[realms]
	$REALM = {
		kdc = $ADDR:$PORT
		admin_server = $ADDR:$PORT
	}
[domain_realm]
	localhost = $REALM
	.ad.example.test = $REALM
	ad.example.test = $REALM
EOF

if [ "$FG" = "--foreground" ]; then
	exec "$SAMBA" -s "$DIR/etc/smb.conf" -M single -i --no-process-group
fi
"$SAMBA" -s "$DIR/etc/smb.conf" -M single -D
# Ready when the pid file is there and LDAP and the KDC accept connections.
i=0
until [ -s "$DIR/run/samba.pid" ] && "$PYTHON" - "$ADDR" "$PORT" <<'EOF'
import socket, sys
for port in (389, int(sys.argv[2])):
    socket.create_connection((sys.argv[1], port), timeout=1).close()
EOF
do
	i=$((i + 1))
	if [ $i -gt 300 ]; then
		echo "provision.sh: samba did not start; see $DIR/log.samba" >&2
		exit 1
	fi
	sleep 0.1
done 2>/dev/null
cp "$DIR/run/samba.pid" "$DIR/samba.pid"
cp "$DIR/tls/ca.pem" "$DIR/ca.pem"
echo "AD DC for $REALM ($DOMAIN) on $ADDR (KDC port $PORT, LDAP 389/636), pid $(cat "$DIR/samba.pid"), files in $DIR"
echo "KRB5_CONFIG=$DIR/krb5.conf"
echo "AD_LDAP_URL=ldaps://$ADDR (server name dc1.ad.example.test, CA $DIR/ca.pem)"
echo "AD_KEYTAB=$DIR/authsvc.keytab"
