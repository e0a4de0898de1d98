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

gss_client.py MECH SPN once
    the same without asking for mutual authentication: with SPNEGO the
    context still needs the acceptor's final NegTokenResp to complete.

gss_client.py krb5 SPN mic
    a krb5 context without mutual authentication (complete after its first
    token): prints the token, reads a message (Base64), prints MIT's MIC of
    it (gss_get_mic, Base64), then reads the acceptor's MIC of the same
    message and prints "verified" when gss_verify_mic accepts it. The test
    uses it for SPNEGO mechListMICs, which MIT's own initiator does not put
    in its first token.
"""
import base64
import sys

import gssapi

KRB5 = gssapi.OID.from_int_seq("1.2.840.113554.1.2.2")
SPNEGO = gssapi.OID.from_int_seq("1.3.6.1.5.5.2")


def context(mech, spn, mutual=True):
    name = gssapi.Name(spn, gssapi.NameType.kerberos_principal)
    flags = (gssapi.RequirementFlag.integrity
             | gssapi.RequirementFlag.out_of_sequence_detection)
    if mutual:
        flags |= gssapi.RequirementFlag.mutual_authentication
    return gssapi.SecurityContext(name=name, mech=KRB5 if mech == "krb5" else SPNEGO,
                                  flags=flags, usage="initiate")


def main():
    mech, spn, what = sys.argv[1], sys.argv[2], sys.argv[3]
    if what == "mic":
        ctx = context(mech, spn, mutual=False)
        print(base64.b64encode(ctx.step()).decode(), flush=True)
        if not ctx.complete:
            print("krb5 context not complete after its first token", file=sys.stderr)
        msg = base64.b64decode(sys.stdin.readline().strip())
        print(base64.b64encode(ctx.get_signature(msg)).decode(), flush=True)
        mic = base64.b64decode(sys.stdin.readline().strip())
        ctx.verify_signature(msg, mic)
        print("verified", flush=True)
        return
    if what in ("mutual", "once"):
        ctx = context(mech, spn, mutual=what == "mutual")
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
