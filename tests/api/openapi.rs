//! The API reference at `/openapi.json`: it names every route the router serves (and
//! nothing else), and what the service answers matches the schemas it publishes.

use std::collections::BTreeSet;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::{Value, json};

use crate::helpers::{HOLDER_DID, PUBLIC_URL, TestApp};

fn key(m: &Method, p: &str) -> String {
    format!("{m} {p}")
}

#[test]
fn every_route_of_the_router_is_documented_and_nothing_else() {
    let served: BTreeSet<String> = accolade::http::all_routes()
        .iter()
        .map(|(m, p)| key(m, p))
        .collect();
    let documented: BTreeSet<String> = accolade::http::openapi::documented_routes()
        .iter()
        .map(|(m, p)| key(m, p))
        .collect();
    let missing: Vec<_> = served.difference(&documented).collect();
    let extra: Vec<_> = documented.difference(&served).collect();
    assert!(
        missing.is_empty(),
        "routes missing from the reference: {missing:?}"
    );
    assert!(
        extra.is_empty(),
        "the reference names routes the router lacks: {extra:?}"
    );
    // No route is documented twice.
    assert_eq!(
        accolade::http::openapi::documented_routes().len(),
        documented.len()
    );
    assert!(served.len() > 150, "{} routes", served.len());
}

async fn document(app: &TestApp) -> Value {
    let (s, h, b) = app
        .send(
            Request::get("/openapi.json")
                .body(Body::empty())
                .expect("request"),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        h[header::CONTENT_TYPE]
            .to_str()
            .expect("ct")
            .starts_with("application/json")
    );
    serde_json::from_slice(&b).expect("json")
}

#[tokio::test]
async fn the_reference_is_served_without_a_token_for_this_public_url() {
    let app = TestApp::new().await;
    let doc = document(&app).await;
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["servers"][0]["url"], PUBLIC_URL);
    assert_eq!(doc["info"]["title"], "accolade");
    let award = &doc["paths"]["/api/v1/awards"]["post"];
    assert_eq!(
        award["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/AwardRequest"
    );
    assert!(award["requestBody"]["content"]["application/json"]["example"].is_object());
    assert_eq!(
        award["responses"]["201"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/CredentialView"
    );
    // The request schema is the struct the handler reads: its members, strictly.
    let req = &doc["components"]["schemas"]["AwardRequest"];
    assert!(req["properties"]["achievement_id"].is_object(), "{req}");
    assert!(req["properties"]["recipient"].is_object(), "{req}");
    let required: Vec<&str> = req["required"]
        .as_array()
        .expect("required")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(required.contains(&"achievement_id") && required.contains(&"recipient"));
    // Path parameters are declared.
    let params = doc["paths"]["/api/v1/credentials/{id}"]["get"]["parameters"]
        .as_array()
        .expect("parameters");
    assert!(
        params
            .iter()
            .any(|p| p["name"] == "id" && p["in"] == "path")
    );
}

/// A validator for one schema of the document (OpenAPI 3.1 schemas are JSON Schema
/// 2020-12; references resolve inside the document).
fn validator(doc: &Value, name: &str) -> jsonschema::Validator {
    let root = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$ref": format!("#/components/schemas/{name}"),
        "components": doc["components"],
    });
    jsonschema::validator_for(&root).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn assert_matches(doc: &Value, name: &str, v: &Value) {
    let val = validator(doc, name);
    let errors: Vec<String> = val.iter_errors(v).map(|e| e.to_string()).collect();
    assert!(
        errors.is_empty(),
        "{name} does not match: {errors:?}\n{v:#}"
    );
}

