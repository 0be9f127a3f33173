//! OpenID4VP: presentation requests made by employers, request objects fetched by
//! wallets, answers by `direct_post`, and the verdicts.

use accolade::jose::jws::{CompactJws, sign_compact};
use accolade::jose::{Algorithm, PublicJwk, SigningKey};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::{Value, json};

use crate::helpers::*;

fn key() -> SigningKey {
    SigningKey::generate(Algorithm::EdDSA).expect("key").0
}

fn did_key_of(k: &SigningKey) -> (String, String) {
    let did = accolade::did::key::did_key_for(k.public_jwk()).expect("did");
    let kid = format!("{did}#{}", did.method_specific_id());
    (did.to_string(), kid)
}

/// A VP-JWT (VCDM 1.1 `vp` claim) signed by `signer`, naming `iss` as holder.
fn vp_as(
    signer: &SigningKey,
    iss: &str,
    kid: &str,
    badges: &[&str],
    nonce: &str,
    aud: &str,
) -> String {
    let payload = json!({"iss": iss, "nonce": nonce, "aud": aud, "iat": NOW, "exp": NOW + 300,
        "jti": "urn:uuid:7d1c2f0e-0000-4000-8000-000000000001",
        "vp": {"@context": ["https://www.w3.org/2018/credentials/v1"], "type": ["VerifiablePresentation"],
               "holder": iss, "verifiableCredential": badges}});
    sign_compact(
        signer,
        Some(kid),
        Some("JWT"),
        &serde_json::to_vec(&payload).expect("json"),
    )
    .expect("sign")
}

fn vp(holder: &SigningKey, badges: &[&str], nonce: &str, aud: &str) -> String {
    let (did, kid) = did_key_of(holder);
    vp_as(holder, &did, &kid, badges, nonce, aud)
}

fn path_of(url: &str) -> String {
    url.strip_prefix(PUBLIC_URL)
        .expect("under the public URL")
        .to_owned()
}

async fn create(app: &TestApp, body: Value) -> Value {
    let (s, v) = app
        .call(
            Method::POST,
            "/api/v1/presentation-requests",
            Some(body),
            false,
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v
}

/// Creating a presentation request from `body` is refused with 422 naming `needle`.
async fn refused(app: &TestApp, body: Value, needle: &str) {
    let (s, v) = app
        .call(
            Method::POST,
            "/api/v1/presentation-requests",
            Some(body.clone()),
            false,
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {v}");
    assert!(
        v["message"].as_str().expect("message").contains(needle),
        "{needle}: {v}"
    );
}

/// A VP for `req`: its nonce, and the signed request's client_id as audience.
fn vp_for(holder: &SigningKey, badges: &[&str], req: &Value) -> String {
    vp(
        holder,
        badges,
        req["nonce"].as_str().expect("nonce"),
        &format!("decentralized_identifier:{DID}"),
    )
}

/// Posts `token` as `vp_token`, with `state`, to the request's response URI.
async fn post_token(app: &TestApp, req: &Value, token: &str, state: &Value) -> (StatusCode, Value) {
    post_form(
        app,
        req["response_uri"].as_str().expect("uri"),
        &[
            ("vp_token", token),
            ("state", state.as_str().expect("state")),
        ],
    )
    .await
}

async fn fetch_request_object(app: &TestApp, req: &Value) -> (StatusCode, String) {
    let uri = path_of(req["request_uri"].as_str().expect("request_uri"));
    let (s, h, b) = app
        .send(Request::get(uri).body(Body::empty()).expect("req"))
        .await;
    if s == StatusCode::OK {
        assert_eq!(h[header::CONTENT_TYPE], "application/oauth-authz-req+jwt");
    }
    (s, String::from_utf8(b.to_vec()).expect("utf8"))
}

async fn post_form(
    app: &TestApp,
    response_uri: &str,
    pairs: &[(&str, &str)],
) -> (StatusCode, Value) {
    let body: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    let (s, _, b) = app
        .send(
            Request::post(path_of(response_uri))
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(body))
                .expect("req"),
        )
        .await;
    (s, serde_json::from_slice(&b).unwrap_or(Value::Null))
}

/// Posts a DCQL answer holding `vp` for the query id `badge`.
async fn answer(app: &TestApp, req: &Value, vp: &str) -> (StatusCode, Value) {
    let token = json!({"badge": [vp]}).to_string();
    let state = request_claims(app, req).await["state"]
        .as_str()
        .expect("state")
        .to_owned();
    post_form(
        app,
        req["response_uri"].as_str().expect("response_uri"),
        &[("vp_token", &token), ("state", &state)],
    )
    .await
}

async fn request_claims(app: &TestApp, req: &Value) -> Value {
    let (s, jwt) = fetch_request_object(app, req).await;
    assert_eq!(s, StatusCode::OK, "{jwt}");
    decode_jwt(&jwt).1
}

async fn result(app: &TestApp, req: &Value) -> Value {
    let (s, v) = app
        .call(
            Method::GET,
            &format!(
                "/api/v1/presentation-requests/{}",
                req["id"].as_str().expect("id")
            ),
            None,
            false,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v
}

/// A badge of this service awarded to a fresh wallet key.
async fn holder_with_badge(app: &TestApp) -> (SigningKey, String, Value) {
    let holder = key();
    let (did, _) = did_key_of(&holder);
    let a = app.create_achievement().await;
    let award = app.award_direct(a["id"].as_str().expect("id"), &did).await;
    (
        holder,
        award["credential"].as_str().expect("jwt").to_owned(),
        a,
    )
}

fn check<'a>(report: &'a Value, name: &str) -> Option<&'a str> {
    outcome(report, name)
}

