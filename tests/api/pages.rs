//! The public pages: catalogue, achievement and badge pages, negotiation, baked
//! downloads, images, visibility, and the headers every page carries.

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use serde_json::{Value, json};

use crate::helpers::{HOLDER_DID, TOKEN, TestApp, sample_achievement_input};

const BROWSER: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

async fn get(app: &TestApp, path: &str, accept: Option<&str>) -> (StatusCode, HeaderMap, String) {
    let mut b = Request::builder().uri(path);
    if let Some(a) = accept {
        b = b.header(header::ACCEPT, a);
    }
    let (s, h, body) = app.send(b.body(Body::empty()).expect("req")).await;
    (s, h, String::from_utf8_lossy(&body).into_owned())
}

async fn get_bytes(app: &TestApp, path: &str) -> (StatusCode, HeaderMap, Vec<u8>) {
    let req = Request::builder()
        .uri(path)
        .body(Body::empty())
        .expect("req");
    let (s, h, body) = app.send(req).await;
    (s, h, body.to_vec())
}

async fn put_raw(app: &TestApp, path: &str, ct: &str, body: Vec<u8>) -> (StatusCode, Value) {
    let req = Request::builder()
        .method(Method::PUT)
        .uri(path)
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .header(header::CONTENT_TYPE, ct)
        .body(Body::from(body))
        .expect("req");
    let (s, _, b) = app.send(req).await;
    (s, serde_json::from_slice(&b).unwrap_or(Value::Null))
}

