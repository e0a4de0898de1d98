#!/usr/bin/env bash
# Provision and run a throw-away OpenLDAP server for authsvc's tests.
#
#   slapd.sh init  WORKDIR LDAP_PORT LDAPS_PORT   config, certificate, data; then start
#   slapd.sh start WORKDIR                        start again (after stop), wait until it answers
#   slapd.sh stop  WORKDIR                        stop it (the data stays)
#   slapd.sh kill  WORKDIR                        kill -9 it, as a crash would (the data stays)
#
# Everything lives in WORKDIR: a cn=config database made with slapadd, an mdb
# database with the suffix dc=example,dc=test, a CA and a server certificate
# made with openssl (CN and SAN 127.0.0.1 and localhost) for StartTLS on
# ldap://127.0.0.1:LDAP_PORT and TLS on ldaps://127.0.0.1:LDAPS_PORT. slapd runs
# as the calling user (root in CI) and daemonizes with a pid file.
#
# The directory (see users.ldif and groups.ldif next to this script):
#   cn=admin,dc=example,dc=test           rootdn, password adminsecret
#   cn=authsvc,ou=services,...            service account, password servicesecret
#   uid=alice   password wonderland       groups soap-users, admins (groupOfNames),
#                                         auditors (groupOfUniqueNames), devs (posixGroup)
#   uid=bob     password builder          groups devs
#   uid=locked  password lockedpass       ppolicy: pwdAccountLockedTime 000001010000Z
#   uid=expired password expiredpass      ppolicy: pwdMaxAge exceeded, no grace
#   uid=reset   password resetpass        ppolicy: pwdReset with pwdMustChange
#
# On success 'init' prints shell-style lines the caller may parse:
#   LDAP_URL=... LDAPS_URL=... LDAP_BASE_DN=... LDAP_BIND_DN=... LDAP_BIND_PASSWORD=...
#   LDAP_CA_FILE=... LDAP_ADMIN_DN=... LDAP_ADMIN_PASSWORD=...
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PATH=$PATH:/usr/sbin:/sbin
SUFFIX=dc=example,dc=test
ADMIN_DN=cn=admin,$SUFFIX
ADMIN_PW=adminsecret
SERVICE_DN=cn=authsvc,ou=services,$SUFFIX
SERVICE_PW=servicesecret

die() { echo "slapd.sh: $*" >&2; exit 1; }

need() {
	for p in "$@"; do
		command -v "$p" >/dev/null || die "$p is not installed (Debian: apt-get install slapd ldap-utils openssl)"
	done
}

make_certs() {
	local d=$1
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=authsvc test CA" \
		-keyout "$d/ca.key" -out "$d/ca.crt" 2>/dev/null
	openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
		-keyout "$d/server.key" -out "$d/server.csr" 2>/dev/null
	printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >"$d/server.ext"
	openssl x509 -req -in "$d/server.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
		-days 2 -extfile "$d/server.ext" -out "$d/server.crt" 2>/dev/null
	chmod 600 "$d/server.key" "$d/ca.key"
}

write_config() {
	local d=$1
	cat >"$d/config.ldif" <<CONF
dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: $d/slapd.pid
olcArgsFile: $d/slapd.args
olcTLSCACertificateFile: $d/ca.crt
olcTLSCertificateFile: $d/server.crt
olcTLSCertificateKeyFile: $d/server.key
olcLogLevel: none

dn: cn=module{0},cn=config
objectClass: olcModuleList
cn: module{0}
olcModulePath: /usr/lib/ldap
olcModuleLoad: {0}back_mdb
olcModuleLoad: {1}memberof
olcModuleLoad: {2}ppolicy

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

include: file:///etc/ldap/schema/core.ldif

include: file:///etc/ldap/schema/cosine.ldif

include: file:///etc/ldap/schema/nis.ldif

include: file:///etc/ldap/schema/inetorgperson.ldif

# 500 entries a search, as a directory's page limit (Active Directory's
# MaxPageSize is 1000); paged searches may go past it, as in AD.
dn: olcDatabase={-1}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {-1}frontend
olcSizeLimit: size.soft=500 size.hard=500 size.prtotal=unlimited

dn: olcDatabase={0}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {0}config
olcAccess: {0}to * by * none

dn: olcDatabase={1}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {1}mdb
olcDbDirectory: $d/data
olcSuffix: $SUFFIX
olcRootDN: $ADMIN_DN
olcRootPW: $ADMIN_PW
olcDbMaxSize: 67108864
olcDbIndex: objectClass eq
olcDbIndex: uid,cn eq
olcDbIndex: member,uniqueMember,memberUid eq
olcAccess: {0}to attrs=userPassword by anonymous auth by self write by * none
olcAccess: {1}to * by dn.exact="$SERVICE_DN" read by self read by * none

dn: olcOverlay={0}memberof,olcDatabase={1}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcMemberOf
olcOverlay: {0}memberof
olcMemberOfGroupOC: groupOfNames
olcMemberOfMemberAD: member
olcMemberOfMemberOfAD: memberOf

dn: olcOverlay={1}ppolicy,olcDatabase={1}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcPPolicyConfig
olcOverlay: {1}ppolicy
olcPPolicyDefault: cn=default,ou=policies,$SUFFIX
olcPPolicyUseLockout: TRUE
CONF
}

