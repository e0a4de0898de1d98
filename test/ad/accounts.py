#!/usr/bin/python3
"""accounts.py PRIVATE_DIR: creates the test accounts of the AD.EXAMPLE.TEST
domain in a freshly provisioned (not running) Samba AD DC, offline, through
Samba's own Python bindings (one process instead of a samba-tool per user).
test/ad/provision.sh calls it; the accounts are listed there."""
import sys

import ldb
from samba.auth import system_session
from samba.param import LoadParm
from samba.samdb import SamDB

UF_ACCOUNTDISABLE = 0x2
ENC_RC4, ENC_AES128, ENC_AES256 = 0x4, 0x8, 0x10

lp = LoadParm()
lp.load(sys.argv[1])
db = SamDB(url=lp.private_path("sam.ldb"), session_info=system_session(), lp=lp)
base = str(db.domain_dn())
users = "CN=Users," + base


def modify(dn, **attrs):
    m = ldb.Message()
    m.dn = ldb.Dn(db, dn)
    for k, v in attrs.items():
        m[k] = ldb.MessageElement(v, ldb.FLAG_MOD_REPLACE, k)
    db.modify(m)


def user(name, password, enctypes=None, **attrs):
    db.newuser(name, password, useusernameascn=True)
    dn = "CN=%s,%s" % (name, users)
    if enctypes is not None:
        attrs["msDS-SupportedEncryptionTypes"] = str(enctypes)
    if attrs:
        modify(dn, **attrs)
    return dn


# People. Every user gets userPrincipalName name@ad.example.test from newuser.
user("alice", "Alice-pw-1", ENC_AES128 | ENC_AES256, mail="alice@ad.example.test")
user("bob", "Bob-pw-1", ENC_AES128 | ENC_AES256)
user("rc4user", "Rc4user-pw-1", ENC_RC4)
# States refused at login (password logins, and Kerberos users after the fact).
user("dave", "Dave-pw-1", ENC_AES128 | ENC_AES256)
db.disable_account("(sAMAccountName=dave)")
user("frank", "Frank-pw-1", ENC_AES128 | ENC_AES256,
     accountExpires="130000000000000000")  # 2012-12-14: expired
user("grace", "Grace-pw-1", ENC_AES128 | ENC_AES256, pwdLastSet="0")  # must change
user("erin", "Erin-pw-1", ENC_AES128 | ENC_AES256)  # locked per instance (provision.sh)
# Users that the live tests lock, disable, expire after their kinit.
for n in ("kdis", "klock", "kexp", "kchg"):
    user(n, n.capitalize() + "-pw-1", ENC_AES128 | ENC_AES256)

# Service accounts with SPNs: an AES one (msDS-SupportedEncryptionTypes=24)
# and one that never got the attribute set for AES (RC4 service tickets).
user("svc-authsvc", "Svc-authsvc-pw-1", ENC_AES128 | ENC_AES256,
     servicePrincipalName=["HTTP/localhost", "HTTP/authsvc.ad.example.test"])
user("svc-legacy", "Svc-legacy-pw-1", ENC_RC4,
     servicePrincipalName=["HTTP/legacy.ad.example.test"])

# Groups: alice in SOAP Developers, which is in Engineering (nested); bob in
# Engineering directly; a third group for the state users.
db.newgroup("SOAP Developers")
db.newgroup("Engineering")
db.newgroup("Night Ops")
db.add_remove_group_members("SOAP Developers", ["alice", "klock", "kdis", "kexp", "kchg"])
db.add_remove_group_members("Engineering", ["SOAP Developers", "bob"])
db.add_remove_group_members("Night Ops", ["alice", "dave", "erin", "frank", "grace"])
