#!/usr/bin/env bash
# The README's walk-through, run as written: start the service, name the issuer,
# describe an achievement, award it directly and as an offer, claim the offer on its
# claim page, verify (API and command line), revoke, verify again, look at the
# operator's endpoints, stop.
#
#   examples/walkthrough.sh [path/to/accolade]     (default: target/release/accolade)
#
# Needs curl and python3 (for reading JSON answers). Every step checks its answer and
# the script stops at the first surprise, naming it.
set -euo pipefail

BIN=${1:-target/release/accolade}
[ -x "$BIN" ] || { echo "no binary at $BIN (cargo build --release first)" >&2; exit 2; }
WORK=$(mktemp -d)
SERVER_PID=
cleanup() {
    [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

# json FIELD.PATH: one member of the JSON answer on standard input.
json() {
    python3 -c 'import json, sys
v = json.load(sys.stdin)
for k in sys.argv[1].split("."):
    v = v[int(k)] if isinstance(v, list) else v[k]
print(v if isinstance(v, str) else json.dumps(v))' "$1"
}
step() { printf '\n== %s\n' "$*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }

step "start the service (a key and an admin token are generated on first start)"
mkfifo "$WORK/out"
ACCOLADE_LOG=warn "$BIN" serve --listen 127.0.0.1:0 \
    --data-dir "$WORK/data" --keys-dir "$WORK/keys" > "$WORK/out" 2> "$WORK/serve.log" &
SERVER_PID=$!
exec 3< "$WORK/out"
read -r -t 60 LINE <&3 || fail "the service did not start: $(cat "$WORK/serve.log")"
B=${LINE#listening on }
TOKEN=$(cat "$WORK/data/admin-token")
echo "$LINE"
AUTH=(-H "Authorization: Bearer $TOKEN")

step "name the institution"
curl -sf -X PUT "$B/api/v1/issuer" "${AUTH[@]}" \
    -d '{"name": "Example Cloud Academy", "url": "https://academy.example.com"}' | json name

step "describe an achievement"
ACH=$(curl -sf "$B/api/v1/achievements" "${AUTH[@]}" -d '{
  "name": "Cloud Practitioner", "description": "Understands core cloud services.",
  "criteria": {"narrative": "Passed the Cloud Practitioner exam."},
  "achievementType": "Certification", "tags": ["cloud"]}' | json id)
echo "$ACH"

step "award it directly to an earner's DID (signed at once)"
AWARD=$(curl -sf "$B/api/v1/awards" "${AUTH[@]}" -d '{
  "achievement_id": "'"$ACH"'", "delivery": "direct",
  "recipient": {"name": "Ada Lovelace", "email": "ada@example.org",
                "id": "did:key:z6MkjZRZv3aez3r18pB1RBFJR1kwUVJ5jHt92JmQwXbd5hwi"}}')
JWT=$(echo "$AWARD" | json credential)
CID=$(echo "$AWARD" | json credential_id)
[ "$(echo "$AWARD" | json state)" = issued ] || fail "direct award not issued: $AWARD"
echo "$CID"

step "verify it: anyone can, no token needed"
V=$(curl -sf "$B/api/v1/verify" -d '{"credential": "'"$JWT"'"}')
[ "$(echo "$V" | json verified)" = true ] || fail "not verified: $V"
echo "verified: true"
echo "$JWT" > "$WORK/badge.jwt"
"$BIN" verify --data-dir "$WORK/data" --keys-dir "$WORK/keys" "$WORK/badge.jwt" \
    || fail "accolade verify beside the running service"

step "offer one by e-mail identity; the earner accepts it on the claim page"
OFFER=$(curl -sf "$B/api/v1/awards" "${AUTH[@]}" -d '{
  "achievement_id": "'"$ACH"'", "recipient": {"name": "Grace Hopper", "email": "grace@example.org"}}')
CLAIM=$(echo "$OFFER" | json claim_url)
TX=$(echo "$OFFER" | json tx_code)
echo "$OFFER" | json offer_uri
curl -sf -o /dev/null "$CLAIM" || fail "claim page"
BADGE_PAGE=$(curl -s -o /dev/null -w '%{redirect_url}' -d "tx_code=$TX" "$CLAIM/accept")
case "$BADGE_PAGE" in */badges/*) echo "accepted: $BADGE_PAGE" ;; *) fail "accept: $BADGE_PAGE" ;; esac
OCID=$(echo "$OFFER" | json credential_id)
[ "$(curl -sf "$B/api/v1/credentials/$OCID" "${AUTH[@]}" | json state)" = issued ] \
    || fail "the accepted badge is not issued"

step "revoke the direct badge; it no longer verifies"
curl -sf "$B/api/v1/credentials/$CID/revoke" "${AUTH[@]}" -d '{"reason": "issued in error"}' | json revoked
V=$(curl -sf "$B/api/v1/verify" -d '{"credential": "'"$JWT"'"}')
[ "$(echo "$V" | json verified)" = false ] || fail "a revoked badge verified: $V"
echo "$V" | python3 -c 'import json, sys
for c in json.load(sys.stdin)["checks"]:
    print(" ", c["check"], c["outcome"], c.get("message", ""))'
if "$BIN" verify --data-dir "$WORK/data" --keys-dir "$WORK/keys" "$WORK/badge.jwt" > /dev/null; then
    fail "accolade verify accepted a revoked badge"
fi

step "the operator's view"
curl -sf "$B/readyz" | json status
curl -sf "$B/metrics" "${AUTH[@]}" | grep -E '^accolade_(awards|claims)_total' || fail "metrics"

step "stop (SIGTERM drains and flushes)"
kill -TERM "$SERVER_PID"
wait "$SERVER_PID" || fail "the service did not stop cleanly"
SERVER_PID=
grep -q "stopped; store flushed" "$WORK/serve.log" || true
echo "walk-through passed"