fn ct(h: &HeaderMap) -> &str {
    h.get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

fn key_of(id: &str) -> String {
    id.rsplit('/').next().expect("segment").to_owned()
}

async fn achievement(app: &TestApp, name: &str) -> String {
    let mut input = sample_achievement_input();
    input["name"] = json!(name);
    let (s, v) = app
        .admin(Method::POST, "/api/v1/achievements", Some(input))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v["id"].as_str().expect("id").to_owned()
}

async fn place(app: &TestApp, id: &str, badge_type: Option<&str>, featured: bool, order: i64) {
    let (s, v) = app
        .admin(
            Method::PUT,
            &format!("/api/v1/achievements/{}/catalogue", key_of(id)),
            Some(json!({"badge_type": badge_type, "featured": featured, "featured_order": order})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
}

async fn badge_type(app: &TestApp, id: &str, name: &str, order: i64) {
    let (s, v) = app
        .admin(
            Method::POST,
            "/api/v1/badge-types",
            Some(json!({"id": id, "name": name, "description": format!("{name} badges say so."), "order": order})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
}

/// The text of the element that carries `marker` (up to the next section).
fn section<'a>(html: &'a str, marker: &str) -> &'a str {
    let start = html
        .find(marker)
        .unwrap_or_else(|| panic!("{marker} missing"));
    let rest = &html[start..];
    let end = rest.find("</section>").unwrap_or(rest.len());
    &rest[..end]
}

fn attr_after<'a>(html: &'a str, marker: &str, attr: &str) -> &'a str {
    let at = html
        .find(marker)
        .unwrap_or_else(|| panic!("{marker} missing"));
    let tag_start = html[..at].rfind('<').expect("tag");
    let tag_end = at + html[at..].find('>').expect("tag end");
    let tag = &html[tag_start..tag_end];
    let key = format!("{attr}=\"");
    let v = tag
        .find(&key)
        .unwrap_or_else(|| panic!("{attr} missing in {tag}"))
        + key.len();
    &tag[v..v + tag[v..].find('"').expect("quote")]
}

fn unescape(s: &str) -> String {
    s.replace("&amp;", "&")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
}

#[tokio::test]
async fn the_catalogue_shows_featured_new_and_typed_badges_but_not_archived_ones() {
    let app = TestApp::new().await;
    badge_type(&app, "knowledge", "Knowledge", 1).await;
    badge_type(
        &app,
        "professional-certification",
        "Professional Certification",
        4,
    )
    .await;
    let a = achievement(&app, "Cloud Basics").await;
    app.clock.advance(10);
    let b = achievement(&app, "Cloud Architect").await;
    app.clock.advance(10);
    let c = achievement(&app, "Old Badge").await;
    place(&app, &a, Some("knowledge"), true, 2).await;
    place(&app, &b, Some("professional-certification"), true, 1).await;
    place(&app, &c, Some("knowledge"), false, 0).await;
    let (s, _) = app
        .admin(
            Method::POST,
            &format!("/api/v1/achievements/{}/archive", key_of(&c)),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);

    let (s, h, html) = get(&app, "/", Some(BROWSER)).await;
    assert_eq!(s, StatusCode::OK);
    assert!(ct(&h).starts_with("text/html"), "{}", ct(&h));
    let featured = section(&html, r#"data-section="featured""#);
    let (pa, pb) = (
        featured.find(&key_of(&a)).expect("a featured"),
        featured.find(&key_of(&b)).expect("b featured"),
    );
    assert!(pb < pa, "featured_order puts b first");
    let new = section(&html, r#"data-section="new""#);
    assert!(
        new.find(&key_of(&b)).expect("b new") < new.find(&key_of(&a)).expect("a new"),
        "newest first"
    );
    let knowledge = section(&html, r#"data-badge-type="knowledge""#);
    assert!(knowledge.contains(&key_of(&a)));
    assert!(knowledge.contains("Knowledge badges say so."));
    assert!(
        section(&html, r#"data-badge-type="professional-certification""#).contains(&key_of(&b))
    );
    assert!(
        !html.contains(&key_of(&c)),
        "archived achievements are not listed"
    );
    assert!(html.contains("What is an Open Badge?"));
}

#[tokio::test]
async fn every_page_carries_a_strict_policy_and_answers_errors_as_pages() {
    let app = TestApp::new().await;
    let (s, h, html) = get(&app, "/", Some(BROWSER)).await;
    assert_eq!(s, StatusCode::OK);
    let csp = h
        .get(header::CONTENT_SECURITY_POLICY)
        .and_then(|v| v.to_str().ok())
        .expect("csp");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(h.get(header::X_FRAME_OPTIONS).expect("xfo"), "DENY");
    assert_eq!(
        h.get(header::X_CONTENT_TYPE_OPTIONS).expect("nosniff"),
        "nosniff"
    );
    assert!(h.contains_key(header::REFERRER_POLICY));
    assert!(html.contains(r#"<html lang="en">"#));
    assert!(html.contains("<title>") && html.contains(r#"name="description""#));
    assert!(!html.contains("style=\""), "no inline style on pages");
    assert!(!html.contains("<script>"), "no inline script");

    let (s, h, html) = get(&app, "/no/such/page", Some(BROWSER)).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(ct(&h).starts_with("text/html"), "a browser gets a page");
    assert!(html.contains("noindex"));
    let (s, h, body) = get(&app, "/no/such/page", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(
        ct(&h).starts_with("application/json"),
        "API clients keep JSON"
    );
    assert!(body.contains("\"not_found\""));
    let (s, h, _) = get(&app, "/badges/00000000-0000-0000-0000-000000000000", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(
        ct(&h).starts_with("text/html"),
        "badge page errors are pages"
    );
    let (s, h, _) = get(&app, "/badges/not-a-uuid", Some(BROWSER)).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(ct(&h).starts_with("text/html"));

    for asset in [
        "/assets/style.css",
        "/assets/app.js",
        "/assets/theme.css",
        "/favicon.ico",
    ] {
        let (s, _, _) = get_bytes(&app, asset).await;
        assert_eq!(s, StatusCode::OK, "{asset}");
    }
}

#[tokio::test]
async fn an_achievement_negotiates_between_its_json_and_its_page() {
    let app = TestApp::new().await;
    let mut input = sample_achievement_input();
    input["criteria"] = json!({"narrative": "1. **Pass** the exam\n2. See [guide](https://example.org/g)\n\n<script>alert(1)</script>"});
    let (_, a) = app
        .admin(Method::POST, "/api/v1/achievements", Some(input))
        .await;
    let path = format!("/achievements/{}", key_of(a["id"].as_str().expect("id")));

    let (s, h, body) = get(&app, &path, None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        ct(&h).starts_with("application/json"),
        "the default stays JSON"
    );
    assert_eq!(h.get(header::VARY).expect("vary"), "Accept");
    assert_eq!(
        serde_json::from_str::<Value>(&body).expect("json")["id"],
        a["id"]
    );
    let (_, h, _) = get(&app, &path, Some("application/ld+json")).await;
    assert!(ct(&h).starts_with("application/ld+json"));

    let (s, h, html) = get(&app, &path, Some(BROWSER)).await;
    assert_eq!(s, StatusCode::OK);
    assert!(ct(&h).starts_with("text/html"));
    assert_eq!(h.get(header::VARY).expect("vary"), "Accept");
    assert!(html.contains("<strong>Pass</strong>"));
    assert!(html.contains(r#"<a href="https://example.org/g">guide</a>"#));
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "raw HTML shows as text"
    );
    assert!(
        html.contains("Cloud computing fundamentals"),
        "alignments are listed"
    );
    assert!(html.contains(r#"property="og:image""#));

    let (s, h, _) = get(
        &app,
        "/achievements/00000000-0000-0000-0000-000000000000",
        Some(BROWSER),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(ct(&h).starts_with("text/html"));
    let (s, h, _) = get(
        &app,
        "/achievements/00000000-0000-0000-0000-000000000000",
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(ct(&h).starts_with("application/json"));

    let (s, h, png) = get_bytes(&app, &format!("{path}/image.png")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(ct(&h), "image/png");
    assert!(png.starts_with(b"\x89PNG"));
}

async fn issued_badge(app: &TestApp) -> (String, String, Value) {
    let a = achievement(app, "Cloud Architect — Proficiency").await;
    let (s, award) = app
        .admin(
            Method::POST,
            "/api/v1/awards",
            Some(json!({
                "achievement_id": a,
                "recipient": {"name": "Ada Lovelace", "id": HOLDER_DID},
                "delivery": "direct",
                "valid_until": "2028-11-30T00:00:00Z"
            })),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{award}");
    let uuid = award["credential_id"]
        .as_str()
        .expect("id")
        .trim_start_matches("urn:uuid:")
        .to_owned();
    assert_eq!(
        award["badge_url"],
        json!(format!("{}/badges/{uuid}", app.public_url))
    );
    (
        uuid,
        award["credential"].as_str().expect("jwt").to_owned(),
        award,
    )
}

#[tokio::test]
async fn a_badge_page_shows_its_live_status_from_valid_to_suspended_to_revoked() {
    let app = TestApp::new().await;
    let (uuid, _, _) = issued_badge(&app).await;
    let path = format!("/badges/{uuid}");
    let (s, h, html) = get(&app, &path, None).await;
    assert_eq!(s, StatusCode::OK, "no Accept gets the page");
    assert!(ct(&h).starts_with("text/html"));
    assert_eq!(attr_after(&html, "data-status=", "data-status"), "valid");
    assert!(html.contains("Valid badge"));
    assert!(
        html.contains(r#"data-check="signature" data-outcome="pass""#),
        "{html}"
    );
    assert!(html.contains("Earned by"));
    assert!(html.contains("Ada Lovelace"));

    let (s, _) = app
        .admin(
            Method::POST,
            &format!("/api/v1/credentials/{uuid}/suspend"),
            Some(json!({"reason": "audit"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, _, html) = get(&app, &path, Some(BROWSER)).await;
    assert_eq!(
        attr_after(&html, "data-status=", "data-status"),
        "suspended"
    );
    let (s, _) = app
        .admin(
            Method::POST,
            &format!("/api/v1/credentials/{uuid}/revoke"),
            Some(json!({"reason": "fraud"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, _, html) = get(&app, &path, Some(BROWSER)).await;
    assert_eq!(
        attr_after(&html, "data-status=", "data-status"),
        "revoked",
        "revocation shows at once"
    );
    assert!(html.contains("Revoked"));
}

#[tokio::test]
async fn an_expired_badge_says_expired() {
    let app = TestApp::new().await;
    let (uuid, _, _) = issued_badge(&app).await;
    app.clock.advance(3 * 365 * 24 * 3600);
    let (_, _, html) = get(&app, &format!("/badges/{uuid}"), Some(BROWSER)).await;
    assert_eq!(attr_after(&html, "data-status=", "data-status"), "expired");
}

#[tokio::test]
async fn a_badge_downloads_baked_images_that_hold_exactly_its_jwt() {
    let app = TestApp::new().await;
    let (uuid, jwt, _) = issued_badge(&app).await;
    let (s, h, png) = get_bytes(&app, &format!("/badges/{uuid}/badge.png")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(ct(&h), "image/png");
    match accolade::bake::extract(accolade::bake::ImageKind::Png, &png).expect("baked png") {
        accolade::bake::Baked::Jwt(j) => assert_eq!(j, jwt),
        other => panic!("{other:?}"),
    }
    let (s, h, svg) = get_bytes(&app, &format!("/badges/{uuid}/badge.svg")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(ct(&h), "image/svg+xml");
    match accolade::bake::extract(accolade::bake::ImageKind::Svg, &svg).expect("baked svg") {
        accolade::bake::Baked::Jwt(j) => assert_eq!(j, jwt),
        other => panic!("{other:?}"),
    }
    let (_, _, body) = get(&app, &format!("/badges/{uuid}/credential.jwt"), None).await;
    assert_eq!(body, jwt);
    let (_, h, body) = get(&app, &format!("/badges/{uuid}"), Some("application/vc+jwt")).await;
    assert_eq!(ct(&h), "application/vc+jwt");
    assert_eq!(h.get(header::VARY).expect("vary"), "Accept");
    assert_eq!(body, jwt);
    let (_, h, body) = get(&app, &format!("/badges/{uuid}"), Some("application/json")).await;
    assert!(ct(&h).starts_with("application/json"));
    let cred: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(cred["id"], json!(format!("urn:uuid:{uuid}")));
    // The baked PNG verifies through the verify API as the badge itself.
    let req = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/verify")
        .header(header::CONTENT_TYPE, "image/png")
        .body(Body::from(png))
        .expect("req");
    let (s, _, report) = app.send(req).await;
    assert_eq!(s, StatusCode::OK);
    let report: Value = serde_json::from_slice(&report).expect("json");
    assert_eq!(report["verified"], true, "{report}");
}

#[tokio::test]
async fn add_to_linkedin_and_sharing_name_the_badge() {
    let app = TestApp::new().await;
    let (s, _) = app
        .admin(
            Method::PUT,
            "/api/v1/issuer",
            Some(json!({"name": "Northwind Institute", "url": "https://northwind.example"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (uuid, jwt, _) = issued_badge(&app).await;
    let (_, _, html) = get(&app, &format!("/badges/{uuid}"), Some(BROWSER)).await;
    let href = unescape(attr_after(&html, r#"data-share="linkedin-add""#, "href"));
    let u = url::Url::parse(&href).expect("url");
    assert_eq!(
        u.as_str().split('?').next(),
        Some("https://www.linkedin.com/profile/add")
    );
    let q: std::collections::HashMap<String, String> = u.query_pairs().into_owned().collect();
    let payload = crate::helpers::decode_jwt(&jwt).1;
    let from = time::OffsetDateTime::parse(
        payload["validFrom"].as_str().expect("validFrom"),
        &time::format_description::well_known::Rfc3339,
    )
    .expect("date");
    assert_eq!(q["startTask"], "CERTIFICATION_NAME");
    assert_eq!(q["name"], "Cloud Architect — Proficiency");
    assert_eq!(q["organizationName"], "Northwind Institute");
    assert_eq!(q["issueYear"], from.year().to_string());
    assert_eq!(q["issueMonth"], u8::from(from.month()).to_string());
    assert_eq!(q["expirationYear"], "2028");
    assert_eq!(q["expirationMonth"], "11");
    assert_eq!(q["certUrl"], format!("{}/badges/{uuid}", app.public_url));
    assert_eq!(q["certId"], uuid);
    for network in ["linkedin", "x", "facebook", "email"] {
        assert!(
            html.contains(&format!(r#"data-share="{network}""#)),
            "{network}"
        );
    }
    assert!(html.contains(r#"id="signature-html""#) && html.contains(r#"id="embed-html""#));
    assert!(html.contains(r#"property="og:image" content="https://badges.example.edu/badges/"#));

    // With a LinkedIn organisation id, the id replaces the name.
    let (s, v) = app
        .admin(
            Method::PUT,
            "/api/v1/issuer",
            Some(json!({"name": "Northwind Institute", "linkedin_organization_id": "424242"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (_, _, html) = get(&app, &format!("/badges/{uuid}"), Some(BROWSER)).await;
    let href = unescape(attr_after(&html, r#"data-share="linkedin-add""#, "href"));
    assert!(
        href.contains("organizationId=424242") && !href.contains("organizationName"),
        "{href}"
    );

    // The embed view may be framed; pages may not.
    let (s, h, _) = get(&app, &format!("/badges/{uuid}/embed"), None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(h.get(header::X_FRAME_OPTIONS).is_none());
    assert!(
        h[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .expect("csp")
            .contains("frame-ancestors *")
    );
}

#[tokio::test]
async fn a_hidden_badge_has_no_page_and_no_downloads_but_still_verifies() {
    let app = TestApp::new().await;
    let (uuid, jwt, _) = issued_badge(&app).await;
    let (s, v) = app
        .admin(
            Method::POST,
            &format!("/api/v1/credentials/{uuid}/hide"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (_, view) = app
        .admin(Method::GET, &format!("/api/v1/credentials/{uuid}"), None)
        .await;
    assert_eq!(view["public"], false);
    let (s, h, html) = get(&app, &format!("/badges/{uuid}"), Some(BROWSER)).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(ct(&h).starts_with("text/html"));
    assert!(html.contains("private"));
    assert!(html.contains(r#"name="robots" content="noindex"#));
    for form in ["badge.png", "badge.svg", "credential.jwt", "embed"] {
        let (s, _, _) = get_bytes(&app, &format!("/badges/{uuid}/{form}")).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{form}");
    }
    let (s, _, _) = get(&app, &format!("/badges/{uuid}"), Some("application/vc+jwt")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, report) = app.verify(json!(jwt)).await;
    assert_eq!(report["verified"], true);
    let (s, _) = app
        .admin(
            Method::POST,
            &format!("/api/v1/credentials/{uuid}/show"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _, _) = get(&app, &format!("/badges/{uuid}"), Some(BROWSER)).await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn the_issuer_can_hide_new_badge_pages_by_default() {
    let app = TestApp::new().await;
    let (s, v) = app
        .admin(
            Method::PUT,
            "/api/v1/issuer",
            Some(json!({"name": "Quiet Academy", "default_visibility": "hidden"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (uuid, _, _) = issued_badge(&app).await;
    let (s, _, _) = get(&app, &format!("/badges/{uuid}"), Some(BROWSER)).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    app.admin(
        Method::POST,
        &format!("/api/v1/credentials/{uuid}/show"),
        None,
    )
    .await;
    let (s, _, _) = get(&app, &format!("/badges/{uuid}"), Some(BROWSER)).await;
    assert_eq!(s, StatusCode::OK);
}

fn tiny_png() -> Vec<u8> {
    // A 2×2 RGBA PNG, built with the png crate the service also reads with.
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, 2, 2);
        enc.set_color(png::ColorType::Rgba);
        enc.set_depth(png::BitDepth::Eight);
        let mut w = enc.write_header().expect("header");
        w.write_image_data(&[200u8; 16]).expect("data");
    }
    out
}

#[tokio::test]
async fn uploaded_images_are_checked_kept_at_immutable_urls_and_baked() {
    let app = TestApp::new().await;
    let a = achievement(&app, "Image Badge").await;
    let path = format!("/api/v1/achievements/{}/image", key_of(&a));
    let png = tiny_png();
    let (s, v) = put_raw(&app, &path, "image/png", png.clone()).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let url = v["url"].as_str().expect("url").to_owned();
    assert!(
        url.starts_with("https://badges.example.edu/images/") && url.ends_with(".png"),
        "{url}"
    );
    let (s, h, bytes) = get_bytes(&app, url.trim_start_matches("https://badges.example.edu")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(bytes, png);
    assert!(
        h[header::CACHE_CONTROL]
            .to_str()
            .expect("cc")
            .contains("immutable")
    );
    let (_, ach) = app
        .admin(
            Method::GET,
            &format!("/api/v1/achievements/{}", key_of(&a)),
            None,
        )
        .await;
    assert_eq!(
        ach["image"]["id"],
        json!(url),
        "later awards carry the image URL"
    );

    // A badge of it bakes the uploaded PNG itself.
    let (_, award) = app
        .admin(
            Method::POST,
            "/api/v1/awards",
            Some(
                json!({"achievement_id": a, "recipient": {"id": HOLDER_DID}, "delivery": "direct"}),
            ),
        )
        .await;
    let uuid = award["credential_id"]
        .as_str()
        .expect("id")
        .trim_start_matches("urn:uuid:")
        .to_owned();
    let (_, _, baked) = get_bytes(&app, &format!("/badges/{uuid}/badge.png")).await;
    assert_eq!(&baked[..33], &png[..33], "same signature and IHDR");

    // SVG is sanitised.
    let svg = br##"<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10" onload="alert(1)"><script>alert(2)</script><rect width="10" height="10" fill="#123456"/></svg>"##;
    let (s, v) = put_raw(&app, &path, "image/svg+xml", svg.to_vec()).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (_, h, kept) = get(
        &app,
        v["url"]
            .as_str()
            .expect("url")
            .trim_start_matches("https://badges.example.edu"),
        None,
    )
    .await;
    assert_eq!(ct(&h), "image/svg+xml");
    assert!(
        !kept.contains("script") && !kept.contains("onload"),
        "{kept}"
    );
    assert!(kept.contains("rect"));

    // Wrong types and lies are refused, and nothing changes.
    let (s, v) = put_raw(&app, &path, "image/gif", b"GIF89a....".to_vec()).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (s, v) = put_raw(&app, &path, "image/svg+xml", png.clone()).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (s, _) = put_raw(&app, &path, "image/png", vec![0u8; 2 * 1024 * 1024]).await;
    assert!(
        s == StatusCode::PAYLOAD_TOO_LARGE || s == StatusCode::UNPROCESSABLE_ENTITY,
        "{s}"
    );
    let (s, v) = put_raw(
        &app,
        "/api/v1/achievements/00000000-0000-0000-0000-000000000000/image",
        "image/png",
        png,
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    let (s, _, _) = get_bytes(&app, &format!("/images/{}.png", "0".repeat(64))).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // The issuer's logo.
    let (s, v) = put_raw(&app, "/api/v1/issuer/image", "image/png", tiny_png()).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (_, issuer) = app.admin(Method::GET, "/api/v1/issuer", None).await;
    assert_eq!(issuer["image"]["id"], v["url"]);
}

#[tokio::test]
async fn badge_types_are_managed_and_checked() {
    let app = TestApp::new().await;
    let (s, t) = app
        .admin(
            Method::POST,
            "/api/v1/badge-types",
            Some(json!({"name": "Professional Certification", "order": 4})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{t}");
    assert_eq!(
        t["id"], "professional-certification",
        "the id is made from the name"
    );
    let (s, v) = app
        .admin(
            Method::POST,
            "/api/v1/badge-types",
            Some(json!({"id": "professional-certification", "name": "Again"})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (s, v) = app
        .admin(
            Method::POST,
            "/api/v1/badge-types",
            Some(json!({"id": "Bad Id", "name": "X"})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (s, v) = app
        .admin(
            Method::POST,
            "/api/v1/badge-types",
            Some(json!({"name": "X", "colour": "red"})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(
        v["message"].as_str().expect("msg").contains("colour"),
        "{v}"
    );
    let (s, t) = app
        .admin(
            Method::PUT,
            "/api/v1/badge-types/professional-certification",
            Some(json!({"name": "Certification", "description": "Proctored exams."})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{t}");
    assert_eq!(t["order"], 4, "an order left out is kept");
    let (_, list) = app.admin(Method::GET, "/api/v1/badge-types", None).await;
    assert_eq!(list["badge_types"][0]["name"], "Certification");

    let a = achievement(&app, "Typed").await;
    place(&app, &a, Some("professional-certification"), false, 0).await;
    let (s, v) = app
        .admin(
            Method::PUT,
            &format!("/api/v1/achievements/{}/catalogue", key_of(&a)),
            Some(json!({"badge_type": "nope"})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (s, _) = app
        .admin(
            Method::DELETE,
            "/api/v1/badge-types/professional-certification",
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, p) = app
        .admin(
            Method::GET,
            &format!("/api/v1/achievements/{}/catalogue", key_of(&a)),
            None,
        )
        .await;
    assert_eq!(
        p["badge_type"],
        Value::Null,
        "its achievements become untyped"
    );
    let (s, _) = app
        .admin(
            Method::DELETE,
            "/api/v1/badge-types/professional-certification",
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_issuer_colours_reach_the_pages_but_never_a_badge() {
    let app = TestApp::new().await;
    let (s, v) = app
        .admin(
            Method::PUT,
            "/api/v1/issuer",
            Some(
                json!({"name": "Northwind", "primary_color": "#1D4E89", "accent_color": "#f2a900"}),
            ),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (_, _, css) = get(&app, "/assets/theme.css", None).await;
    assert!(css.contains("--primary:#1d4e89"), "{css}");
    let (_, jwt, _) = issued_badge(&app).await;
    let payload = crate::helpers::decode_jwt(&jwt).1;
    assert!(
        !payload.to_string().contains("1d4e89"),
        "page settings are not signed"
    );
    let (s, v) = app
        .admin(
            Method::PUT,
            "/api/v1/issuer",
            Some(json!({"name": "N", "primary_color": "navy"})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
}

#[tokio::test]
async fn with_a_path_in_the_public_url_every_page_lives_under_it() {
    let app = TestApp::with(
        accolade::jose::Algorithm::ES256,
        "https://example.edu/badges",
    )
    .await;
    let (s, a) = app
        .admin(
            Method::POST,
            "/badges/api/v1/achievements",
            Some(sample_achievement_input()),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{a}");
    let (s, award) = app
        .admin(
            Method::POST,
            "/badges/api/v1/awards",
            Some(json!({"achievement_id": a["id"], "recipient": {"id": HOLDER_DID}, "delivery": "direct"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{award}");
    let uuid = award["credential_id"]
        .as_str()
        .expect("id")
        .trim_start_matches("urn:uuid:")
        .to_owned();
    assert_eq!(
        award["badge_url"],
        json!(format!("https://example.edu/badges/badges/{uuid}"))
    );
    for path in ["/badges", "/badges/"] {
        let (s, h, html) = get(&app, path, Some(BROWSER)).await;
        assert_eq!(s, StatusCode::OK, "{path}");
        assert!(ct(&h).starts_with("text/html"));
        assert!(
            html.contains("https://example.edu/badges/assets/style.css"),
            "{path}"
        );
    }
    let (s, _, html) = get(&app, &format!("/badges/badges/{uuid}"), Some(BROWSER)).await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains(&format!(
        "https://example.edu/badges/badges/{uuid}/badge.png"
    )));
    let (s, _, _) = get_bytes(&app, &format!("/badges/badges/{uuid}/badge.png")).await;
    assert_eq!(s, StatusCode::OK);
    let (s, h, _) = get(&app, "/badges/nowhere", Some(BROWSER)).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(ct(&h).starts_with("text/html"));
    let (s, h, _) = get(&app, "/elsewhere", Some(BROWSER)).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(ct(&h).starts_with("text/html"));
}