#[tokio::test]
async fn answers_match_the_published_schemas() {
    let app = TestApp::new().await;
    let doc = document(&app).await;
    let achievement = app.create_achievement().await;
    assert_matches(&doc, "Achievement", &achievement);
    let id = achievement["id"].as_str().expect("id");

    let direct = app.award_direct(id, HOLDER_DID).await;
    assert_matches(&doc, "CredentialView", &direct);
    let (s, offered) = app
        .admin(
            Method::POST,
            "/api/v1/awards",
            Some(json!({"achievement_id": id, "recipient": {"email": "ada@example.com", "name": "Ada"}})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{offered}");
    assert!(offered["offer_uri"].is_string());
    assert_matches(&doc, "CredentialView", &offered);

    let cid = direct["credential_id"].as_str().expect("credential_id");
    let (_, one) = app
        .admin(Method::GET, &format!("/api/v1/credentials/{cid}"), None)
        .await;
    assert!(one["badges"].is_array(), "{one}");
    assert_matches(&doc, "CredentialView", &one);
    let (_, list) = app.admin(Method::GET, "/api/v1/credentials", None).await;
    assert_eq!(list["credentials"].as_array().expect("list").len(), 2);
    assert_matches(&doc, "CredentialList", &list);
    let (_, revoked) = app
        .admin(
            Method::POST,
            &format!("/api/v1/credentials/{cid}/revoke"),
            Some(json!({"reason": "test"})),
        )
        .await;
    assert_eq!(revoked["revoked"], true);
    assert_matches(&doc, "CredentialView", &revoked);
    let (_, audit) = app
        .admin(
            Method::GET,
            &format!("/api/v1/credentials/{cid}/audit"),
            None,
        )
        .await;
    assert_matches(&doc, "CredentialAudit", &audit);

    let (_, report) = app.verify(direct["credential"].clone()).await;
    assert_matches(&doc, "Report", &report);

    let (_, achievements) = app.admin(Method::GET, "/api/v1/achievements", None).await;
    assert_matches(&doc, "AchievementList", &achievements);
    let (_, issuer) = app.admin(Method::GET, "/api/v1/issuer", None).await;
    assert_matches(&doc, "IssuerView", &issuer);
    // What GET answers may be sent back as it is, and the reference says so.
    assert_matches(&doc, "IssuerProfileUpdate", &issuer);
    let typed = json!({"name": "Example University", "type": ["Profile"], "id": issuer["id"]});
    assert_matches(&doc, "IssuerProfileUpdate", &typed);
    let refused = validator(&doc, "IssuerProfileUpdate");
    assert!(!refused.is_valid(&json!({"name": "x", "type": "Achievement"})));
    assert!(!refused.is_valid(&json!({"name": "x", "colour": "#fff"})));
    let (s, v) = app
        .admin(Method::PUT, "/api/v1/issuer", Some(issuer.clone()))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (_, mail) = app.admin(Method::GET, "/api/v1/mail", None).await;
    assert_matches(&doc, "MailStatus", &mail);
    let (_, templates) = app.admin(Method::GET, "/api/v1/mail/templates", None).await;
    assert_matches(&doc, "TemplateList", &templates);
    let (_, me) = app.admin(Method::GET, "/api/v1/me", None).await;
    assert_matches(&doc, "MeView", &me);
    let (_, staff) = app
        .admin(
            Method::POST,
            "/api/v1/staff",
            Some(json!({"email": "grace@example.edu", "name": "Grace", "role": "viewer"})),
        )
        .await;
    assert_matches(&doc, "NewStaff", &staff);
    let (_, audit) = app.admin(Method::GET, "/api/v1/audit", None).await;
    assert_matches(&doc, "AuditPage", &audit);
    let (s, batch) = app
        .admin(
            Method::POST,
            "/api/v1/awards/batch?delivery=direct",
            Some(json!({"awards": [
                {"achievement_id": id, "recipient": {"email": "b@example.com", "id": HOLDER_DID}},
                {"achievement_id": "urn:uuid:00000000-0000-0000-0000-000000000000", "recipient": {"email": "c@example.com"}}
            ]})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{batch}");
    assert!(batch["results"][0]["error"].is_null(), "{batch}");
    assert!(batch["results"][1]["error"].is_string(), "{batch}");
    assert_matches(&doc, "BatchResults", &batch);

    let (s, error) = app
        .admin(
            Method::POST,
            "/api/v1/awards",
            Some(json!({"achievment_id": id})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_matches(&doc, "ErrorBody", &error);
    let (s, request) = app
        .call(
            Method::POST,
            "/api/v1/presentation-requests",
            Some(json!({"credential_types": ["OpenBadgeCredential"], "purpose": "a job"})),
            false,
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{request}");
    assert_matches(&doc, "RequestView", &request);
    let rid = request["id"].as_str().expect("id");
    let (_, pending) = app
        .call(
            Method::GET,
            &format!("/api/v1/presentation-requests/{rid}"),
            None,
            false,
        )
        .await;
    assert_eq!(pending["state"], "pending");
    assert!(pending["result"].is_null());
    assert_matches(&doc, "RequestView", &pending);
    let (_, health) = app.call(Method::GET, "/healthz", None, false).await;
    assert_matches(&doc, "Health", &health);
    let (_, ready) = app.call(Method::GET, "/readyz", None, false).await;
    assert_matches(&doc, "Readiness", &ready);
}

#[tokio::test]
async fn typed_bodies_keep_accepting_json_sent_without_a_content_type() {
    let app = TestApp::new().await;
    let achievement = app.create_achievement().await;
    let body = json!({
        "achievement_id": achievement["id"],
        "recipient": {"email": "ada@example.com", "id": HOLDER_DID},
        "delivery": "direct",
    });
    // curl -d sends application/x-www-form-urlencoded; no header at all is also fine.
    for ct in [None, Some("application/x-www-form-urlencoded")] {
        let mut b = Request::post("/api/v1/awards").header(
            header::AUTHORIZATION,
            format!("Bearer {}", crate::helpers::TOKEN),
        );
        if let Some(ct) = ct {
            b = b.header(header::CONTENT_TYPE, ct);
        }
        let (s, _, bytes) = app
            .send(b.body(Body::from(body.to_string())).expect("request"))
            .await;
        assert_eq!(
            s,
            StatusCode::CREATED,
            "{ct:?}: {}",
            String::from_utf8_lossy(&bytes)
        );
    }
    // An empty body and broken JSON are 400 with a clear message; the wrong shape 422.
    for (raw, status, says) in [
        ("", StatusCode::BAD_REQUEST, "empty"),
        ("{", StatusCode::BAD_REQUEST, "not valid JSON"),
        (
            "{\"achievement_id\": 5}",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid type",
        ),
    ] {
        let (s, _, bytes) = app
            .send(
                Request::post("/api/v1/awards")
                    .header(
                        header::AUTHORIZATION,
                        format!("Bearer {}", crate::helpers::TOKEN),
                    )
                    .body(Body::from(raw))
                    .expect("request"),
            )
            .await;
        let v: Value = serde_json::from_slice(&bytes).expect("json error");
        assert_eq!(s, status, "{raw}: {v}");
        assert!(
            v["message"].as_str().expect("message").contains(says),
            "{raw}: {v}"
        );
    }
}

#[test]
fn docs_api_md_lists_every_endpoint_as_the_code_does() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/api.md"))
        .expect("docs/api.md");
    let start =
        doc.find("<!-- endpoints -->\n").expect("start marker") + "<!-- endpoints -->\n".len();
    let end = doc.find("<!-- /endpoints -->").expect("end marker");
    let tables = accolade::http::openapi::markdown();
    assert!(
        doc[start..end].trim() == tables.trim(),
        "docs/api.md is out of date: run `cargo run -- openapi --markdown` and paste it between the markers"
    );
    for (m, p) in accolade::http::all_routes() {
        let p = p.replace("{*rest}", "{rest}");
        assert!(
            doc.contains(&format!("| {m} | `{p}` |")),
            "{m} {p} missing from docs/api.md"
        );
    }
}
