#!/usr/bin/env python3
"""Talks to `sentry-load sim --relay-upstream managed` as a managed Relay does, with Relay's own
code from PyPI's `sentry-relay`: its key pairs and signatures (`sentry_relay.auth`) and its config
normalizers (`sentry_relay.processing`), which reject what Relay cannot read.

Usage: relay-upstream-client.py BASE_URL PUBLIC_KEY
Prints one JSON object: what each step answered, for the calling test to check.
"""

import json
import sys
import urllib.error
import urllib.request

from sentry_relay.auth import generate_key_pair, generate_relay_id
from sentry_relay.processing import normalize_global_config, normalize_project_config


def post(base, path, payload, relay_id, secret, signed_body=None):
    """POSTs `payload` as Relay does: JSON, X-Sentry-Relay-Id, and a signature of
    `signed_body` (the body itself unless a test forges it). Returns (status, answer)."""
    body = json.dumps(payload, separators=(",", ":")).encode()
    signature = secret.sign(signed_body if signed_body is not None else body)
    request = urllib.request.Request(
        base + path,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "X-Sentry-Relay-Id": str(relay_id),
            "X-Sentry-Relay-Signature": signature,
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        text = error.read()
        try:
            return error.code, json.loads(text)
        except ValueError:
            return error.code, {"raw": text.decode(errors="replace")}


def main():
    base, key = sys.argv[1].rstrip("/"), sys.argv[2]
    secret, public = generate_key_pair()
    other_secret, _ = generate_key_pair()
    relay_id = generate_relay_id()
    out = {}
    configs = "/api/0/relays/projectconfigs/?version=3"
    ask = {"publicKeys": [key], "fullConfig": False, "noCache": False}

    out["configs_before_registering"] = post(base, configs, ask, relay_id, secret)[0]

    hello = {"relay_id": str(relay_id), "public_key": str(public), "version": "26.9.0"}
    forged = json.dumps(dict(hello, version="0.0.1")).encode()
    out["challenge_forged"] = post(
        base, "/api/0/relays/register/challenge/", hello, relay_id, secret, forged
    )[0]
    status, challenge = post(base, "/api/0/relays/register/challenge/", hello, relay_id, secret)
    out["challenge"] = status
    answer = {"relay_id": str(relay_id), "token": challenge.get("token", ""), "version": "26.9.0"}
    out["response_other_key"] = post(
        base, "/api/0/relays/register/response/", answer, relay_id, other_secret
    )[0]
    status, registered = post(
        base, "/api/0/relays/register/response/", answer, relay_id, secret
    )
    out["response"] = status
    out["registered_as"] = registered.get("relay_id")
    out["response_again"] = post(
        base, "/api/0/relays/register/response/", answer, relay_id, secret
    )[0]

    status, answer = post(
        base, configs, {"global": True, "publicKeys": []}, relay_id, secret
    )
    out["global"] = status
    out["global_status"] = answer.get("globalStatus")
    normalize_global_config(answer.get("global"))
    out["global_normalized"] = True

    unknown = "f" * 32
    status, answer = post(
        base, configs, dict(ask, publicKeys=[key, unknown]), relay_id, secret
    )
    out["configs"] = status
    state = answer["configs"][key]
    normalized = normalize_project_config(state["config"])
    out["config_keys_kept"] = all(normalized.get(k) == v for k, v in state["config"].items())
    out["project_id"] = state.get("projectId")
    out["public_key"] = state["publicKeys"][0]["publicKey"]
    out["unknown_key"] = answer["configs"].get(unknown)

    revisions = [state["rev"]]
    status, answer = post(
        base, configs, dict(ask, revisions=revisions), relay_id, secret
    )
    out["unchanged"] = answer.get("unchanged")

    status, answer = post(
        base, "/api/0/relays/publickeys/", {"relay_ids": [str(relay_id)]}, relay_id, secret
    )
    out["public_keys"] = status
    out["own_key_known"] = answer["relays"][str(relay_id)]["publicKey"] == str(public)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
