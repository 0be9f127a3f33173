//! OpenID4VCI end to end: this file plays the wallet (its own did:key and proofs)
//! against the real router, in both dialects, and walks the attacks a wallet's
//! counterpart must withstand (spent codes and nonces, wrong transaction codes, bad
//! proofs, widened requests).

use accolade::jose::{Algorithm, SigningKey};
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use serde_json::{Value, json};

use crate::helpers::*;

const PRE_AUTH: &str = "urn:ietf:params:oauth:grant-type:pre-authorized_code";
const CONFIG: &str = "OpenBadgeCredential_jwt_vc_json";

/// A wallet: one key, its did:key, and proofs made with it.
struct Wallet {
    key: SigningKey,
    did: String,
}

impl Wallet {
    fn new(alg: Algorithm) -> Self {
        let (key, _) = SigningKey::generate(alg).expect("key");
        let did = accolade::did::key::did_key_for(key.public_jwk())
            .expect("did:key")
            .to_string();
        Self { key, did }
    }

    fn kid(&self) -> String {
        format!("{}#{}", self.did, self.did.trim_start_matches("did:key:"))
    }

    fn sign(&self, header: &Value, claims: &Value) -> String {
        let input = format!(
            "{}.{}",
            b64(serde_json::to_vec(header).expect("json")),
            b64(serde_json::to_vec(claims).expect("json"))
        );
        let sig = self.key.sign(input.as_bytes()).expect("signs");
        format!("{input}.{}", b64(sig))
    }

    fn header(&self) -> Value {
        json!({"alg": self.key.algorithm().name(), "typ": "openid4vci-proof+jwt", "kid": self.kid()})
    }

    /// A proof as the spec wants it.
    fn proof(&self, nonce: &str) -> String {
        self.proof_at(nonce, NOW)
    }

    fn proof_at(&self, nonce: &str, iat: i64) -> String {
        self.sign(
            &self.header(),
            &json!({"aud": PUBLIC_URL, "iat": iat, "nonce": nonce}),
        )
    }
}