# wait_up DIR: until an anonymous root DSE search answers (slapd forks before it listens).
wait_up() {
	local d=$1 url
	url=$(cat "$d/url")
	for _ in $(seq 1 100); do
		if ldapsearch -x -H "$url" -b "" -s base -o nettimeout=1 namingContexts >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.05
	done
	die "slapd in $d did not answer on $url (log: $d/slapd.log)"
}

start() {
	local d=$1
	[ -f "$d/url" ] || die "$d is not initialized; run init first"
	if [ -f "$d/slapd.pid" ] && alive "$(cat "$d/slapd.pid")"; then
		die "slapd already runs in $d (pid $(cat "$d/slapd.pid"))"
	fi
	rm -f "$d/slapd.pid"
	# -d 0 would keep it in the foreground; we daemonize and rely on the pid file.
	slapd -F "$d/slapd.d" -h "$(cat "$d/url") $(cat "$d/urls")" -s 0 >>"$d/slapd.log" 2>&1 ||
		die "slapd failed to start (log: $d/slapd.log)"
	wait_up "$d"
}

# alive PID: the process runs (a zombie does not count: slapd daemonizes, and
# in a container the init that should reap it may take its time).
alive() {
	kill -0 "$1" 2>/dev/null || return 1
	local st
	st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 0
	[ "$st" != Z ]
}

# stop DIR [SIGNAL]: TERM shuts down cleanly (slapd takes about 1.5 s);
# KILL is a crash, instant, and safe for the mdb database.
stop() {
	local d=$1 sig=${2:-TERM} pid
	[ -f "$d/slapd.pid" ] || return 0
	pid=$(cat "$d/slapd.pid")
	kill -s "$sig" "$pid" 2>/dev/null || true
	for _ in $(seq 1 200); do
		alive "$pid" || { rm -f "$d/slapd.pid"; return 0; }
		sleep 0.025
	done
	kill -9 "$pid" 2>/dev/null || true
	rm -f "$d/slapd.pid"
}

init() {
	local d=$1 port=$2 sport=$3
	need slapd slapadd slappasswd ldapsearch ldapadd openssl
	mkdir -p "$d"
	d=$(cd "$d" && pwd)
	[ ! -e "$d/slapd.d" ] || die "$d already holds a slapd configuration"
	mkdir -p "$d/slapd.d" "$d/data"
	echo "ldap://127.0.0.1:$port" >"$d/url"
	echo "ldaps://127.0.0.1:$sport" >"$d/urls"
	make_certs "$d"
	write_config "$d"
	slapadd -n 0 -F "$d/slapd.d" -l "$d/config.ldif" >"$d/slapadd.log" 2>&1 ||
		die "slapadd of the configuration failed: $(cat "$d/slapadd.log")"
	# Users go in with slapadd: it accepts the operational ppolicy attributes
	# (pwdChangedTime) that an LDAP add refuses.
	local line
	sed "s/@SUFFIX@/$SUFFIX/g; s/@SERVICE_PW@/$SERVICE_PW/g" "$here/users.ldif" |
		while IFS= read -r line; do
			case $line in
			"userPassword: {PLAIN}"*) echo "userPassword: $(slappasswd -h '{SSHA}' -s "${line#userPassword: \{PLAIN\}}")" ;;
			*) printf '%s\n' "$line" ;;
			esac
		done >"$d/users.ldif"
	slapadd -q -n 1 -F "$d/slapd.d" -l "$d/users.ldif" >>"$d/slapadd.log" 2>&1 ||
		die "slapadd of the users failed: $(cat "$d/slapadd.log")"
	start "$d"
	# Groups go in over LDAP so that the memberof overlay fills in memberOf.
	sed "s/@SUFFIX@/$SUFFIX/g" "$here/groups.ldif" >"$d/groups.ldif"
	ldapadd -x -H "$(cat "$d/url")" -D "$ADMIN_DN" -w "$ADMIN_PW" -f "$d/groups.ldif" >>"$d/slapadd.log" 2>&1 ||
		{ stop "$d"; die "loading the groups failed: $(cat "$d/slapadd.log")"; }
	cat <<OUT
LDAP_URL=ldap://127.0.0.1:$port
LDAPS_URL=ldaps://127.0.0.1:$sport
LDAP_BASE_DN=$SUFFIX
LDAP_BIND_DN=$SERVICE_DN
LDAP_BIND_PASSWORD=$SERVICE_PW
LDAP_CA_FILE=$d/ca.crt
LDAP_ADMIN_DN=$ADMIN_DN
LDAP_ADMIN_PASSWORD=$ADMIN_PW
LDAP_PID_FILE=$d/slapd.pid
OUT
}

case "${1:-}" in
init) [ $# -eq 4 ] || die "usage: $0 init WORKDIR LDAP_PORT LDAPS_PORT"; init "$2" "$3" "$4" ;;
start) [ $# -eq 2 ] || die "usage: $0 start WORKDIR"; start "$(cd "$2" && pwd)" ;;
stop) [ $# -eq 2 ] || die "usage: $0 stop WORKDIR"; stop "$(cd "$2" && pwd)" ;;
kill) [ $# -eq 2 ] || die "usage: $0 kill WORKDIR"; stop "$(cd "$2" && pwd)" KILL ;;
*) die "usage: $0 init WORKDIR LDAP_PORT LDAPS_PORT | start WORKDIR | stop WORKDIR | kill WORKDIR" ;;
esac