#[tokio::test]
async fn a_signed_dcql_request_is_answered_once_and_verified() {
    let app = TestApp::new().await;
    let (holder, badge, achievement) = holder_with_badge(&app).await;
    let req = create(
        &app,
        json!({"credential_types": ["OpenBadgeCredential"], "trusted_issuers": [DID],
               "achievement_ids": [achievement["id"]], "purpose": "Hiring: cloud engineer"}),
    )
    .await;
    assert_eq!(req["state"], "pending");
    assert!(req.as_object().expect("object").contains_key("result") && req["result"].is_null());
    let client_id = format!("decentralized_identifier:{DID}");
    assert_eq!(req["client_id"], json!(client_id));
    let link = url::Url::parse(req["authorization_request"].as_str().expect("link")).expect("url");
    assert_eq!(link.scheme(), "openid4vp");
    let params: std::collections::HashMap<String, String> =
        link.query_pairs().into_owned().collect();
    assert_eq!(params["client_id"], client_id);
    assert_eq!(
        params["request_uri"],
        req["request_uri"].as_str().expect("uri")
    );
    assert_eq!(params.len(), 2, "by reference: {params:?}");
    // The wallet-facing handle is not the employer's id.
    let id = req["id"].as_str().expect("id");
    assert!(!req["request_uri"].as_str().expect("uri").contains(id));
    assert!(!req["response_uri"].as_str().expect("uri").contains(id));

    // The request object: signed by the service's did:web key, typed, complete.
    let (s, jwt) = fetch_request_object(&app, &req).await;
    assert_eq!(s, StatusCode::OK);
    let jws = CompactJws::parse(&jwt).expect("jws");
    assert_eq!(jws.header()["typ"], "oauth-authz-req+jwt");
    let kid = jws.header()["kid"].as_str().expect("kid").to_owned();
    assert!(kid.starts_with(&format!("{DID}#")), "{kid}");
    let (_, doc) = app
        .call(Method::GET, "/.well-known/did.json", None, false)
        .await;
    let vm = doc["verificationMethod"]
        .as_array()
        .expect("methods")
        .iter()
        .find(|m| m["id"] == json!(kid))
        .expect("kid is in the DID document");
    let jwk = PublicJwk::from_value(&vm["publicKeyJwk"]).expect("jwk");
    jws.verify(&jwk)
        .expect("the request object verifies with the DID's key");
    let claims = jws.payload_json().expect("claims");
    assert_eq!(claims["client_id"], json!(client_id));
    assert_eq!(claims["response_type"], "vp_token");
    assert_eq!(claims["response_mode"], "direct_post");
    assert_eq!(claims["response_uri"], req["response_uri"]);
    assert_eq!(claims["nonce"], req["nonce"]);
    assert_eq!(claims["aud"], "https://self-issued.me/v2");
    assert_eq!(claims["dcql_query"], req["dcql_query"]);
    assert_eq!(
        claims["client_metadata"]["vp_formats_supported"]["jwt_vc_json"]["alg_values"][0],
        "ES256"
    );
    assert_eq!(
        claims["dcql_query"]["credentials"][0]["format"],
        "jwt_vc_json"
    );

    let nonce = req["nonce"].as_str().expect("nonce");
    let good = vp(&holder, &[&badge], nonce, &client_id);
    let (s, body) = answer(&app, &req, &good).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let r = result(&app, &req).await;
    assert_eq!(r["state"], "verified", "{r}");
    let res = &r["result"];
    assert_eq!(res["verified"], true, "{res}");
    assert_eq!(res["trusted"], true, "our own DID is trusted");
    for c in [
        "signature",
        "nonce",
        "audience",
        "holder_binding",
        "requested",
    ] {
        assert_eq!(check(res, c), Some("pass"), "{c}: {res}");
    }
    assert_eq!(res["credentials"][0]["verified"], true);
    assert_eq!(
        res["credential"]["credentialSubject"]["achievement"]["id"],
        achievement["id"]
    );
    assert_eq!(res["holder"], json!(did_key_of(&holder).0));
    assert!(r["answered_at"].is_string());

    // Replayed: refused, and the verdict stands.
    let (s, body) = answer_raw(&app, &req, &good, &claims["state"]).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "invalid_request");
    assert!(
        body["error_description"]
            .as_str()
            .expect("text")
            .contains("already been answered")
    );
    assert_eq!(result(&app, &req).await["state"], "verified");
    // The request object is no longer served.
    assert_eq!(
        fetch_request_object(&app, &req).await.0,
        StatusCode::BAD_REQUEST
    );
}

async fn answer_raw(app: &TestApp, req: &Value, vp: &str, state: &Value) -> (StatusCode, Value) {
    let token = json!({"badge": [vp]}).to_string();
    post_form(
        app,
        req["response_uri"].as_str().expect("response_uri"),
        &[
            ("vp_token", &token),
            ("state", state.as_str().expect("state")),
        ],
    )
    .await
}

/// Makes the VP of one case from the request's nonce.
type MakeVp<'a> = Box<dyn Fn(&str) -> String + 'a>;

