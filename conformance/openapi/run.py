#!/usr/bin/env python3
"""The API reference checked by an independent OpenAPI 3.1 validator.

1. `accolade openapi` (offline) must be a valid OpenAPI 3.1 document
   (openapi-spec-validator, which also checks every schema and reference);
2. a running service must serve the same document at /openapi.json, naming its own
   public URL as the server;
3. every public GET route of the document without path parameters must answer
   something other than 404 or 405 on the running service.

Usage: python conformance/openapi/run.py --binary target/debug/accolade
(needs `pip install -r conformance/openapi/requirements.txt`)
"""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

from openapi_spec_validator import validate


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--binary", default="target/debug/accolade")
    args = ap.parse_args()
    binary = os.path.abspath(args.binary)
    failures = []

    offline = json.loads(subprocess.run(
        [binary, "openapi", "--public-url", "https://badges.example.edu"],
        check=True, capture_output=True, text=True).stdout)
    validate(offline)
    print(f"offline document: valid OpenAPI {offline['openapi']}, "
          f"{len(offline['paths'])} paths, {len(offline['components']['schemas'])} schemas")

    work = tempfile.mkdtemp(prefix="openapi-")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [binary, "serve", "--listen", f"127.0.0.1:{port}",
         "--data-dir", os.path.join(work, "data"), "--keys-dir", os.path.join(work, "keys")],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        env=dict(os.environ, ACCOLADE_LOG="warn"))
    try:
        deadline = time.time() + 60
        while not proc.stdout.readline().decode().startswith("listening on"):
            if proc.poll() is not None or time.time() > deadline:
                sys.exit("the service did not start")
        with urllib.request.urlopen(base + "/openapi.json", timeout=30) as r:
            served = json.loads(r.read())
        validate(served)
        if served["servers"][0]["url"] != base:
            failures.append(f"served document names {served['servers'][0]['url']}, not {base}")
        if served["paths"] != offline["paths"]:
            failures.append("the served paths differ from `accolade openapi`")
        checked = 0
        for path, item in served["paths"].items():
            op = item.get("get")
            if not op or "{" in path or op.get("security"):
                continue
            try:
                with urllib.request.urlopen(base + path, timeout=30) as r:
                    status = r.status
            except urllib.error.HTTPError as e:
                status = e.code
            checked += 1
            if status in (404, 405):
                failures.append(f"GET {path} is documented but answers {status}")
        print(f"served document: valid, same paths; {checked} public GET routes answer")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        shutil.rmtree(work, ignore_errors=True)
    for f in failures:
        print("FAIL:", f)
    print("openapi conformance:", "FAIL" if failures else "PASS")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
