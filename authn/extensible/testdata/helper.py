#!/usr/bin/python3
"""A login program for authsvc's exec and http modules (test helper).

Usage: helper.py MODE [--persistent]
MODE decide:  alice -> accept (groups, attributes echo what it was sent),
              bob -> reject, no UsernameToken -> ignore.
MODE crash | hang | garbled | big | exit1: misbehave in that way.
With --persistent it reads one document per line and answers per line.
"""
import json
import sys
import time


def decide(doc):
    sec = doc.get("security") or {}
    uts = sec.get("username_tokens") or []
    tokens = sec.get("tokens", [])
    ticket = [i for i, t in enumerate(tokens) if t["local"] == "Ticket"]
    # What an accepting answer verified, by index into security.tokens.
    ut_index = [i for i, t in enumerate(tokens) if t["local"] == "UsernameToken"][:1]
    rid = doc["request_id"]
    if ticket:
        return {"version": 1, "decision": "accept", "request_id": rid, "processed": ticket,
                "subject": {"principal": "ticket-holder", "method": "Ticket"}}
    if not uts:
        return {"version": 1, "decision": "ignore", "request_id": rid}
    ut = uts[0]
    if ut["username"] == "alice":
        return {"version": 1, "decision": "accept", "request_id": rid, "processed": ut_index,
                "subject": {"principal": "alice", "realm": "EXT", "groups": ["ext-users"],
                            "attributes": {
                                "peer": [doc["peer"]["address"]],
                                "password_sent": [str("password" in ut)],
                                "raw_has_secret": [str("s3cret" in sec["xml"])],
                                "locals": [t["local"] for t in sec["tokens"]],
                                "header": [doc.get("headers", {}).get("X-Tenant", "")],
                                "ns_wsse": [sec["namespaces"].get("wsse", "")],
                            }}}
    if ut["username"] == "bob":
        return {"version": 1, "decision": "reject", "reason": "bob is locked", "request_id": rid}
    return {"version": 1, "decision": "ignore", "request_id": rid}


def main():
    mode = sys.argv[1]
    persistent = "--persistent" in sys.argv
    while True:
        line = sys.stdin.readline()
        if not line:
            return
        doc = json.loads(line)
        if mode == "crash":
            sys.stderr.write("helper: crashing on purpose\n")
            sys.exit(3)
        if mode == "hang":
            time.sleep(60)
        if mode == "garbled":
            sys.stdout.write("this is not json\n")
        elif mode == "big":
            sys.stdout.write("x" * 200000 + "\n")
        elif mode == "exit1":
            sys.stdout.write(json.dumps(decide(doc)) + "\n")
            sys.stdout.flush()
            sys.exit(1)
        else:
            sys.stdout.write(json.dumps(decide(doc)) + "\n")
        sys.stdout.flush()
        if not persistent:
            return


if __name__ == "__main__":
    main()