#[tokio::test]
async fn answers_not_proven_by_the_holder_decide_nothing_and_someone_elses_badge_is_rejected() {
    let app = TestApp::new().await;
    let (holder, badge, _) = holder_with_badge(&app).await;
    let client_id = format!("decentralized_identifier:{DID}");
    let other = key();
    let (holder_did, holder_kid) = did_key_of(&holder);
    let cases: Vec<(&str, MakeVp<'_>, &str)> = vec![
        (
            "wrong nonce",
            Box::new(|_n: &str| vp(&holder, &[&badge], "not-the-nonce", &client_id)),
            "nonce",
        ),
        (
            "wrong audience",
            Box::new(|n: &str| {
                vp(
                    &holder,
                    &[&badge],
                    n,
                    "decentralized_identifier:did:web:elsewhere.example",
                )
            }),
            "audience",
        ),
        (
            "signed by a key other than the badge's subject",
            Box::new(|n: &str| vp(&other, &[&badge], n, &client_id)),
            "holder_binding",
        ),
        (
            "names the subject but signed by another key",
            Box::new(|n: &str| vp_as(&other, &holder_did, &holder_kid, &[&badge], n, &client_id)),
            "signature",
        ),
    ];
    for (what, make, failing) in cases {
        let req = create(&app, json!({})).await;
        let nonce = req["nonce"].as_str().expect("nonce").to_owned();
        let state = request_claims(&app, &req).await["state"].clone();
        // Processed, so 200 (OpenID4VP 1.0 §8.2); the verdict is the employer's.
        let (s, body) = answer_raw(&app, &req, &make(&nonce), &state).await;
        assert_eq!(s, StatusCode::OK, "{what}: {body}");
        assert_eq!(body, json!({}), "{what}");
        let r = result(&app, &req).await;
        let good = vp(&holder, &[&badge], &nonce, &client_id);
        if failing == "holder_binding" {
            // Signed by its holder over this request: it decides, by its badge's
            // checks.
            assert_eq!(r["state"], "rejected", "{what}: {r}");
            assert_eq!(r["result"]["verified"], false, "{what}");
            assert_eq!(check(&r["result"], failing), Some("fail"), "{what}: {r}");
            assert!(
                r["reason"].as_str().expect("reason").contains(failing),
                "{what}: {r}"
            );
            // Once decided, a correct answer is refused.
            let (s, _) = answer_raw(&app, &req, &good, &state).await;
            assert_eq!(s, StatusCode::BAD_REQUEST, "{what}");
            assert_eq!(result(&app, &req).await["state"], "rejected");
        } else {
            // Not proven by the holder: anyone who saw the QR code could have sent
            // it, so it is kept under `attempts` and the request stays open.
            assert_eq!(r["state"], "pending", "{what}: {r}");
            assert!(r["result"].is_null(), "{what}: {r}");
            let reason = r["attempts"][0]["reason"].as_str().expect("attempt");
            assert!(reason.contains(failing), "{what}: {r}");
            // The real wallet's answer still decides it.
            let (s, body) = answer_raw(&app, &req, &good, &state).await;
            assert_eq!(s, StatusCode::OK, "{what}: {body}");
            let r = result(&app, &req).await;
            assert_eq!(r["state"], "verified", "{what}: {r}");
            assert_eq!(r["attempts"].as_array().map(Vec::len), Some(1), "{r}");
        }
    }
}

#[tokio::test]
async fn a_badge_outside_the_request_is_rejected_by_the_requested_check() {
    let app = TestApp::new().await;
    let (holder, badge, _) = holder_with_badge(&app).await;
    let client_id = format!("decentralized_identifier:{DID}");
    for (ask, needle) in [
        (
            json!({"trusted_issuers": ["did:web:another.example"]}),
            "issuer",
        ),
        (
            json!({"achievement_ids": ["https://badges.example.edu/achievements/other"]}),
            "achievement",
        ),
        (json!({"credential_types": ["ClrCredential"]}), "type"),
    ] {
        let req = create(&app, ask.clone()).await;
        let v = vp(
            &holder,
            &[&badge],
            req["nonce"].as_str().expect("nonce"),
            &client_id,
        );
        let (s, _) = answer(&app, &req, &v).await;
        assert_eq!(s, StatusCode::OK, "{ask}");
        let r = result(&app, &req).await;
        assert_eq!(r["state"], "rejected");
        assert_eq!(check(&r["result"], "requested"), Some("fail"), "{ask}: {r}");
        assert!(
            message(&r["result"], "requested").contains(needle),
            "{ask}: {r}"
        );
        // The badge itself is fine: only the request's question failed.
        assert_eq!(r["result"]["credentials"][0]["verified"], true);
    }
    // An answer under a query id the request does not have.
    let req = create(&app, json!({})).await;
    let v = vp(
        &holder,
        &[&badge],
        req["nonce"].as_str().expect("nonce"),
        &client_id,
    );
    let claims = request_claims(&app, &req).await;
    let token = json!({"other": [v]}).to_string();
    let (s, _) = post_token(&app, &req, &token, &claims["state"]).await;
    assert_eq!(s, StatusCode::OK);
    let r = result(&app, &req).await;
    assert!(
        message(&r["result"], "requested").contains("\"other\""),
        "{r}"
    );
    assert!(
        message(&r["result"], "requested").contains("no presentation for badge"),
        "{r}"
    );
}