impl TestApp {
    async fn raw(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> (StatusCode, HeaderMap, Value) {
        let mut b = Request::builder().method(method).uri(path);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let (s, h, bytes) = self.send(b.body(Body::from(body)).expect("req")).await;
        let v = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        (s, h, v)
    }

    async fn award_offer(&self, extra: Value) -> Value {
        let a = self.create_achievement().await;
        let mut body = json!({
            "achievement_id": a["id"],
            "recipient": {"name": "Grace Hopper", "email": "grace@example.org"},
        });
        for (k, v) in extra.as_object().expect("object") {
            body[k] = v.clone();
        }
        let (s, v) = self.admin(Method::POST, "/api/v1/awards", Some(body)).await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        v
    }

    /// Follows an offer link to the offer object (by reference).
    async fn offer(&self, award: &Value) -> Value {
        let uri = award["offer_uri"].as_str().expect("offer_uri");
        let u = url::Url::parse(uri).expect("uri");
        assert_eq!(u.scheme(), "openid-credential-offer");
        let by_ref = u
            .query_pairs()
            .find(|(k, _)| k == "credential_offer_uri")
            .expect("by reference")
            .1
            .into_owned();
        let path = by_ref.strip_prefix(PUBLIC_URL).expect("our URL");
        let (s, v) = self.call(Method::GET, path, None, false).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        v
    }

    async fn token(&self, form: &[(&str, &str)]) -> (StatusCode, Value) {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let (s, _, v) = self
            .raw(
                Method::POST,
                "/oid4vci/token",
                &[("content-type", "application/x-www-form-urlencoded")],
                body.into_bytes(),
            )
            .await;
        (s, v)
    }

    async fn redeem(&self, code: &str, tx: Option<&str>) -> (StatusCode, Value) {
        let mut form = vec![("grant_type", PRE_AUTH), ("pre-authorized_code", code)];
        if let Some(t) = tx {
            form.push(("tx_code", t));
        }
        self.token(&form).await
    }

    async fn nonce(&self) -> String {
        let (s, h, v) = self
            .raw(Method::POST, "/oid4vci/nonce", &[], Vec::new())
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_eq!(h.get(header::CACHE_CONTROL).expect("cc"), "no-store");
        v["c_nonce"].as_str().expect("c_nonce").to_owned()
    }

    async fn credential(&self, token: &str, body: Value) -> (StatusCode, HeaderMap, Value) {
        let auth = format!("Bearer {token}");
        self.raw(
            Method::POST,
            "/oid4vci/credential",
            &[
                ("authorization", &auth),
                ("content-type", "application/json"),
            ],
            serde_json::to_vec(&body).expect("json"),
        )
        .await
    }

    async fn bearer_post(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        let auth = format!("Bearer {token}");
        let (s, _, v) = self
            .raw(
                Method::POST,
                path,
                &[
                    ("authorization", &auth),
                    ("content-type", "application/json"),
                ],
                serde_json::to_vec(&body).expect("json"),
            )
            .await;
        (s, v)
    }
}

/// A 1.0 credential request with one proof.
fn claim_body(proof: impl AsRef<str>) -> Value {
    json!({"credential_configuration_id": CONFIG, "proofs": {"jwt": [proof.as_ref()]}})
}

fn code_of(offer: &Value) -> String {
    offer["grants"][PRE_AUTH]["pre-authorized_code"]
        .as_str()
        .expect("code")
        .to_owned()
}

/// An offered award redeemed: (award response, access token, token response).
async fn redeemed(app: &TestApp, extra: Value) -> (Value, String, Value) {
    let award = app.award_offer(extra).await;
    let offer = app.offer(&award).await;
    let (s, t) = app
        .redeem(&code_of(&offer), award["tx_code"].as_str())
        .await;
    assert_eq!(s, StatusCode::OK, "{t}");
    (
        award,
        t["access_token"].as_str().expect("token").to_owned(),
        t,
    )
}

#[tokio::test]
async fn discovery_documents_describe_the_flow_in_both_dialects() {
    let app = TestApp::new().await;
    let (s, m) = app
        .call(
            Method::GET,
            "/.well-known/openid-credential-issuer",
            None,
            false,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(m["credential_issuer"], PUBLIC_URL);
    assert_eq!(
        m["credential_endpoint"],
        format!("{PUBLIC_URL}/oid4vci/credential")
    );
    assert_eq!(m["nonce_endpoint"], format!("{PUBLIC_URL}/oid4vci/nonce"));
    assert!(m["deferred_credential_endpoint"].is_string());
    assert!(m["notification_endpoint"].is_string());
    let c = &m["credential_configurations_supported"][CONFIG];
    assert_eq!(c["format"], "jwt_vc_json");
    assert_eq!(
        c["credential_definition"]["type"],
        json!(["VerifiableCredential", "OpenBadgeCredential"])
    );
    assert_eq!(
        c["cryptographic_binding_methods_supported"],
        json!(["did:key", "did:jwk", "jwk"])
    );
    assert_eq!(
        c["credential_signing_alg_values_supported"],
        json!(["ES256"])
    );
    assert!(
        c["proof_types_supported"]["jwt"]["proof_signing_alg_values_supported"]
            .as_array()
            .expect("algs")
            .contains(&json!("EdDSA"))
    );
    assert!(c["credential_metadata"]["display"][0]["name"].is_string());
    assert!(
        c["display"][0]["name"].is_string(),
        "draft 13 reads display here"
    );
    let ld = &m["credential_configurations_supported"]["OpenBadgeCredential_jwt_vc_json-ld"];
    assert_eq!(ld["format"], "jwt_vc_json-ld");
    assert!(ld["credential_definition"]["@context"].is_array());

    let (s, a) = app
        .call(
            Method::GET,
            "/.well-known/oauth-authorization-server",
            None,
            false,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(a["issuer"], PUBLIC_URL);
    assert_eq!(a["token_endpoint"], format!("{PUBLIC_URL}/oid4vci/token"));
    assert_eq!(a["pre-authorized_grant_anonymous_access_supported"], true);
    assert!(
        a["grant_types_supported"]
            .as_array()
            .expect("grants")
            .contains(&json!(PRE_AUTH))
    );
}

#[tokio::test]
async fn with_a_path_in_the_public_url_metadata_is_at_both_well_known_places() {
    let app = TestApp::with(Algorithm::ES256, "https://example.edu/badges").await;
    for path in [
        "/.well-known/openid-credential-issuer/badges",
        "/badges/.well-known/openid-credential-issuer",
    ] {
        let (s, m) = app.call(Method::GET, path, None, false).await;
        assert_eq!(s, StatusCode::OK, "{path}");
        assert_eq!(m["credential_issuer"], "https://example.edu/badges");
        assert_eq!(m["token_endpoint"], Value::Null);
        assert_eq!(
            m["credential_endpoint"],
            "https://example.edu/badges/oid4vci/credential"
        );
    }
    for path in [
        "/.well-known/oauth-authorization-server/badges",
        "/badges/.well-known/oauth-authorization-server",
    ] {
        let (s, a) = app.call(Method::GET, path, None, false).await;
        assert_eq!(s, StatusCode::OK, "{path}");
        assert_eq!(a["issuer"], "https://example.edu/badges");
        assert_eq!(
            a["token_endpoint"],
            "https://example.edu/badges/oid4vci/token"
        );
    }
    let (s, _) = app
        .call(
            Method::GET,
            "/.well-known/openid-credential-issuer",
            None,
            false,
        )
        .await;
    assert_eq!(
        s,
        StatusCode::NOT_FOUND,
        "not at the root for a path issuer"
    );
}

/// The whole flow in the 1.0 dialect: offer, token with tx_code, nonce, proof,
/// badge bound to the wallet's did:key, notification, and the badge verifies.
#[tokio::test]
async fn a_wallet_claims_a_badge_in_the_1_0_dialect() {
    let app = TestApp::new().await;
    let award = app.award_offer(json!({})).await;
    assert_eq!(award["state"], "offered");
    let tx = award["tx_code"].as_str().expect("tx_code by default");
    assert!(
        tx.len() >= 6 && tx.bytes().all(|b| b.is_ascii_digit()),
        "{tx}"
    );
    assert!(
        award["claim_url"]
            .as_str()
            .expect("claim")
            .starts_with(&format!("{PUBLIC_URL}/claim/"))
    );
    let offer = app.offer(&award).await;
    // The same offer by value.
    let by_value =
        url::Url::parse(award["offer_uri_by_value"].as_str().expect("by value")).expect("uri");
    let inline = by_value
        .query_pairs()
        .find(|(k, _)| k == "credential_offer")
        .expect("credential_offer")
        .1
        .into_owned();
    assert_eq!(serde_json::from_str::<Value>(&inline).expect("json"), offer);
    assert_eq!(offer["credential_issuer"], PUBLIC_URL);
    assert_eq!(offer["credential_configuration_ids"], json!([CONFIG]));
    let grant = &offer["grants"][PRE_AUTH];
    assert_eq!(grant["tx_code"]["input_mode"], "numeric");
    assert_eq!(grant["tx_code"]["length"], 6);
    assert!(grant["tx_code"]["description"].is_string());

    let (s, t) = app.redeem(&code_of(&offer), Some(tx)).await;
    assert_eq!(s, StatusCode::OK, "{t}");
    assert_eq!(t["token_type"], "Bearer");
    assert!(t["expires_in"].as_i64().expect("expires_in") <= 300);
    assert!(
        t["c_nonce"].is_string(),
        "draft-13 wallets read c_nonce here"
    );
    let token = t["access_token"].as_str().expect("token");

    let wallet = Wallet::new(Algorithm::ES256);
    let nonce = app.nonce().await;
    let (s, h, r) = app
        .credential(token, claim_body(wallet.proof(&nonce)))
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(h.get(header::CACHE_CONTROL).expect("cc"), "no-store");
    let jwt = r["credentials"][0]["credential"]
        .as_str()
        .expect("credential");
    let (header_json, payload, _) = decode_jwt(jwt);
    assert_eq!(header_json["typ"], "JWT");
    assert_eq!(payload["sub"], wallet.did);
    assert_eq!(payload["credentialSubject"]["id"], wallet.did);
    assert_eq!(payload["jti"], award["credential_id"]);
    assert_eq!(payload["iss"], DID);
    let (s, report) = app.verify(json!(jwt)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(report["verified"], true, "{report}");
    assert_eq!(outcome(&report, "status"), Some("pass"));

    let nid = r["notification_id"].as_str().expect("notification_id");
    let (s, v) = app
        .bearer_post(
            "/oid4vci/notification",
            token,
            json!({"notification_id": nid, "event": "credential_accepted"}),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    let id = award["credential_id"].as_str().expect("id");
    let (_, view) = app
        .admin(Method::GET, &format!("/api/v1/credentials/{id}"), None)
        .await;
    assert_eq!(view["state"], "issued");
    assert_eq!(view["wallet_events"][0]["event"], "credential_accepted");
    assert_eq!(view["badges"][0]["subject"], wallet.did);

    // The token bought one badge: asking again is refused.
    let nonce = app.nonce().await;
    let (s, _, r) = app
        .credential(token, claim_body(wallet.proof(&nonce)))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(r["error"], "credential_request_denied", "{r}");
}

#[tokio::test]
async fn a_wallet_claims_a_badge_in_the_draft_13_dialect_with_a_jwk_proof() {
    let app = TestApp::new().await;
    let (award, token, t) = redeemed(&app, json!({})).await;
    let wallet = Wallet::new(Algorithm::EdDSA);
    let c_nonce = t["c_nonce"].as_str().expect("c_nonce");
    let proof = wallet.sign(
        &json!({"alg": "EdDSA", "typ": "openid4vci-proof+jwt", "jwk": wallet.key.public_jwk().to_value()}),
        &json!({"aud": PUBLIC_URL, "iat": NOW, "nonce": c_nonce}),
    );
    let (s, _, r) = app
        .credential(
            &token,
            json!({
                "format": "jwt_vc_json",
                "credential_definition": {"type": ["VerifiableCredential", "OpenBadgeCredential"]},
                "proof": {"proof_type": "jwt", "jwt": proof},
            }),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert!(
        r.get("credentials").is_none(),
        "draft 13 answers with credential"
    );
    assert!(r["c_nonce"].is_string() && r["c_nonce_expires_in"].is_number());
    let jwt = r["credential"].as_str().expect("credential");
    let (_, payload, _) = decode_jwt(jwt);
    let sub = payload["sub"].as_str().expect("sub");
    assert!(sub.starts_with("did:jwk:"), "{sub}");
    let holder: accolade::did::Did = sub.parse().expect("did");
    assert_eq!(
        accolade::did::jwk::resolve(&holder).expect("resolves"),
        *wallet.key.public_jwk()
    );
    assert_eq!(payload["jti"], award["credential_id"]);
    let (_, report) = app.verify(json!(jwt)).await;
    assert_eq!(report["verified"], true, "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_code_under_50_concurrent_token_requests_gives_exactly_one_token() {
    let app = TestApp::new().await;
    let award = app.award_offer(json!({"tx_code": false})).await;
    assert!(award.get("tx_code").is_none());
    let code = code_of(&app.offer(&award).await);
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let router = app.router.clone();
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs([
                ("grant_type", PRE_AUTH),
                ("pre-authorized_code", code.as_str()),
            ])
            .finish();
        tasks.push(tokio::spawn(async move {
            use tower::ServiceExt as _;
            let req = Request::builder()
                .method(Method::POST)
                .uri("/oid4vci/token")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(Body::from(body))
                .expect("req");
            router.oneshot(req).await.expect("infallible").status()
        }));
    }
    let mut ok = 0;
    let mut refused = 0;
    for t in tasks {
        match t.await.expect("task") {
            StatusCode::OK => ok += 1,
            StatusCode::BAD_REQUEST => refused += 1,
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!((ok, refused), (1, 49));
    let (s, v) = app.redeem(&code, None).await;
    assert_eq!(
        (s, v["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
}

#[tokio::test]
async fn over_two_nodes_one_code_gives_one_token_and_the_other_node_honours_it() {
    let app = TestApp::new().await;
    let Some(other) = app.another_node().await else {
        eprintln!("sled: no second node (set ACCOLADE_TEST_DATABASE_URL)");
        return;
    };
    let award = app.award_offer(json!({"tx_code": false})).await;
    let code = code_of(&app.offer(&award).await);
    let mut tasks = Vec::new();
    for i in 0..50 {
        let router = if i % 2 == 0 {
            app.router.clone()
        } else {
            other.router.clone()
        };
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs([
                ("grant_type", PRE_AUTH),
                ("pre-authorized_code", code.as_str()),
            ])
            .finish();
        tasks.push(tokio::spawn(async move {
            use tower::ServiceExt as _;
            let req = Request::builder()
                .method(Method::POST)
                .uri("/oid4vci/token")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(Body::from(body))
                .expect("req");
            let res = router.oneshot(req).await.expect("infallible");
            let status = res.status();
            let bytes = http_body_util::BodyExt::collect(res.into_body())
                .await
                .expect("body")
                .to_bytes();
            (
                status,
                serde_json::from_slice::<Value>(&bytes).unwrap_or(Value::Null),
            )
        }));
    }
    let mut tokens = Vec::new();
    let mut refused = 0;
    for t in tasks {
        match t.await.expect("task") {
            (StatusCode::OK, v) => tokens.push(v["access_token"].as_str().expect("t").to_owned()),
            (StatusCode::BAD_REQUEST, _) => refused += 1,
            (other, v) => panic!("unexpected {other}: {v}"),
        }
    }
    assert_eq!((tokens.len(), refused), (1, 49));
    // The token is good at either node, with a nonce from the other; the nonce is
    // spent for both.
    let wallet = Wallet::new(Algorithm::ES256);
    let nonce = other.nonce().await;
    let proof = wallet.proof(&nonce);
    let (s, _, v) = app.credential(&tokens[0], claim_body(&proof)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let jwt = v["credentials"][0]["credential"]
        .as_str()
        .expect("credential");
    let (s, report) = other.verify(json!(jwt)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(report["verified"], true, "{report}");
    let (s, _, v) = other.credential(&tokens[0], claim_body(&proof)).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "a replayed proof: {v}");
}

#[tokio::test]
async fn five_wrong_tx_codes_kill_the_code_even_for_the_right_one() {
    let app = TestApp::new().await;
    let award = app.award_offer(json!({})).await;
    let tx = award["tx_code"].as_str().expect("tx");
    let wrong = if tx == "000000" { "111111" } else { "000000" };
    let code = code_of(&app.offer(&award).await);
    let (s, v) = app.redeem(&code, None).await;
    assert_eq!(
        (s, v["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request")),
        "{v}"
    );
    for i in 0..5 {
        let (s, v) = app.redeem(&code, Some(wrong)).await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert_eq!(v["error"], "invalid_grant", "try {i}: {v}");
    }
    let (s, v) = app.redeem(&code, Some(tx)).await;
    assert_eq!(
        (s, v["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant")),
        "{v}"
    );
    // The failures are counted on the award: the claim page will not mint another
    // offer to guess against; an admin re-offer issues a new code.
    let claim = award["claim_url"]
        .as_str()
        .expect("claim")
        .strip_prefix(PUBLIC_URL)
        .expect("ours")
        .to_owned();
    let (s, _, page) = app.raw(Method::GET, &claim, &[], Vec::new()).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        page.as_str()
            .expect("html")
            .contains("Too many wrong codes")
    );
    let id = award["credential_id"].as_str().expect("id");
    let (s, re) = app
        .admin(Method::POST, &format!("/api/v1/awards/{id}/reoffer"), None)
        .await;
    assert_eq!(s, StatusCode::OK, "{re}");
    let new_tx = re["tx_code"].as_str().expect("fresh tx_code");
    let (s, t) = app
        .redeem(&code_of(&app.offer(&re).await), Some(new_tx))
        .await;
    assert_eq!(s, StatusCode::OK, "{t}");
}

#[tokio::test]
async fn codes_offer_ids_and_claim_links_are_derived_and_never_stored() {
    let mut app = TestApp::new().await;
    let award = app.award_offer(json!({})).await;
    let tx = award["tx_code"].as_str().expect("tx_code").to_owned();
    let claim = award["claim_url"]
        .as_str()
        .expect("claim")
        .strip_prefix(PUBLIC_URL)
        .expect("ours")
        .to_owned();
    let offer_url = url::Url::parse(award["offer_uri"].as_str().expect("offer_uri"))
        .expect("uri")
        .query_pairs()
        .find(|(k, _)| k == "credential_offer_uri")
        .expect("by reference")
        .1
        .into_owned();
    let offer_id = offer_url.rsplit('/').next().expect("id").to_owned();
    let code = code_of(&app.offer(&award).await);
    let claim_id = claim.rsplit('/').next().expect("id").to_owned();
    let (s, _, _) = app.raw(Method::GET, &claim, &[], Vec::new()).await;
    assert_eq!(s, StatusCode::OK);
    for secret in [&code, &offer_id, &claim_id, &tx] {
        assert!(
            !app.data_dir_contains(secret.as_bytes()).await,
            "{secret} is stored"
        );
    }
    // Derived again after a restart, from the keys directory: the same links work.
    app.restart().await;
    let (s, _, _) = app.raw(Method::GET, &claim, &[], Vec::new()).await;
    assert_eq!(s, StatusCode::OK);
    let again = app.offer(&award).await;
    assert_eq!(code_of(&again), code);
    let (s, t) = app.redeem(&code, Some(&tx)).await;
    assert_eq!(s, StatusCode::OK, "{t}");
    // Spent: the code, and with it the offer by reference, no longer lead anywhere.
    let (s, _) = app.redeem(&code, Some(&tx)).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = app
        .call(
            Method::GET,
            offer_url.strip_prefix(PUBLIC_URL).expect("ours"),
            None,
            false,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_transaction_code_is_shown_once_and_kept_only_as_a_keyed_digest() {
    let app = TestApp::new().await;
    let award = app.award_offer(json!({})).await;
    let tx = award["tx_code"].as_str().expect("tx_code").to_owned();
    let id = award["credential_id"]
        .as_str()
        .and_then(|i| i.strip_prefix("urn:uuid:"))
        .and_then(|i| i.parse::<uuid::Uuid>().ok())
        .expect("uuid");
    let rec = app
        .store
        .awards
        .award(id)
        .await
        .expect("read")
        .expect("award");
    let kept = rec.wallet.tx_code.expect("digest");
    assert!(kept.starts_with("h1:") && !kept.contains(&tx), "{kept}");
    // It is not shown again...
    let (_, view) = app
        .admin(
            Method::GET,
            &format!(
                "/api/v1/credentials/{}",
                award["credential_id"].as_str().expect("id")
            ),
            None,
        )
        .await;
    assert!(view.get("tx_code").is_none(), "{view}");
    // ...and the code itself still buys the token.
    let code = code_of(&app.offer(&award).await);
    let (s, t) = app.redeem(&code, Some(&tx)).await;
    assert_eq!(s, StatusCode::OK, "{t}");
}

#[tokio::test]
async fn a_wrong_tx_code_count_survives_a_restart() {
    let mut app = TestApp::new().await;
    let award = app.award_offer(json!({})).await;
    let tx = award["tx_code"].as_str().expect("tx");
    let wrong = if tx == "000000" { "111111" } else { "000000" };
    let code = code_of(&app.offer(&award).await);
    for _ in 0..4 {
        app.redeem(&code, Some(wrong)).await;
    }
    app.restart().await;
    let (_, v) = app.redeem(&code, Some(wrong)).await;
    assert!(
        v["error_description"]
            .as_str()
            .expect("desc")
            .contains("dead"),
        "{v}"
    );
}

#[tokio::test]
async fn a_replayed_nonce_or_its_high_s_twin_gets_invalid_nonce() {
    let app = TestApp::new().await;
    let (_, token, _) = redeemed(&app, json!({})).await;
    let (_, token2, _) = redeemed(&app, json!({})).await;
    let wallet = Wallet::new(Algorithm::ES256);
    let nonce = app.nonce().await;
    let proof = wallet.proof(&nonce);
    let (s, _, r) = app.credential(&token, claim_body(&proof)).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    // The same proof again, for another award the wallet holds a token for.
    let (s, _, r) = app.credential(&token2, claim_body(&proof)).await;
    assert_eq!(
        (s, r["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_nonce")),
        "{r}"
    );
    // Its high-S twin: s' = n - s is an equally valid ECDSA signature.
    let twin = high_s_twin(&proof);
    assert_ne!(twin, proof);
    let (s, _, r) = app.credential(&token2, claim_body(&twin)).await;
    assert_eq!(
        (s, r["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_nonce")),
        "{r}"
    );
    // A nonce we never issued, and in the draft-13 dialect the same error is
    // invalid_proof with a fresh c_nonce.
    let (s, _, r) = app
        .credential(&token2, claim_body(wallet.proof("made-up")))
        .await;
    assert_eq!(
        (s, r["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_nonce"))
    );
    let (s, _, r) = app
        .credential(
            &token2,
            json!({"format": "jwt_vc_json",
                   "credential_definition": {"type": ["VerifiableCredential", "OpenBadgeCredential"]},
                   "proof": {"proof_type": "jwt", "jwt": proof}}),
        )
        .await;
    assert_eq!(
        (s, r["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_proof")),
        "{r}"
    );
    assert!(r["c_nonce"].is_string(), "{r}");
    // And the fresh c_nonce works.
    let fresh = r["c_nonce"].as_str().expect("nonce");
    let (s, _, r) = app
        .credential(&token2, claim_body(wallet.proof(fresh)))
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
}

/// `s' = n - s` for a P-256 signature in JOSE (r ‖ s) form.
fn high_s_twin(jwt: &str) -> String {
    use openssl::bn::{BigNum, BigNumContext};
    let (input, sig) = jwt.rsplit_once('.').expect("jws");
    let sig = b64d(sig);
    let mut ctx = BigNumContext::new().expect("ctx");
    let group =
        openssl::ec::EcGroup::from_curve_name(openssl::nid::Nid::X9_62_PRIME256V1).expect("p256");
    let mut n = BigNum::new().expect("bn");
    group.order(&mut n, &mut ctx).expect("order");
    let s = BigNum::from_slice(&sig[32..]).expect("s");
    let mut twin = BigNum::new().expect("bn");
    twin.checked_sub(&n, &s).expect("sub");
    let mut out = sig[..32].to_vec();
    out.extend(twin.to_vec_padded(32).expect("pad"));
    format!("{input}.{}", b64(out))
}

#[tokio::test]
async fn bad_proofs_get_invalid_proof() {
    let app = TestApp::new().await;
    let (_, token, _) = redeemed(&app, json!({})).await;
    let wallet = Wallet::new(Algorithm::ES256);
    let other = Wallet::new(Algorithm::ES256);
    type MakeProof<'a> = Box<dyn Fn(&str) -> String + 'a>;
    let cases: Vec<(&str, MakeProof)> = vec![
        (
            "wrong aud",
            Box::new(|n: &str| {
                wallet.sign(
                    &wallet.header(),
                    &json!({"aud": "https://evil.example", "iat": NOW, "nonce": n}),
                )
            }),
        ),
        (
            "wrong typ",
            Box::new(|n: &str| {
                let mut h = wallet.header();
                h["typ"] = json!("JWT");
                wallet.sign(&h, &json!({"aud": PUBLIC_URL, "iat": NOW, "nonce": n}))
            }),
        ),
        (
            "stale iat",
            Box::new(|n: &str| {
                wallet.sign(
                    &wallet.header(),
                    &json!({"aud": PUBLIC_URL, "iat": NOW - 3600, "nonce": n}),
                )
            }),
        ),
        (
            "future iat",
            Box::new(|n: &str| {
                wallet.sign(
                    &wallet.header(),
                    &json!({"aud": PUBLIC_URL, "iat": NOW + 3600, "nonce": n}),
                )
            }),
        ),
        (
            "signed by another key than the kid names",
            Box::new(|n: &str| {
                other.sign(
                    &wallet.header(),
                    &json!({"aud": PUBLIC_URL, "iat": NOW, "nonce": n}),
                )
            }),
        ),
        (
            "kid and jwk",
            Box::new(|n: &str| {
                let mut h = wallet.header();
                h["jwk"] = wallet.key.public_jwk().to_value();
                wallet.sign(&h, &json!({"aud": PUBLIC_URL, "iat": NOW, "nonce": n}))
            }),
        ),
        (
            "no nonce",
            Box::new(|_: &str| {
                wallet.sign(&wallet.header(), &json!({"aud": PUBLIC_URL, "iat": NOW}))
            }),
        ),
        (
            "alg none",
            Box::new(|n: &str| {
                let mut h = wallet.header();
                h["alg"] = json!("none");
                wallet.sign(&h, &json!({"aud": PUBLIC_URL, "iat": NOW, "nonce": n}))
            }),
        ),
    ];
    for (name, make) in &cases {
        let nonce = app.nonce().await;
        let (s, _, r) = app.credential(&token, claim_body(make(&nonce))).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{name}: {r}");
        assert_eq!(r["error"], "invalid_proof", "{name}: {r}");
    }
    // No proof at all.
    let (s, _, r) = app
        .credential(&token, json!({"credential_configuration_id": CONFIG}))
        .await;
    assert_eq!(
        (s, r["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_proof"))
    );
    // None of these spent the award: a good proof still works.
    let nonce = app.nonce().await;
    let (s, _, r) = app
        .credential(&token, claim_body(wallet.proof(&nonce)))
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
}

#[tokio::test]
async fn an_award_for_a_named_did_goes_only_to_that_key() {
    let app = TestApp::new().await;
    let owner = Wallet::new(Algorithm::EdDSA);
    let thief = Wallet::new(Algorithm::EdDSA);
    let (_, token, _) = redeemed(
        &app,
        json!({"recipient": {"email": "ada@example.org", "id": owner.did}}),
    )
    .await;
    let nonce = app.nonce().await;
    let (s, _, r) = app
        .credential(&token, claim_body(thief.proof(&nonce)))
        .await;
    assert_eq!(
        (s, r["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_proof")),
        "{r}"
    );
    let nonce = app.nonce().await;
    let (s, _, r) = app
        .credential(&token, claim_body(owner.proof(&nonce)))
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let (_, p, _) = decode_jwt(r["credentials"][0]["credential"].as_str().expect("jwt"));
    assert_eq!(p["sub"], owner.did);
}

#[tokio::test]
async fn the_token_buys_only_what_the_offer_granted_and_nothing_in_the_body_changes_the_badge() {
    let app = TestApp::new().await;
    let (award, token, _) = redeemed(&app, json!({})).await;
    let wallet = Wallet::new(Algorithm::ES256);
    let nonce = app.nonce().await;
    let (s, h, r) = app
        .credential(
            &token,
            json!({"credential_configuration_id": "OpenBadgeCredential_jwt_vc_json-ld", "proofs": {"jwt": [wallet.proof(&nonce)]}}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{r}");
    assert_eq!(r["error"], "insufficient_scope");
    assert!(h.get(header::WWW_AUTHENTICATE).is_some());
    let (s, _, r) = app
        .credential(&token, json!({"credential_configuration_id": "UniversityDegree", "proofs": {"jwt": [wallet.proof(&nonce)]}}))
        .await;
    assert_eq!(
        (s, r["error"].as_str()),
        (
            StatusCode::BAD_REQUEST,
            Some("unknown_credential_configuration")
        )
    );
    let (s, _, r) = app
        .credential(&token, json!({"format": "mso_mdoc", "credential_definition": {"type": ["VerifiableCredential"]}, "proof": {"proof_type": "jwt", "jwt": wallet.proof(&nonce)}}))
        .await;
    assert_eq!(
        (s, r["error"].as_str()),
        (
            StatusCode::BAD_REQUEST,
            Some("unsupported_credential_format")
        )
    );
    // Extra members that try to pick the subject or achievement are ignored.
    let (s, _, r) = app
        .credential(
            &token,
            json!({
                "credential_configuration_id": CONFIG,
                "proofs": {"jwt": [wallet.proof(&nonce)]},
                "credentialSubject": {"id": "did:key:attacker", "achievement": {"name": "Anything"}},
                "credential_definition": {"type": ["VerifiableCredential", "OpenBadgeCredential"], "credentialSubject": {"id": "did:key:attacker"}},
            }),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let (_, p, _) = decode_jwt(r["credentials"][0]["credential"].as_str().expect("jwt"));
    assert_eq!(p["sub"], wallet.did);
    assert_eq!(
        p["credentialSubject"]["achievement"]["id"],
        award["achievement_id"]
    );
    assert_ne!(p["credentialSubject"]["achievement"]["name"], "Anything");
    // A token of another award, or none, or a made-up one.
    let (s, h, r) = app
        .credential(
            "not-a-token",
            json!({"credential_configuration_id": CONFIG}),
        )
        .await;
    assert_eq!(
        (s, r["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_token"))
    );
    assert!(
        h.get(header::WWW_AUTHENTICATE)
            .expect("challenge")
            .to_str()
            .expect("ascii")
            .contains("invalid_token")
    );
}

#[tokio::test]
async fn access_tokens_and_codes_expire() {
    let app = TestApp::new().await;
    let (_, token, _) = redeemed(&app, json!({})).await;
    app.clock.advance(301);
    let wallet = Wallet::new(Algorithm::ES256);
    let nonce = app.nonce().await;
    let (s, _, r) = app
        .credential(&token, claim_body(wallet.proof(&nonce)))
        .await;
    assert_eq!(
        (s, r["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_token"))
    );

    let award = app.award_offer(json!({"tx_code": false})).await;
    let offer = app.offer(&award).await;
    app.clock.advance(15 * 60 + 1);
    let (s, v) = app.redeem(&code_of(&offer), None).await;
    assert_eq!(
        (s, v["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    // The offer URL is gone too; the claim page mints a fresh offer.
    let by_ref = award["offer_uri"].as_str().expect("uri");
    let id = by_ref.rsplit("%2F").next().expect("id");
    let (s, _) = app
        .call(Method::GET, &format!("/oid4vci/offers/{id}"), None, false)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let claim = award["claim_url"]
        .as_str()
        .expect("claim")
        .strip_prefix(PUBLIC_URL)
        .expect("ours")
        .to_owned();
    let (s, _, page) = app.raw(Method::GET, &claim, &[], Vec::new()).await;
    assert_eq!(s, StatusCode::OK);
    let page = page.as_str().expect("html").to_owned();
    assert!(page.contains("openid-credential-offer://"), "{page}");
    let cid = award["credential_id"].as_str().expect("id");
    let (_, view) = app
        .admin(Method::GET, &format!("/api/v1/credentials/{cid}"), None)
        .await;
    let fresh = app.offer(&view).await;
    assert_ne!(code_of(&fresh), code_of(&offer));
    let (s, t) = app.redeem(&code_of(&fresh), None).await;
    assert_eq!(s, StatusCode::OK, "{t}");
    // Once the badge is in a wallet, the claim page has no offer to show.
    let token = t["access_token"].as_str().expect("token");
    let nonce = app.nonce().await;
    let (s, _, r) = app
        .credential(token, claim_body(wallet.proof_at(&nonce, NOW + 301 + 901)))
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let (s, _, _) = app
        .raw(Method::GET, &format!("{claim}/qr.svg"), &[], Vec::new())
        .await;
    assert_eq!(s, StatusCode::GONE);
    let (_, _, page) = app.raw(Method::GET, &claim, &[], Vec::new()).await;
    assert!(page.as_str().expect("html").contains("already in a wallet"));
}

#[tokio::test]
async fn the_claim_page_offers_a_qr_code_as_png_and_svg() {
    let app = TestApp::new().await;
    let award = app.award_offer(json!({})).await;
    let claim = award["claim_url"]
        .as_str()
        .expect("claim")
        .strip_prefix(PUBLIC_URL)
        .expect("ours")
        .to_owned();
    let (s, h, page) = app.raw(Method::GET, &claim, &[], Vec::new()).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        h.get(header::CONTENT_TYPE)
            .expect("ct")
            .to_str()
            .expect("ascii")
            .starts_with("text/html")
    );
    let page = page.as_str().expect("html").to_owned();
    assert!(page.contains("<svg"), "inline QR");
    assert!(
        page.contains(
            &award["offer_uri"]
                .as_str()
                .expect("uri")
                .replace('&', "&amp;")
        )
    );
    assert!(page.contains("6-digit code"));
    let (s, h, _) = app
        .raw(Method::GET, &format!("{claim}/qr.png"), &[], Vec::new())
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(h.get(header::CONTENT_TYPE).expect("ct"), "image/png");
    let req = Request::builder()
        .uri(format!("{claim}/qr.png"))
        .body(Body::empty())
        .expect("req");
    let (_, _, bytes) = app.send(req).await;
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"));
    let (s, h, _) = app
        .raw(Method::GET, &format!("{claim}/qr.svg"), &[], Vec::new())
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(h.get(header::CONTENT_TYPE).expect("ct"), "image/svg+xml");
    let (s, h, body) = app
        .raw(Method::GET, "/claim/not-a-claim-id", &[], Vec::new())
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let ct = h
        .get(header::CONTENT_TYPE)
        .expect("ct")
        .to_str()
        .expect("ct");
    assert!(
        ct.starts_with("text/html"),
        "an unknown claim link is a page: {ct}"
    );
    assert!(body.as_str().expect("html").contains("noindex"));
}

#[tokio::test]
async fn a_batch_request_gives_one_badge_per_key_and_revoking_the_award_revokes_them_all() {
    let app = TestApp::new().await;
    let (award, token, _) = redeemed(&app, json!({})).await;
    let wallets: Vec<Wallet> = (0..3).map(|_| Wallet::new(Algorithm::ES256)).collect();
    let nonce = app.nonce().await;
    let proofs: Vec<String> = wallets.iter().map(|w| w.proof(&nonce)).collect();
    let (s, _, r) = app
        .credential(
            &token,
            json!({"credential_configuration_id": CONFIG, "proofs": {"jwt": proofs}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let jwts: Vec<String> = r["credentials"]
        .as_array()
        .expect("credentials")
        .iter()
        .map(|c| c["credential"].as_str().expect("jwt").to_owned())
        .collect();
    assert_eq!(jwts.len(), 3);
    let payloads: Vec<Value> = jwts.iter().map(|j| decode_jwt(j).1).collect();
    let mut ids = std::collections::HashSet::new();
    let mut indices = std::collections::HashSet::new();
    for (p, w) in payloads.iter().zip(&wallets) {
        assert_eq!(p["sub"], w.did);
        assert!(ids.insert(p["jti"].as_str().expect("jti").to_owned()));
        assert_eq!(p["id"], p["jti"]);
        assert!(
            indices.insert(
                p["credentialStatus"]["statusListIndex"]
                    .as_str()
                    .expect("idx")
                    .to_owned()
            )
        );
    }
    assert_eq!(payloads[0]["jti"], award["credential_id"]);
    for j in &jwts {
        let (_, report) = app.verify(json!(j)).await;
        assert_eq!(report["verified"], true, "{report}");
    }
    // A copy's own id finds the award.
    let copy_id = payloads[2]["jti"].as_str().expect("jti");
    let (s, view) = app
        .admin(Method::GET, &format!("/api/v1/credentials/{copy_id}"), None)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(view["credential_id"], award["credential_id"]);
    assert_eq!(view["copies"], 3);
    let id = award["credential_id"].as_str().expect("id");
    let (s, _) = app
        .admin(
            Method::POST,
            &format!("/api/v1/credentials/{id}/revoke"),
            Some(json!({"reason": "exam voided"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    for j in &jwts {
        let (_, report) = app.verify(json!(j)).await;
        assert_eq!(report["verified"], false);
        assert_eq!(outcome(&report, "status"), Some("fail"), "{report}");
    }
    // The published list has every copy's bit.
    let list_url = payloads[0]["credentialStatus"]["statusListCredential"]
        .as_str()
        .expect("url");
    let (_, _, bits) = crate::status::fetch_list(&app, list_url).await;
    for idx in &indices {
        let i: usize = idx.parse().expect("n");
        assert_eq!(crate::status::bit(&bits, i), 1, "bit {i}");
    }
}

#[tokio::test]
async fn revoking_an_offered_award_kills_its_offer_and_token() {
    let app = TestApp::new().await;
    let award = app.award_offer(json!({"tx_code": false})).await;
    let code = code_of(&app.offer(&award).await);
    let id = award["credential_id"].as_str().expect("id");
    app.admin(
        Method::POST,
        &format!("/api/v1/credentials/{id}/revoke"),
        None,
    )
    .await;
    let (s, v) = app.redeem(&code, None).await;
    assert_eq!(
        (s, v["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let (_, token, _) = redeemed(&app, json!({"tx_code": false})).await;
    let (_, view) = app
        .admin(Method::GET, "/api/v1/credentials?limit=1", None)
        .await;
    let id2 = view["credentials"][0]["credential_id"]
        .as_str()
        .expect("id")
        .to_owned();
    app.admin(
        Method::POST,
        &format!("/api/v1/credentials/{id2}/revoke"),
        None,
    )
    .await;
    let wallet = Wallet::new(Algorithm::ES256);
    let nonce = app.nonce().await;
    let (s, _, r) = app
        .credential(&token, claim_body(wallet.proof(&nonce)))
        .await;
    assert_eq!(
        (s, r["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("credential_request_denied")),
        "{r}"
    );
    let (s, _) = app
        .admin(Method::POST, &format!("/api/v1/awards/{id2}/reoffer"), None)
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
}

#[tokio::test]
async fn spent_codes_and_nonces_stay_spent_across_a_restart() {
    let mut app = TestApp::new().await;
    let award = app.award_offer(json!({"tx_code": false})).await;
    let code = code_of(&app.offer(&award).await);
    let (s, t) = app.redeem(&code, None).await;
    assert_eq!(s, StatusCode::OK);
    let token = t["access_token"].as_str().expect("token").to_owned();
    let wallet = Wallet::new(Algorithm::ES256);
    let nonce = app.nonce().await;
    let proof = wallet.proof(&nonce);
    let (s, _, _) = app.credential(&token, claim_body(&proof)).await;
    assert_eq!(s, StatusCode::OK);
    app.restart().await;
    let (s, v) = app.redeem(&code, None).await;
    assert_eq!(
        (s, v["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let (_, token2, _) = redeemed(&app, json!({"tx_code": false})).await;
    let (s, _, r) = app.credential(&token2, claim_body(proof)).await;
    assert_eq!(
        (s, r["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_nonce"))
    );
    // The issued badge survived too.
    let id = award["credential_id"].as_str().expect("id");
    let (_, view) = app
        .admin(Method::GET, &format!("/api/v1/credentials/{id}"), None)
        .await;
    assert_eq!(view["state"], "issued");
}

#[tokio::test]
async fn handing_out_nonces_stores_nothing_and_only_the_services_own_are_spent() {
    let app = TestApp::new().await;
    let (_, token, _) = redeemed(&app, json!({"tx_code": false})).await;
    // A thousand nonces leave no trace in the store.
    let mut last = String::new();
    for _ in 0..1000 {
        last = app.nonce().await;
    }
    assert!(!app.data_dir_contains(last.as_bytes()).await);
    // A nonce with its MAC altered, or made up, is not this service's.
    let wallet = Wallet::new(Algorithm::ES256);
    let mut forged = last.clone();
    let end = forged.pop().expect("char");
    forged.push(if end == 'A' { 'B' } else { 'A' });
    for bad in [
        forged,
        "n1.AAAAAAAAAAA.AAAA".to_owned(),
        "made-up".to_owned(),
    ] {
        let (s, _, r) = app.credential(&token, claim_body(wallet.proof(&bad))).await;
        assert_eq!(
            (s, r["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_nonce")),
            "{bad}: {r}"
        );
    }
    // The genuine one is spent once, and then recorded.
    let (s, _, r) = app
        .credential(&token, claim_body(wallet.proof(&last)))
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert!(app.data_dir_contains(last.as_bytes()).await);
}

#[tokio::test]
async fn an_award_that_needs_approval_is_deferred_until_an_admin_approves() {
    let app = TestApp::new().await;
    let (award, token, t) = redeemed(&app, json!({"approval_required": true})).await;
    let refresh = t["refresh_token"]
        .as_str()
        .expect("refresh token for deferred awards")
        .to_owned();
    let wallet = Wallet::new(Algorithm::ES256);
    let nonce = app.nonce().await;
    let (s, _, r) = app
        .credential(&token, claim_body(wallet.proof(&nonce)))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{r}");
    let tid = r["transaction_id"]
        .as_str()
        .expect("transaction_id")
        .to_owned();
    assert!(r["interval"].is_number());
    let (s, r) = app
        .bearer_post("/oid4vci/deferred", &token, json!({"transaction_id": tid}))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{r}");
    let (s, r) = app
        .bearer_post(
            "/oid4vci/deferred",
            &token,
            json!({"transaction_id": "nope"}),
        )
        .await;
    assert_eq!(
        (s, r["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_transaction_id"))
    );
    let id = award["credential_id"].as_str().expect("id");
    let (_, view) = app
        .admin(Method::GET, &format!("/api/v1/credentials/{id}"), None)
        .await;
    assert_eq!(
        (
            view["approved"].as_bool(),
            view["wallet_requested"].as_bool()
        ),
        (Some(false), Some(true))
    );
    let (s, view) = app
        .admin(Method::POST, &format!("/api/v1/awards/{id}/approve"), None)
        .await;
    assert_eq!(s, StatusCode::OK, "{view}");
    assert_eq!(view["state"], "issued");
    // Later than the access token's life: the wallet refreshes, then collects.
    app.clock.advance(3600);
    let (s, t) = app
        .token(&[("grant_type", "refresh_token"), ("refresh_token", &refresh)])
        .await;
    assert_eq!(s, StatusCode::OK, "{t}");
    let token = t["access_token"].as_str().expect("token");
    let (s, r) = app
        .bearer_post("/oid4vci/deferred", token, json!({"transaction_id": tid}))
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let jwt = r["credentials"][0]["credential"]
        .as_str()
        .expect("credential");
    let (_, p, _) = decode_jwt(jwt);
    assert_eq!(p["sub"], wallet.did);
    let (s, r) = app
        .bearer_post("/oid4vci/deferred", token, json!({"transaction_id": tid}))
        .await;
    assert_eq!(
        (s, r["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_transaction_id")),
        "collected once"
    );
    // The old refresh token was rotated out.
    let (s, _) = app
        .token(&[("grant_type", "refresh_token"), ("refresh_token", &refresh)])
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn draft_13_deferred_answers_issuance_pending() {
    let app = TestApp::new().await;
    let (_, token, t) = redeemed(&app, json!({"approval_required": true, "tx_code": false})).await;
    let wallet = Wallet::new(Algorithm::ES256);
    let (s, _, r) = app
        .credential(
            &token,
            json!({"format": "jwt_vc_json",
                   "credential_definition": {"type": ["VerifiableCredential", "OpenBadgeCredential"]},
                   "proof": {"proof_type": "jwt", "jwt": wallet.proof(t["c_nonce"].as_str().expect("nonce"))}}),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{r}");
    assert!(r["c_nonce"].is_string());
    let tid = r["transaction_id"].as_str().expect("tid");
    let (s, r) = app
        .bearer_post("/oid4vci/deferred", &token, json!({"transaction_id": tid}))
        .await;
    assert_eq!(
        (s, r["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("issuance_pending")),
        "{r}"
    );
    assert!(r["interval"].is_number());
}

#[tokio::test]
async fn token_endpoint_errors_are_oauth_shaped() {
    let app = TestApp::new().await;
    for (form, code) in [
        (vec![], "invalid_request"),
        (
            vec![("grant_type", "authorization_code"), ("code", "x")],
            "unsupported_grant_type",
        ),
        (vec![("grant_type", PRE_AUTH)], "invalid_request"),
        (
            vec![("grant_type", PRE_AUTH), ("pre-authorized_code", "nope")],
            "invalid_grant",
        ),
        (
            vec![
                ("grant_type", PRE_AUTH),
                ("grant_type", PRE_AUTH),
                ("pre-authorized_code", "x"),
            ],
            "invalid_request",
        ),
    ] {
        let (s, v) = app.token(&form).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{form:?}");
        assert_eq!(v["error"], code, "{form:?}: {v}");
        assert!(v["error_description"].is_string());
    }
    // A wallet that also sends user_pin and resource (as some do) is fine.
    let award = app.award_offer(json!({})).await;
    let code = code_of(&app.offer(&award).await);
    let tx = award["tx_code"].as_str().expect("tx");
    let (s, v) = app
        .token(&[
            ("grant_type", PRE_AUTH),
            ("pre-authorized_code", &code),
            ("tx_code", tx),
            ("user_pin", tx),
            ("resource", PUBLIC_URL),
        ])
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_wallets_racing_for_one_award_get_one_badge_between_them() {
    let app = TestApp::new().await;
    // The first wallet redeems the offer; the claim page then mints a second offer
    // (the first code is spent), which a second wallet redeems.
    let (award, token1, _) = redeemed(&app, json!({"tx_code": false})).await;
    let claim = award["claim_url"]
        .as_str()
        .expect("claim")
        .strip_prefix(PUBLIC_URL)
        .expect("ours")
        .to_owned();
    let (s, _, _) = app.raw(Method::GET, &claim, &[], Vec::new()).await;
    assert_eq!(s, StatusCode::OK);
    let id = award["credential_id"].as_str().expect("id");
    let (_, view) = app
        .admin(Method::GET, &format!("/api/v1/credentials/{id}"), None)
        .await;
    let (s, t2) = app.redeem(&code_of(&app.offer(&view).await), None).await;
    assert_eq!(s, StatusCode::OK, "{t2}");
    let token2 = t2["access_token"].as_str().expect("token").to_owned();
    let mut tasks = Vec::new();
    for token in [token1, token2] {
        let router = app.router.clone();
        let wallet = Wallet::new(Algorithm::ES256);
        let nonce = app.nonce().await;
        let body = claim_body(wallet.proof(&nonce));
        tasks.push(tokio::spawn(async move {
            use tower::ServiceExt as _;
            let req = Request::builder()
                .method(Method::POST)
                .uri("/oid4vci/credential")
                .header("authorization", format!("Bearer {token}"))
                .header("content-type", "application/json")
                .body(Body::from(serde_json::to_vec(&body).expect("json")))
                .expect("req");
            router.oneshot(req).await.expect("infallible").status()
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.expect("task"));
    }
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::BAD_REQUEST]);
    let (_, view) = app
        .admin(Method::GET, &format!("/api/v1/credentials/{id}"), None)
        .await;
    assert_eq!(view["copies"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wallet_request_racing_an_approval_never_leaves_the_award_stuck() {
    let app = TestApp::new().await;
    for _ in 0..20 {
        let (award, token, _) =
            redeemed(&app, json!({"approval_required": true, "tx_code": false})).await;
        let id = award["credential_id"].as_str().expect("id").to_owned();
        let wallet = Wallet::new(Algorithm::ES256);
        let nonce = app.nonce().await;
        let body = claim_body(wallet.proof(&nonce));
        let wallet_req = {
            let router = app.router.clone();
            let token = token.clone();
            tokio::spawn(async move {
                use tower::ServiceExt as _;
                let req = Request::builder()
                    .method(Method::POST)
                    .uri("/oid4vci/credential")
                    .header("authorization", format!("Bearer {token}"))
                    .header("content-type", "application/json")
                    .body(Body::from(serde_json::to_vec(&body).expect("json")))
                    .expect("req");
                let res = router.oneshot(req).await.expect("infallible");
                let status = res.status();
                let bytes = http_body_util::BodyExt::collect(res.into_body())
                    .await
                    .expect("body")
                    .to_bytes();
                (
                    status,
                    serde_json::from_slice::<Value>(&bytes).expect("json"),
                )
            })
        };
        let (s, _) = app
            .admin(Method::POST, &format!("/api/v1/awards/{id}/approve"), None)
            .await;
        assert_eq!(s, StatusCode::OK);
        let (s, r) = wallet_req.await.expect("task");
        let (_, view) = app
            .admin(Method::GET, &format!("/api/v1/credentials/{id}"), None)
            .await;
        assert_eq!(view["state"], "issued", "stuck: wallet got {s} {r}");
        if s == StatusCode::ACCEPTED {
            let tid = r["transaction_id"].as_str().expect("tid");
            let (s, r) = app
                .bearer_post("/oid4vci/deferred", &token, json!({"transaction_id": tid}))
                .await;
            assert_eq!(s, StatusCode::OK, "{r}");
        } else {
            assert_eq!(s, StatusCode::OK, "{r}");
        }
    }
}

#[tokio::test]
async fn a_reoffer_cuts_off_tokens_bought_with_the_old_offer() {
    let app = TestApp::new().await;
    let (award, token, _) = redeemed(&app, json!({"tx_code": false})).await;
    let id = award["credential_id"].as_str().expect("id");
    let (s, _) = app
        .admin(Method::POST, &format!("/api/v1/awards/{id}/reoffer"), None)
        .await;
    assert_eq!(s, StatusCode::OK);
    let wallet = Wallet::new(Algorithm::ES256);
    let nonce = app.nonce().await;
    let (s, _, r) = app
        .credential(&token, claim_body(wallet.proof(&nonce)))
        .await;
    assert_eq!(
        (s, r["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_token")),
        "{r}"
    );
}

#[tokio::test]
async fn a_batch_may_not_name_one_key_twice() {
    let app = TestApp::new().await;
    let (_, token, _) = redeemed(&app, json!({})).await;
    let wallet = Wallet::new(Algorithm::ES256);
    let nonce = app.nonce().await;
    let p = wallet.proof(&nonce);
    let twin = high_s_twin(&p);
    let (s, _, r) = app
        .credential(
            &token,
            json!({"credential_configuration_id": CONFIG, "proofs": {"jwt": [p, twin]}}),
        )
        .await;
    assert_eq!(
        (s, r["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_proof")),
        "{r}"
    );
    // The same key named once by its did:key and once as a `jwk`: still one key.
    let nonce = app.nonce().await;
    let by_kid = wallet.proof(&nonce);
    let mut header = wallet.header();
    header.as_object_mut().expect("object").remove("kid");
    header["jwk"] = wallet.key.public_jwk().to_value();
    let by_jwk = wallet.sign(
        &header,
        &json!({"aud": PUBLIC_URL, "iat": NOW, "nonce": nonce}),
    );
    let (s, _, r) = app
        .credential(
            &token,
            json!({"credential_configuration_id": CONFIG, "proofs": {"jwt": [by_kid, by_jwk]}}),
        )
        .await;
    assert_eq!(
        (s, r["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_proof")),
        "{r}"
    );
    assert!(
        r["error_description"]
            .as_str()
            .is_some_and(|d| d.contains("same key")),
        "{r}"
    );
    // Refused before the nonce was spent: one key, one badge, still works.
    let (s, _, r) = app
        .credential(
            &token,
            json!({"credential_configuration_id": CONFIG, "proofs": {"jwt": [wallet.proof(&nonce)]}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
}

#[tokio::test]
async fn wrong_tries_carry_over_to_the_offers_the_claim_page_mints() {
    let app = TestApp::new().await;
    let award = app.award_offer(json!({})).await;
    let tx = award["tx_code"].as_str().expect("tx");
    let wrong = if tx == "000000" { "111111" } else { "000000" };
    let claim = award["claim_url"]
        .as_str()
        .expect("claim")
        .strip_prefix(PUBLIC_URL)
        .expect("ours")
        .to_owned();
    let code = code_of(&app.offer(&award).await);
    for _ in 0..3 {
        app.redeem(&code, Some(wrong)).await;
    }
    // Viewing the page while the offer is live writes nothing.
    let flushes = app.store.flushes();
    let (s, _, _) = app.raw(Method::GET, &claim, &[], Vec::new()).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(app.store.flushes(), flushes);
    // After expiry the page mints a new offer, which inherits the three tries.
    app.clock.advance(15 * 60 + 1);
    let (s, _, _) = app.raw(Method::GET, &claim, &[], Vec::new()).await;
    assert_eq!(s, StatusCode::OK);
    let id = award["credential_id"].as_str().expect("id");
    let (_, view) = app
        .admin(Method::GET, &format!("/api/v1/credentials/{id}"), None)
        .await;
    let fresh = code_of(&app.offer(&view).await);
    assert_ne!(fresh, code);
    let (_, v) = app.redeem(&fresh, Some(wrong)).await;
    assert!(
        v["error_description"]
            .as_str()
            .expect("desc")
            .contains("1 tries left"),
        "{v}"
    );
    let (_, v) = app.redeem(&fresh, Some(wrong)).await;
    assert!(
        v["error_description"]
            .as_str()
            .expect("desc")
            .contains("dead"),
        "{v}"
    );
    let (s, v) = app.redeem(&fresh, Some(tx)).await;
    assert_eq!(
        (s, v["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
}

#[tokio::test]
async fn an_award_can_offer_the_json_ld_configuration_instead() {
    let app = TestApp::new().await;
    let (s, v) = app
        .admin(
            Method::POST,
            "/api/v1/awards",
            Some(
                json!({"achievement_id": app.create_achievement().await["id"],
                        "recipient": {"email": "x@example.org"},
                        "credential_configuration_id": "UniversityDegree"}),
            ),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let award = app
        .award_offer(json!({"credential_configuration_id": "OpenBadgeCredential_jwt_vc_json-ld"}))
        .await;
    let offer = app.offer(&award).await;
    assert_eq!(
        offer["credential_configuration_ids"],
        json!(["OpenBadgeCredential_jwt_vc_json-ld"])
    );
    let (s, t) = app
        .redeem(&code_of(&offer), award["tx_code"].as_str())
        .await;
    assert_eq!(s, StatusCode::OK, "{t}");
    let token = t["access_token"].as_str().expect("token").to_owned();
    let wallet = Wallet::new(Algorithm::ES256);
    let nonce = app.nonce().await;
    // Not the configuration this offer granted.
    let (s, _, _) = app
        .credential(&token, claim_body(wallet.proof(&nonce)))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // Draft 13 names it by format.
    let (s, _, r) = app
        .credential(
            &token,
            json!({"format": "jwt_vc_json-ld",
                   "credential_definition": {"@context": ["https://www.w3.org/ns/credentials/v2"], "type": ["VerifiableCredential", "OpenBadgeCredential"]},
                   "proof": {"proof_type": "jwt", "jwt": wallet.proof(&nonce)}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let (_, p, _) = decode_jwt(r["credential"].as_str().expect("jwt"));
    assert_eq!(p["sub"], wallet.did);
}

impl TestApp {
    /// Accepts an award on its claim page (no wallet): the form post.
    async fn accept_on_web(&self, award: &Value, tx: &str) -> (StatusCode, HeaderMap, String) {
        let claim = award["claim_url"]
            .as_str()
            .expect("claim_url")
            .strip_prefix(PUBLIC_URL)
            .expect("ours")
            .to_owned();
        let (s, h, v) = self
            .raw(
                Method::POST,
                &format!("{claim}/accept"),
                &[("content-type", "application/x-www-form-urlencoded")],
                format!("tx_code={tx}").into_bytes(),
            )
            .await;
        (s, h, v.as_str().unwrap_or_default().to_owned())
    }
}

/// Accepting without a wallet: wrong codes are refused on the page and counted with
/// the token endpoint's, the right code issues the badge to the award's e-mail
/// identity and lands on its page.
#[tokio::test]
async fn accepting_on_the_web_shares_the_five_tries_and_lands_on_the_badge_page() {
    let app = TestApp::new().await;
    let award = app.award_offer(json!({})).await;
    let tx = award["tx_code"].as_str().expect("tx");
    let wrong = if tx == "000000" { "111111" } else { "000000" };
    let code = code_of(&app.offer(&award).await);
    for _ in 0..3 {
        let (s, v) = app.redeem(&code, Some(wrong)).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    }
    let (s, h, page) = app.accept_on_web(&award, wrong).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        h.get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|c| c.starts_with("text/html"))
    );
    assert!(
        page.contains("data-error=\"tx_code\""),
        "no code error on the page"
    );
    assert!(
        page.contains("one try is left"),
        "the page does not count the tries"
    );
    // The fifth wrong try, then the right code: too late on either path.
    let (s, _, page) = app.accept_on_web(&award, wrong).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        page.contains("Too many wrong codes"),
        "the fifth try does not say it locked"
    );
    let (s, _, page) = app.accept_on_web(&award, tx).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert!(
        page.contains("Too many wrong codes"),
        "the page does not say it is locked"
    );
    let (s, v) = app.redeem(&code, Some(tx)).await;
    assert_eq!(
        (s, v["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );

    // A fresh award: the right code on the page.
    let award = app.award_offer(json!({})).await;
    let tx = award["tx_code"].as_str().expect("tx");
    let id = award["credential_id"].as_str().expect("id");
    let uuid = id.trim_start_matches("urn:uuid:");
    let (s, h, _) = app.accept_on_web(&award, tx).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert_eq!(
        h.get(header::LOCATION).expect("location"),
        &format!("{PUBLIC_URL}/badges/{uuid}")
    );
    let (_, view) = app
        .admin(Method::GET, &format!("/api/v1/credentials/{id}"), None)
        .await;
    assert_eq!(view["state"], "issued", "{view}");
    assert_eq!(view["badge_url"], format!("{PUBLIC_URL}/badges/{uuid}"));
    let jwt = view["badges"][0]["credential"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_default();
    let (s, _, page) = app
        .raw(
            Method::GET,
            &format!("/badges/{uuid}"),
            &[("accept", "application/vc+jwt")],
            Vec::new(),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let jwt = page.as_str().map(str::to_owned).unwrap_or(jwt);
    let (_, payload, _) = decode_jwt(&jwt);
    assert_eq!(payload["jti"], id);
    let ids = payload["credentialSubject"]["identifier"].to_string();
    assert!(
        ids.contains("emailAddress") && ids.contains("\"hashed\":true"),
        "{ids}"
    );
    assert!(payload["credentialSubject"].get("id").is_none());
    let (s, report) = app.verify(json!(jwt)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(report["verified"], true, "{report}");
    // Accepting twice is harmless: back to the same page.
    let (s, h, _) = app.accept_on_web(&award, tx).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert_eq!(
        h.get(header::LOCATION).expect("location"),
        &format!("{PUBLIC_URL}/badges/{uuid}")
    );
}

/// After accepting on the web, the wallet path stays open: a wallet gets a copy bound
/// to its DID, with an id of its own, and the e-mail badge keeps the award's id.
#[tokio::test]
async fn a_badge_accepted_on_the_web_can_still_go_into_a_wallet() {
    let app = TestApp::new().await;
    let award = app.award_offer(json!({})).await;
    let tx = award["tx_code"].as_str().expect("tx");
    let id = award["credential_id"].as_str().expect("id");
    let (s, _, _) = app.accept_on_web(&award, tx).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let offer = app.offer(&award).await;
    let (s, t) = app.redeem(&code_of(&offer), Some(tx)).await;
    assert_eq!(s, StatusCode::OK, "{t}");
    let token = t["access_token"].as_str().expect("token");
    let wallet = Wallet::new(Algorithm::ES256);
    let nonce = app.nonce().await;
    let (s, _, r) = app
        .credential(token, claim_body(wallet.proof(&nonce)))
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let jwt = r["credentials"][0]["credential"]
        .as_str()
        .expect("credential");
    let (_, payload, _) = decode_jwt(jwt);
    assert_eq!(payload["credentialSubject"]["id"], wallet.did);
    assert_ne!(payload["jti"], id, "the wallet copy has an id of its own");
    let (s, report) = app.verify(json!(jwt)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(report["verified"], true, "{report}");
    // The award's own page still shows the e-mail badge.
    let uuid = id.trim_start_matches("urn:uuid:");
    let (s, _, v) = app
        .raw(
            Method::GET,
            &format!("/badges/{uuid}"),
            &[("accept", "application/json")],
            Vec::new(),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["id"], id);
}

#[tokio::test]
async fn an_unknown_claim_id_is_an_html_404() {
    let app = TestApp::new().await;
    let (s, h, page) = app
        .raw(
            Method::GET,
            "/claim/no-such-claim",
            &[("accept", "text/html")],
            Vec::new(),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(
        h.get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|c| c.starts_with("text/html"))
    );
    assert!(page.as_str().expect("html").contains("not found"));
    let (s, _, _) = app
        .raw(
            Method::POST,
            "/claim/no-such-claim/accept",
            &[("content-type", "application/x-www-form-urlencoded")],
            b"tx_code=123456".to_vec(),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

/// An award offered as `ldp_vc` is claimed in both dialects as a JSON credential with
/// an `eddsa-rdfc-2022` proof: the same credential id and status entry as the JWT the
/// service keeps, verified by the pipeline, and revoked by one revocation.
#[tokio::test]
async fn an_ldp_vc_award_is_claimed_with_a_data_integrity_proof_in_both_dialects() {
    let app = TestApp::new().await;
    let offered = app
        .award_offer(json!({"credential_configuration_id": "OpenBadgeCredential_ldp_vc"}))
        .await;
    assert_eq!(
        app.offer(&offered).await["credential_configuration_ids"],
        json!(["OpenBadgeCredential_ldp_vc"])
    );
    for dialect in ["1.0", "draft13"] {
        let (award, token, t) = redeemed(
            &app,
            json!({"credential_configuration_id": "OpenBadgeCredential_ldp_vc"}),
        )
        .await;
        let wallet = Wallet::new(Algorithm::EdDSA);
        let (s, _, r) = if dialect == "1.0" {
            let nonce = app.nonce().await;
            app.credential(
                &token,
                json!({"credential_configuration_id": "OpenBadgeCredential_ldp_vc",
                       "proofs": {"jwt": [wallet.proof(&nonce)]}}),
            )
            .await
        } else {
            let c_nonce = t["c_nonce"].as_str().expect("c_nonce").to_owned();
            app.credential(
                &token,
                json!({"format": "ldp_vc",
                       "credential_definition": {"@context": ["https://www.w3.org/ns/credentials/v2", "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"],
                                                 "type": ["VerifiableCredential", "OpenBadgeCredential"]},
                       "proof": {"proof_type": "jwt", "jwt": wallet.proof(&c_nonce)}}),
            )
            .await
        };
        assert_eq!(s, StatusCode::OK, "{dialect}: {r}");
        let cred = if dialect == "1.0" {
            r["credentials"][0]["credential"].clone()
        } else {
            r["credential"].clone()
        };
        assert!(
            cred.is_object(),
            "{dialect}: a JSON credential, not a JWT: {r}"
        );
        assert_eq!(cred["proof"]["type"], "DataIntegrityProof");
        assert_eq!(cred["proof"]["cryptosuite"], "eddsa-rdfc-2022");
        assert_eq!(cred["id"], award["credential_id"]);
        assert_eq!(cred["credentialSubject"]["id"], wallet.did);
        assert!(cred.get("iss").is_none() && cred.get("jti").is_none());
        let (_, report) = app.verify(cred.clone()).await;
        assert_eq!(report["verified"], true, "{dialect}: {report}");

        // The JWT the service recorded is the same credential, in the other envelope.
        let cid = award["credential_id"].as_str().expect("id");
        let (_, rec) = app
            .admin(Method::GET, &format!("/api/v1/credentials/{cid}"), None)
            .await;
        assert_eq!(rec["state"], "issued", "{rec}");
        let (s, _) = app
            .admin(
                Method::POST,
                &format!("/api/v1/credentials/{cid}/revoke"),
                Some(json!({"reason": "test"})),
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        let (_, report) = app.verify(cred).await;
        assert_eq!(report["verified"], false);
        assert_eq!(outcome(&report, "status"), Some("fail"), "{report}");
    }
}
