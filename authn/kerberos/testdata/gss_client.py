#!/usr/bin/python3
"""A GSS-API initiator for the authsvc Kerberos tests (python3-gssapi, MIT).

gss_client.py MECH SPN COUNT
    prints COUNT initial context tokens, Base64, one a line, each from a new
    security context with the credentials in KRB5CCNAME: fresh
    authenticators from the same service ticket, as an SSO client sends them.
    MECH is krb5 or spnego; SPN a Kerberos principal (HTTP/localhost@REALM).

gss_client.py MECH SPN mutual
    prints one token, then reads the acceptor's reply token (Base64) from
    standard input, steps the context with it and prints "complete" when the
    mutual authentication succeeded.
"""
import base64
import sys

import gssapi

KRB5 = gssapi.OID.from_int_seq("1.2.840.113554.1.2.2")
SPNEGO = gssapi.OID.from_int_seq("1.3.6.1.5.5.2")


def context(mech, spn):
    name = gssapi.Name(spn, gssapi.NameType.kerberos_principal)
    flags = (gssapi.RequirementFlag.mutual_authentication
             | gssapi.RequirementFlag.out_of_sequence_detection)
    return gssapi.SecurityContext(name=name, mech=KRB5 if mech == "krb5" else SPNEGO,
                                  flags=flags, usage="initiate")


def main():
    mech, spn, what = sys.argv[1], sys.argv[2], sys.argv[3]
    if what == "mutual":
        ctx = context(mech, spn)
        tok = ctx.step()
        print(base64.b64encode(tok).decode(), flush=True)
        reply = base64.b64decode(sys.stdin.readline().strip())
        out = ctx.step(reply)
        if out:
            print("unexpected output token", file=sys.stderr)
        print("complete" if ctx.complete else "incomplete", flush=True)
        return
    for _ in range(int(what)):
        print(base64.b64encode(context(mech, spn).step()).decode())


if __name__ == "__main__":
    main()