#[tokio::test]
async fn unreadable_answers_decide_nothing() {
    let app = TestApp::new().await;
    let (holder, badge, _) = holder_with_badge(&app).await;
    let req = create(&app, json!({})).await;
    let uri = req["response_uri"].as_str().expect("uri").to_owned();
    let state = request_claims(&app, &req).await["state"]
        .as_str()
        .expect("state")
        .to_owned();
    let nonce = req["nonce"].as_str().expect("nonce");
    let good = vp(
        &holder,
        &[&badge],
        nonce,
        &format!("decentralized_identifier:{DID}"),
    );
    let token = json!({"badge": [good]}).to_string();
    for (what, pairs) in [
        (
            "another state",
            vec![("vp_token", token.as_str()), ("state", "forged")],
        ),
        ("no state", vec![("vp_token", token.as_str())]),
        ("no vp_token", vec![("state", state.as_str())]),
        (
            "vp_token not JSON",
            vec![("vp_token", "eyJ.a.b"), ("state", state.as_str())],
        ),
        (
            "vp_token not a presentation",
            vec![
                ("vp_token", r#"{"badge": ["nope"]}"#),
                ("state", state.as_str()),
            ],
        ),
        (
            "a parameter twice",
            vec![
                ("vp_token", token.as_str()),
                ("state", state.as_str()),
                ("state", state.as_str()),
            ],
        ),
    ] {
        let (s, body) = post_form(&app, &uri, &pairs).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{what}: {body}");
        assert_eq!(body["error"], "invalid_request", "{what}");
        assert_eq!(result(&app, &req).await["state"], "pending", "{what}");
    }
    // Not a form at all.
    let (s, _, _) = app
        .send(
            Request::post(path_of(&uri))
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from("{}"))
                .expect("req"),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    // An unknown response URI.
    let (s, body) = post_form(
        &app,
        &format!("{PUBLIC_URL}/oid4vp/responses/nope"),
        &[("state", "x")],
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{body}");
    // Still answerable after all that.
    let (s, body) = post_form(&app, &uri, &[("vp_token", &token), ("state", &state)]).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(result(&app, &req).await["state"], "verified");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_concurrent_answers_exactly_one_lands() {
    let app = TestApp::new().await;
    let (holder, badge, _) = holder_with_badge(&app).await;
    let req = create(&app, json!({})).await;
    let good = vp_for(&holder, &[&badge], &req);
    let state = request_claims(&app, &req).await["state"].clone();
    let mut tasks = Vec::new();
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(20));
    for _ in 0..20 {
        let router = app.router.clone();
        let start = start.clone();
        let uri = path_of(req["response_uri"].as_str().expect("uri"));
        let body: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("vp_token", &json!({"badge": [good]}).to_string())
            .append_pair("state", state.as_str().expect("state"))
            .finish();
        tasks.push(tokio::spawn(async move {
            start.wait().await;
            use tower::ServiceExt as _;
            router
                .oneshot(
                    Request::post(uri)
                        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                        .body(Body::from(body))
                        .expect("req"),
                )
                .await
                .expect("infallible")
                .status()
        }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.expect("task") {
            StatusCode::OK => ok += 1,
            StatusCode::BAD_REQUEST => {}
            s => panic!("unexpected {s}"),
        }
    }
    assert_eq!(ok, 1);
    assert_eq!(result(&app, &req).await["state"], "verified");
}

#[tokio::test]
async fn requests_expire_and_then_take_no_answer() {
    let app = TestApp::new().await;
    let (holder, badge, _) = holder_with_badge(&app).await;
    let req = create(&app, json!({"expires_in": 120})).await;
    let claims = request_claims(&app, &req).await;
    assert_eq!(claims["exp"], json!(NOW + 120));
    app.clock.advance(121);
    assert_eq!(result(&app, &req).await["state"], "expired");
    let (s, body) = fetch_request_object(&app, &req).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    let good = vp_for(&holder, &[&badge], &req);
    let (s, body) = answer_raw(&app, &req, &good, &claims["state"]).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        body["error_description"]
            .as_str()
            .expect("text")
            .contains("expired")
    );
    assert_eq!(result(&app, &req).await["state"], "expired");
    // An answered request is kept a day after its answer; an unanswered one an hour
    // after it expired.
    let answered = create(&app, json!({})).await;
    let v = vp_for(&holder, &[&badge], &answered);
    assert_eq!(answer(&app, &answered, &v).await.0, StatusCode::OK);
    assert_eq!(app.state.oid4vp.sweep().await.expect("sweep"), 0);
    app.clock.advance(3600);
    assert_eq!(
        app.state.oid4vp.sweep().await.expect("sweep"),
        1,
        "the unanswered one"
    );
    assert_eq!(result(&app, &answered).await["state"], "verified");
    app.clock.advance(23 * 3600 + 1);
    assert_eq!(
        app.state.oid4vp.sweep().await.expect("sweep"),
        1,
        "the answered one"
    );
    let (s, _) = app
        .call(
            Method::GET,
            &format!(
                "/api/v1/presentation-requests/{}",
                req["id"].as_str().expect("id")
            ),
            None,
            false,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn redirect_uri_requests_travel_unsigned_and_by_value() {
    let app = TestApp::new().await;
    let (holder, badge, _) = holder_with_badge(&app).await;
    let req = create(&app, json!({"client_id_prefix": "redirect_uri"})).await;
    let response_uri = req["response_uri"].as_str().expect("uri").to_owned();
    let client_id = format!("redirect_uri:{response_uri}");
    assert_eq!(req["client_id"], json!(client_id));
    let link = url::Url::parse(req["authorization_request"].as_str().expect("link")).expect("url");
    let params: std::collections::HashMap<String, String> =
        link.query_pairs().into_owned().collect();
    assert_eq!(params["client_id"], client_id);
    assert_eq!(params["response_uri"], response_uri);
    assert_eq!(params["response_mode"], "direct_post");
    assert_eq!(params["nonce"], req["nonce"].as_str().expect("nonce"));
    let q: Value = serde_json::from_str(&params["dcql_query"]).expect("dcql_query is JSON");
    assert_eq!(q, req["dcql_query"]);
    assert!(!params.contains_key("request_uri"));
    // By reference too, as an unsecured request object.
    let (s, jwt) = fetch_request_object(&app, &req).await;
    assert_eq!(s, StatusCode::OK);
    assert!(jwt.ends_with('.'), "no signature: {jwt}");
    let (h, claims, _) = decode_jwt(&jwt);
    assert_eq!(h["alg"], "none");
    assert_eq!(claims["client_id"], json!(client_id));
    let v = vp(
        &holder,
        &[&badge],
        req["nonce"].as_str().expect("nonce"),
        &client_id,
    );
    let (s, body) = answer(&app, &req, &v).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(result(&app, &req).await["result"]["verified"], true);
}

#[tokio::test]
async fn presentation_exchange_requests_serve_wallets_before_dcql() {
    let app = TestApp::new().await;
    let (holder, badge, _) = holder_with_badge(&app).await;
    let req = create(&app, json!({"query_language": "presentation_exchange"})).await;
    assert_eq!(
        req["client_id"],
        json!(DID),
        "a bare DID with client_id_scheme"
    );
    let link = url::Url::parse(req["authorization_request"].as_str().expect("link")).expect("url");
    assert!(
        link.query_pairs()
            .any(|(k, v)| k == "client_id_scheme" && v == "did")
    );
    let claims = request_claims(&app, &req).await;
    let pd = &claims["presentation_definition"];
    assert_eq!(pd["input_descriptors"][0]["id"], "badge");
    assert!(claims.get("dcql_query").is_none());
    assert_eq!(
        claims["client_metadata"]["vp_formats"]["jwt_vp_json"]["alg"][0],
        "ES256"
    );
    let v = vp(
        &holder,
        &[&badge],
        req["nonce"].as_str().expect("nonce"),
        DID,
    );
    let submission = json!({"id": "s1", "definition_id": pd["id"],
        "descriptor_map": [{"id": "badge", "format": "jwt_vp_json", "path": "$",
            "path_nested": {"id": "badge", "format": "jwt_vc_json", "path": "$.vp.verifiableCredential[0]"}}]})
    .to_string();
    let uri = req["response_uri"].as_str().expect("uri");
    let state = claims["state"].as_str().expect("state");
    // Without a submission the answer cannot be read.
    let (s, _) = post_form(&app, uri, &[("vp_token", &v), ("state", state)]).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(result(&app, &req).await["state"], "pending");
    let (s, body) = post_form(
        &app,
        uri,
        &[
            ("vp_token", &v),
            ("state", state),
            ("presentation_submission", &submission),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let r = result(&app, &req).await;
    assert_eq!(r["state"], "verified", "{r}");
}

#[tokio::test]
async fn a_declining_answer_is_an_attempt_and_the_real_wallet_still_answers() {
    let app = TestApp::new().await;
    let (holder, badge, _) = holder_with_badge(&app).await;
    let req = create(&app, json!({})).await;
    let claims = request_claims(&app, &req).await;
    let (s, body) = post_form(
        &app,
        req["response_uri"].as_str().expect("uri"),
        &[
            ("error", "access_denied"),
            ("error_description", "the holder said no"),
            ("state", claims["state"].as_str().expect("state")),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    // Anyone who saw the QR code can post that: it decides nothing.
    let r = result(&app, &req).await;
    assert_eq!(r["state"], "pending", "{r}");
    assert!(
        r["attempts"][0]["reason"]
            .as_str()
            .expect("reason")
            .contains("access_denied"),
        "{r}"
    );
    assert!(r["result"].is_null(), "{r}");
    // The holder's own answer decides it.
    let client_id = format!("decentralized_identifier:{DID}");
    let good = vp(
        &holder,
        &[&badge],
        req["nonce"].as_str().expect("nonce"),
        &client_id,
    );
    let (s, body) = answer_raw(&app, &req, &good, &claims["state"]).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(result(&app, &req).await["state"], "verified");
}

#[tokio::test]
async fn bad_presentation_requests_are_refused_with_the_reason() {
    let app = TestApp::new().await;
    for (body, needle) in [
        (
            json!({"dcql_query": {"credentials": [{"id": "m", "format": "mso_mdoc", "meta": {}}]}}),
            "not supported",
        ),
        (json!({"dcql_query": {"credentials": []}}), "non-empty"),
        (json!({"client_id_prefix": "x509_san_dns"}), "x509_san_dns"),
        (json!({"expires_in": 5}), "expires_in"),
        (json!({"query_language": "sql"}), "sql"),
        (
            json!({"dcql_query": {"credentials": [{"id": "a", "format": "jwt_vc_json", "meta": {"type_values": [["X"]]}}]},
                "presentation_definition": {"id": "p", "input_descriptors": [{"id": "a"}]}}),
            "not both",
        ),
        (
            json!({"presentation_definition": {"id": "p", "input_descriptors": []}}),
            "input_descriptors",
        ),
        (
            json!({"credential_types": "OpenBadgeCredential"}),
            "sequence",
        ),
        (json!({"colour": "blue"}), "colour"),
    ] {
        refused(&app, body, needle).await;
    }
    let (s, _) = app
        .call(
            Method::GET,
            "/api/v1/presentation-requests/7f7f7f7f-0000-4000-8000-000000000000",
            None,
            false,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = app
        .call(
            Method::GET,
            "/api/v1/presentation-requests/not-an-id",
            None,
            false,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_custom_dcql_query_is_served_as_given_and_enforced() {
    let app = TestApp::new().await;
    let (holder, badge, _) = holder_with_badge(&app).await;
    let q = json!({"credentials": [{"id": "cert", "format": "jwt_vc_json",
        "meta": {"type_values": [["https://purl.imsglobal.org/spec/vc/ob/vocab.html#OpenBadgeCredential"]]},
        "claims": [{"path": ["credentialSubject", "achievement", "name"]}]}]});
    let req = create(&app, json!({"dcql_query": q})).await;
    assert_eq!(req["dcql_query"], q);
    let claims = request_claims(&app, &req).await;
    assert_eq!(claims["dcql_query"], q);
    let v = vp_for(&holder, &[&badge], &req);
    let token = json!({"cert": [v]}).to_string();
    let (s, body) = post_token(&app, &req, &token, &claims["state"]).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    // A claim the badge lacks fails the query.
    let q2 = json!({"credentials": [{"id": "cert", "format": "jwt_vc_json",
        "meta": {"type_values": [["OpenBadgeCredential"]]},
        "claims": [{"path": ["credentialSubject", "result", null, "value"]}]}]});
    let req = create(&app, json!({"dcql_query": q2})).await;
    let claims = request_claims(&app, &req).await;
    let v = vp_for(&holder, &[&badge], &req);
    let token = json!({"cert": [v]}).to_string();
    let (s, _) = post_token(&app, &req, &token, &claims["state"]).await;
    assert_eq!(s, StatusCode::OK);
    let r = result(&app, &req).await;
    assert_eq!(r["state"], "rejected");
    assert!(
        message(&r["result"], "requested").contains("no claim at"),
        "{r}"
    );
}

#[tokio::test]
async fn qr_codes_wallet_nonce_and_restarts() {
    let mut app = TestApp::new().await;
    let req = create(&app, json!({})).await;
    let id = req["id"].as_str().expect("id").to_owned();
    assert!(
        req["qr_code"]
            .as_str()
            .expect("qr")
            .ends_with(&format!("{id}/qr.svg"))
    );
    let (s, h, b) = app
        .send(
            Request::get(format!("/api/v1/presentation-requests/{id}/qr.svg"))
                .body(Body::empty())
                .expect("req"),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(h[header::CONTENT_TYPE], "image/svg+xml");
    assert!(String::from_utf8_lossy(&b).contains("<svg"));
    let (s, h, b) = app
        .send(
            Request::get(format!("/api/v1/presentation-requests/{id}/qr.png"))
                .body(Body::empty())
                .expect("req"),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(h[header::CONTENT_TYPE], "image/png");
    assert_eq!(&b[..8], b"\x89PNG\r\n\x1a\n");
    // request_uri_method=post echoes the wallet's nonce.
    let (s, _, b) = app
        .send(
            Request::post(path_of(req["request_uri"].as_str().expect("uri")))
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from("wallet_nonce=w-123&wallet_metadata=%7B%7D"))
                .expect("req"),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, claims, _) = decode_jwt(std::str::from_utf8(&b).expect("utf8"));
    assert_eq!(claims["wallet_nonce"], "w-123");
    // The employer's id does not open the wallet endpoints, nor the other way round.
    let (s, _, _) = app
        .send(
            Request::get(format!("/oid4vp/requests/{id}"))
                .body(Body::empty())
                .expect("req"),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let tx = req["request_uri"]
        .as_str()
        .expect("uri")
        .rsplit('/')
        .next()
        .expect("tx")
        .to_owned();
    let (s, _) = app
        .call(
            Method::GET,
            &format!("/api/v1/presentation-requests/{tx}"),
            None,
            false,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // Requests survive a restart.
    app.restart().await;
    let r = result(&app, &req).await;
    assert_eq!(r["state"], "pending");
    assert_eq!(fetch_request_object(&app, &req).await.0, StatusCode::OK);
}

#[tokio::test]
async fn a_partner_key_creates_requests_under_its_own_name_and_count() {
    let app = TestApp::new().await;
    let (s, k) = app
        .admin(
            Method::POST,
            "/api/v1/api-keys",
            Some(json!({"name": "Hiring platform", "rate_limit": 50})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{k}");
    let secret = k["key"].as_str().expect("key").to_owned();
    let keyed = |method: Method, uri: String, body: Option<Value>| {
        let b = Request::builder()
            .method(method)
            .uri(uri)
            .header("X-API-Key", secret.clone())
            .header(header::CONTENT_TYPE, "application/json");
        b.body(Body::from(body.map(|v| v.to_string()).unwrap_or_default()))
            .expect("req")
    };
    let (s, _, b) = app
        .send(keyed(
            Method::POST,
            "/api/v1/presentation-requests".into(),
            Some(json!({})),
        ))
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let req: Value = serde_json::from_slice(&b).expect("json");
    assert_eq!(req["created_by"], k["id"]);
    let (s, _, b) = app
        .send(keyed(
            Method::GET,
            format!(
                "/api/v1/presentation-requests/{}",
                req["id"].as_str().expect("id")
            ),
            None,
        ))
        .await;
    assert_eq!(s, StatusCode::OK);
    let got: Value = serde_json::from_slice(&b).expect("json");
    assert_eq!(got["created_by"], k["id"]);
    // Without the key (or with another one), the request is not there.
    let path = format!(
        "/api/v1/presentation-requests/{}",
        req["id"].as_str().expect("id")
    );
    let (s, v) = app.call(Method::GET, &path, None, false).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    let (_, other) = app
        .admin(
            Method::POST,
            "/api/v1/api-keys",
            Some(json!({"name": "Another platform"})),
        )
        .await;
    let (s, _, _) = app
        .send(
            Request::builder()
                .uri(&path)
                .header("X-API-Key", other["key"].as_str().expect("key"))
                .body(Body::empty())
                .expect("req"),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, view) = app
        .admin(
            Method::GET,
            &format!("/api/v1/api-keys/{}", k["id"].as_str().expect("id")),
            None,
        )
        .await;
    assert_eq!(view["usage"]["requests"], 2, "{view}");
    // A revoked key may no longer ask.
    app.admin(
        Method::POST,
        &format!("/api/v1/api-keys/{}/revoke", k["id"].as_str().expect("id")),
        None,
    )
    .await;
    let (s, _, _) = app
        .send(keyed(
            Method::POST,
            "/api/v1/presentation-requests".into(),
            Some(json!({})),
        ))
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn anonymous_callers_get_shorter_lifetimes_and_their_own_bucket() {
    let app = TestApp::new().await;
    let (s, v) = app
        .call(
            Method::POST,
            "/api/v1/presentation-requests",
            Some(json!({"expires_in": 3600})),
            false,
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        v["message"].as_str().expect("message").contains("1800"),
        "{v}"
    );
    let (_, k) = app
        .admin(
            Method::POST,
            "/api/v1/api-keys",
            Some(json!({"name": "Platform"})),
        )
        .await;
    let (s, _, b) = app
        .send(
            Request::post("/api/v1/presentation-requests")
                .header("X-API-Key", k["key"].as_str().expect("key"))
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(r#"{"expires_in": 86400}"#))
                .expect("req"),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{}", String::from_utf8_lossy(&b));

    // From one address: the burst, then 429 with Retry-After; another address is
    // not held back.
    let from = |ip: &str| {
        let mut req = Request::post("/api/v1/presentation-requests")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from("{}"))
            .expect("req");
        let addr: std::net::SocketAddr = format!("{ip}:41000").parse().expect("addr");
        req.extensions_mut()
            .insert(axum::extract::ConnectInfo(addr));
        req
    };
    let mut created = 0;
    let mut refused = None;
    let started = std::time::Instant::now();
    for _ in 0..60 {
        let (s, h, _) = app.send(from("198.51.100.61")).await;
        match s {
            StatusCode::CREATED => created += 1,
            StatusCode::TOO_MANY_REQUESTS => {
                refused = Some(h[header::RETRY_AFTER].to_str().expect("ascii").to_owned());
                break;
            }
            other => panic!("unexpected {other}"),
        }
    }
    // A burst of 10, then 1 a second: however slow the machine, no more than
    // that got through.
    let allowed = 10 + started.elapsed().as_secs_f64().ceil() as usize;
    assert!((10..=allowed).contains(&created), "{created} of {allowed}");
    assert!(refused.is_some());
    // An IPv6 client is its /48: another address in it is held back too.
    assert_eq!(
        app.send(from("[2001:db8:7:1::5]")).await.0,
        StatusCode::CREATED
    );
    for _ in 0..60 {
        if app.send(from("[2001:db8:7:2::9]")).await.0 == StatusCode::TOO_MANY_REQUESTS {
            break;
        }
    }
    assert_eq!(
        app.send(from("[2001:db8:7:ffff::1]")).await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(app.send(from("198.51.100.62")).await.0, StatusCode::CREATED);
}

#[tokio::test]
async fn presentation_definitions_are_evaluated_not_trusted_to_the_wallet() {
    let app = TestApp::new().await;
    let (holder, badge, achievement) = holder_with_badge(&app).await;
    let answer_pe = |req: Value, claims: Value, v: String| {
        let submission = json!({"id": "s1", "definition_id": claims["presentation_definition"]["id"],
            "descriptor_map": claims["presentation_definition"]["input_descriptors"].as_array().expect("ds")
                .iter().map(|d| json!({"id": d["id"], "format": "jwt_vp_json", "path": "$"})).collect::<Vec<_>>()})
        .to_string();
        let app = &app;
        async move {
            post_form(
                app,
                req["response_uri"].as_str().expect("uri"),
                &[
                    ("vp_token", &v),
                    ("state", claims["state"].as_str().expect("state")),
                    ("presentation_submission", &submission),
                ],
            )
            .await
        }
    };
    // The built definition's id is not the employer's handle.
    let req = create(&app, json!({"query_language": "presentation_exchange"})).await;
    assert_ne!(req["presentation_definition"]["id"], req["id"]);
    assert!(
        !req["presentation_definition"]
            .to_string()
            .contains(req["id"].as_str().expect("id"))
    );

    // A definition asking for an achievement this badge is not for: rejected.
    let pd = |name: &str| {
        json!({"id": "hiring-1", "input_descriptors": [{
        "id": "cert", "constraints": {"fields": [
            {"path": ["$.type", "$.vc.type"], "filter": {"type": "array", "contains": {"const": "OpenBadgeCredential"}}},
            {"path": ["$.credentialSubject.achievement.name", "$['vc']['credentialSubject']['achievement']['name']"],
             "filter": {"type": "string", "pattern": name}},
            {"path": ["$.evidence[*].id"], "optional": true}
        ]}}]})
    };
    for (name, want) in [
        ("^Kubernetes Administrator$", "rejected"),
        (achievement["name"].as_str().expect("name"), "verified"),
    ] {
        let req = create(
            &app,
            json!({"presentation_definition": pd(&regex_escape(name))}),
        )
        .await;
        let claims = request_claims(&app, &req).await;
        let v = vp(
            &holder,
            &[&badge],
            req["nonce"].as_str().expect("nonce"),
            DID,
        );
        let (s, body) = answer_pe(req.clone(), claims, v).await;
        assert_eq!(s, StatusCode::OK, "{body}");
        let r = result(&app, &req).await;
        assert_eq!(r["state"], want, "{name}: {r}");
        if want == "rejected" {
            assert!(
                message(&r["result"], "requested").contains("input descriptor \"cert\""),
                "{r}"
            );
        }
    }

    // What cannot be evaluated is refused up front.
    for (bad, needle) in [
        (
            json!({"id": "p", "input_descriptors": [{"id": "a"}], "submission_requirements": []}),
            "submission_requirements",
        ),
        (
            json!({"id": "p", "input_descriptors": [{"id": "a", "constraints": {"fields": [{"path": ["$..type"]}]}}]}),
            "$..type",
        ),
        (
            json!({"id": "p", "input_descriptors": [{"id": "a", "constraints": {"fields": [{"path": ["$.type"], "predicate": "required"}]}}]}),
            "predicate",
        ),
        (
            json!({"id": "p", "input_descriptors": [{"id": "a", "constraints": {"limit_disclosure": "required"}}]}),
            "limit_disclosure",
        ),
        (
            json!({"id": "p", "input_descriptors": [{"id": "a", "constraints": {"fields": [{"path": ["$.type"], "filter": {"type": 12}}]}}]}),
            "JSON Schema",
        ),
        (
            json!({"id": "p", "input_descriptors": [{"id": "a", "constraints": {"fields": [{"path": ["$.name"], "filter": {"type": "string", "pattern": "^(?=a)a+$"}}]}}]}),
            "JSON Schema",
        ),
        (
            json!({"id": "p", "input_descriptors": [{"id": "a", "constraints": {"fields": [{"path": ["$.name"], "filter": {"$ref": "#/$defs/x", "$defs": {"x": {}}}}]}}]}),
            "$ref",
        ),
        (
            json!({"id": "p", "input_descriptors": [{"id": "a", "constraints": {"fields": [{"path": ["$"]}]}}]}),
            "whole badge",
        ),
        (
            json!({"id": "p", "input_descriptors": [{"id": "a,b"}]}),
            "','",
        ),
    ] {
        refused(&app, json!({"presentation_definition": bad}), needle).await;
    }
}

/// Escapes regex metacharacters of a badge name for a `pattern` filter.
fn regex_escape(s: &str) -> String {
    let mut out = String::from("^");
    for c in s.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('$');
    out
}

#[tokio::test]
async fn dcql_members_that_cannot_be_checked_are_refused() {
    let app = TestApp::new().await;
    let cq = |extra: Value| {
        let mut q = json!({"id": "b", "format": "jwt_vc_json", "meta": {"type_values": [["OpenBadgeCredential"]]}});
        for (k, v) in extra.as_object().expect("object") {
            q[k] = v.clone();
        }
        json!({"dcql_query": {"credentials": [q]}})
    };
    for (body, needle) in [
        (
            cq(json!({"trusted_authorities": [{"type": "aki", "values": ["x"]}]})),
            "trusted_issuers",
        ),
        (
            cq(json!({"require_cryptographic_holder_binding": false})),
            "require_cryptographic_holder_binding",
        ),
        (cq(json!({"colour": "blue"})), "colour"),
        (json!({"trusted_issuers": ["hello"]}), "neither a DID"),
        (
            json!({"trusted_issuers": ["http://badges.example.edu"]}),
            "only https",
        ),
        (
            cq(json!({"meta": {"type_values": [["X"]], "vct_values": ["y"]}})),
            "vct_values",
        ),
        (
            cq(json!({"claims": [{"path": ["a"], "intent_to_retain": true}]})),
            "intent_to_retain",
        ),
    ] {
        refused(&app, body, needle).await;
    }
    let (s, _) = app
        .call(
            Method::POST,
            "/api/v1/presentation-requests",
            Some(cq(
                json!({"require_cryptographic_holder_binding": true, "multiple": false}),
            )),
            false,
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
}

#[tokio::test]
async fn oversized_requests_and_answers_are_refused_before_any_work() {
    let app = TestApp::new().await;
    // A request too large to store, and one too long for a QR code by value.
    let many: Vec<String> = (0..200)
        .map(|i| format!("https://badges.example.edu/achievements/{i:0>260}"))
        .collect();
    let (s, v) = app
        .call(
            Method::POST,
            "/api/v1/presentation-requests",
            Some(json!({"achievement_ids": many})),
            false,
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(v["message"].as_str().expect("m").contains("bytes"), "{v}");
    let some: Vec<String> = (0..12)
        .map(|i| format!("https://badges.example.edu/achievements/{i:a>250}"))
        .collect();
    let (s, v) = app
        .call(
            Method::POST,
            "/api/v1/presentation-requests",
            Some(json!({"achievement_ids": some.clone(), "client_id_prefix": "redirect_uri"})),
            false,
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(v["message"].as_str().expect("m").contains("QR code"), "{v}");
    // By reference the same request is fine.
    create(&app, json!({"achievement_ids": some})).await;

    // An answer whose last presentation is not one: nothing is verified or decided.
    let (holder, badge, _) = holder_with_badge(&app).await;
    let req = create(&app, json!({})).await;
    let claims = request_claims(&app, &req).await;
    let good = vp_for(&holder, &[&badge], &req);
    let token = json!({"badge": [good, "not.a-presentation"]}).to_string();
    let (s, body) = post_token(&app, &req, &token, &claims["state"]).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .expect("d")
            .contains("cannot be read"),
        "{body}"
    );
    assert_eq!(result(&app, &req).await["state"], "pending");
    // Answers that the verifier could not read are refused before any verification
    // and decide nothing: too many badges in one presentation or across several
    // (also inside an enveloped presentation), a presentation that is not one, a
    // badge that is not a credential.
    let nine: Vec<&str> = std::iter::repeat_n(badge.as_str(), 9).collect();
    let seventeen: Vec<&str> = std::iter::repeat_n(badge.as_str(), 17).collect();
    let envelope = |vp: String| {
        json!({"@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["EnvelopedVerifiablePresentation"], "id": format!("data:application/vp+jwt,{vp}")})
    };
    let (holder_did, holder_kid) = did_key_of(&holder);
    let not_a_vp = {
        let payload = json!({"iss": holder_did, "nonce": req["nonce"], "aud": format!("decentralized_identifier:{DID}"),
            "vp": {"type": ["VerifiableCredential"], "verifiableCredential": [badge]}});
        sign_compact(
            &holder,
            Some(&holder_kid),
            Some("JWT"),
            &serde_json::to_vec(&payload).expect("json"),
        )
        .expect("sign")
    };
    let not_json_badge = format!(
        "{}.{}.{}",
        b64("{\"alg\":\"ES256\"}"),
        b64("not json"),
        b64("sig")
    );
    for (what, token) in [
        (
            "17 badges in one",
            json!({"badge": [vp_for(&holder, &seventeen, &req)]}),
        ),
        (
            "9 + 9 badges",
            json!({"badge": [vp_for(&holder, &nine, &req), vp_for(&holder, &nine, &req)]}),
        ),
        (
            "17 badges enveloped",
            json!({"badge": [envelope(vp_for(&holder, &seventeen, &req))]}),
        ),
        ("an empty object", json!({"badge": {}})),
        (
            "a JWT that is no presentation",
            json!({"badge": [not_a_vp]}),
        ),
        (
            "a badge whose payload is not JSON",
            json!({"badge": [vp_for(&holder, &[&not_json_badge], &req)]}),
        ),
    ] {
        let (s, body) = post_token(&app, &req, &token.to_string(), &claims["state"]).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{what}: {body}");
        assert_eq!(result(&app, &req).await["state"], "pending", "{what}");
    }
    // An enveloped presentation that reads well is verified like any other.
    let token = json!({"badge": [envelope(vp_for(&holder, &[&badge], &req))]}).to_string();
    let (s, body) = post_token(&app, &req, &token, &claims["state"]).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(result(&app, &req).await["state"], "verified");
}

#[tokio::test]
async fn the_request_object_names_its_signer_and_the_algorithms_that_verify() {
    let app = TestApp::new().await;
    let req = create(&app, json!({})).await;
    let claims = request_claims(&app, &req).await;
    assert_eq!(
        claims["iss"], DID,
        "RFC 9101 §4: the bare DID, the kid's base"
    );
    assert_eq!(
        claims["client_metadata"]["vp_formats_supported"]["jwt_vc_json"]["alg_values"],
        json!(["ES256", "EdDSA", "RS256"])
    );
    let req = create(&app, json!({"client_id_prefix": "redirect_uri"})).await;
    assert!(
        request_claims(&app, &req).await.get("iss").is_none(),
        "unsigned: no signer"
    );
}
