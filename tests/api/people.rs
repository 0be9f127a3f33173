//! The earner's page and profile, and the employer's verify page.

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use serde_json::{Value, json};

use crate::helpers::{HOLDER_DID, PUBLIC_URL, TestApp};

async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> (StatusCode, HeaderMap, String) {
    let mut b = Request::builder().method(method).uri(path);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let (s, h, bytes) = app.send(b.body(Body::from(body)).expect("req")).await;
    (s, h, String::from_utf8_lossy(&bytes).into_owned())
}

fn local(url: &str) -> String {
    url.strip_prefix(PUBLIC_URL).expect("our URL").to_owned()
}

fn is_html(h: &HeaderMap) -> bool {
    h.get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("text/html"))
}

/// The value of `data-<name>="..."` on the element that carries `data-<key>="<value>"`.
fn attr_near(page: &str, anchor: &str, name: &str) -> Option<String> {
    let at = page.find(anchor)?;
    let start = page[..at].rfind('<')?;
    let end = at + page[at..].find('>')?;
    let tag = &page[start..end];
    let key = format!("{name}=\"");
    let i = tag.find(&key)? + key.len();
    Some(tag[i..i + tag[i..].find('"')?].to_owned())
}

fn attr(page: &str, name: &str) -> Option<String> {
    let key = format!("{name}=\"");
    let i = page.find(&key)? + key.len();
    Some(page[i..i + page[i..].find('"')?].to_owned())
}

async fn award(app: &TestApp, achievement: &Value, recipient: Value, extra: Value) -> Value {
    let mut body = json!({"achievement_id": achievement["id"], "recipient": recipient});
    for (k, v) in extra.as_object().expect("object") {
        body[k] = v.clone();
    }
    let (s, v) = app.admin(Method::POST, "/api/v1/awards", Some(body)).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v
}

async fn accept(app: &TestApp, a: &Value) {
    let path = format!(
        "{}/accept",
        local(a["claim_url"].as_str().expect("claim_url"))
    );
    let body = format!("tx_code={}", a["tx_code"].as_str().expect("tx"));
    let (s, _, _) = send(
        app,
        Method::POST,
        &path,
        &[("content-type", "application/x-www-form-urlencoded")],
        body.into_bytes(),
    )
    .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
}

async fn manage(app: &TestApp, earner_url: &str, form: &str) -> (StatusCode, HeaderMap, String) {
    send(
        app,
        Method::POST,
        &local(earner_url),
        &[
            ("content-type", "application/x-www-form-urlencoded"),
            ("origin", PUBLIC_URL),
        ],
        form.as_bytes().to_vec(),
    )
    .await
}

fn uuid_of(a: &Value) -> String {
    a["credential_id"]
        .as_str()
        .expect("id")
        .trim_start_matches("urn:uuid:")
        .to_owned()
}

#[tokio::test]
async fn the_earner_page_lists_the_same_recipient_and_its_link_is_checked() {
    let app = TestApp::new().await;
    let ach = app.create_achievement().await;
    let grace = json!({"name": "Grace Hopper", "email": "Grace@Example.org"});
    let a1 = award(&app, &ach, grace.clone(), json!({})).await;
    // The same address (case aside) and the same DID named on an award of hers.
    let a2 = award(
        &app,
        &ach,
        json!({"email": "grace@example.org", "id": HOLDER_DID}),
        json!({"delivery": "direct"}),
    )
    .await;
    let a3 = award(
        &app,
        &ach,
        json!({"id": HOLDER_DID}),
        json!({"delivery": "direct"}),
    )
    .await;
    let other = award(&app, &ach, json!({"email": "alan@example.org"}), json!({})).await;
    let url = a1["earner_url"]
        .as_str()
        .expect("earner_url in the award answer");
    assert!(url.starts_with(&format!("{PUBLIC_URL}/earner/{}/", uuid_of(&a1))));
    assert!(a2["earner_url"].is_string() && other["earner_url"].is_string());
    assert_ne!(url, other["earner_url"].as_str().expect("url"));
    // The listing answers carry it too.
    let (_, view) = app
        .admin(
            Method::GET,
            &format!("/api/v1/credentials/{}", uuid_of(&a1)),
            None,
        )
        .await;
    assert_eq!(view["earner_url"], url);

    let (s, h, page) = send(&app, Method::GET, &local(url), &[], Vec::new()).await;
    assert_eq!(s, StatusCode::OK);
    assert!(is_html(&h));
    assert!(page.contains("noindex"), "the manage page is private");
    for a in [&a1, &a2, &a3] {
        assert!(
            page.contains(&format!("data-badge=\"{}\"", uuid_of(a))),
            "missing {}",
            uuid_of(a)
        );
    }
    assert!(
        !page.contains(&uuid_of(&other)),
        "another earner's badge is listed"
    );
    assert_eq!(
        attr_near(
            &page,
            &format!("data-badge=\"{}\"", uuid_of(&a1)),
            "data-standing"
        )
        .as_deref(),
        Some("offered")
    );
    assert_eq!(
        attr_near(
            &page,
            &format!("data-badge=\"{}\"", uuid_of(&a2)),
            "data-standing"
        )
        .as_deref(),
        Some("issued")
    );

    // A wrong link: the plain "not valid" page.
    let wrong = format!("{}x", &url[..url.len() - 1]);
    let (s, h, page) = send(&app, Method::GET, &local(&wrong), &[], Vec::new()).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(is_html(&h) && page.contains("This link is not valid"));
    let (s, _, _) = manage(&app, &wrong, "action=publish").await;
    assert_eq!(s, StatusCode::NOT_FOUND, "a wrong link changes nothing");

    // Renewed by the admin: the old link is no longer valid, the new one is.
    let (s, r) = app
        .admin(
            Method::POST,
            &format!("/api/v1/credentials/{}/earner-link", uuid_of(&a1)),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let renewed = r["earner_url"].as_str().expect("earner_url");
    assert_ne!(renewed, url);
    let (s, _, page) = send(&app, Method::GET, &local(url), &[], Vec::new()).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(page.contains("This link is not valid"));
    let (s, _, _) = send(&app, Method::GET, &local(renewed), &[], Vec::new()).await;
    assert_eq!(s, StatusCode::OK);
    // Every award of hers now links the renewed page; the secret is not stored.
    let (_, view) = app
        .admin(
            Method::GET,
            &format!("/api/v1/credentials/{}", uuid_of(&a2)),
            None,
        )
        .await;
    let via_a2 = view["earner_url"].as_str().expect("url");
    let (s, _, _) = send(&app, Method::GET, &local(via_a2), &[], Vec::new()).await;
    assert_eq!(s, StatusCode::OK);
    let mac = renewed.rsplit('/').next().expect("mac");
    assert!(
        !app.data_dir_contains(mac.as_bytes()).await,
        "the manage secret is on disk"
    );
}

#[tokio::test]
async fn hiding_and_publishing_from_the_earner_page() {
    let app = TestApp::new().await;
    let ach = app.create_achievement().await;
    let grace = json!({"name": "Grace Hopper", "email": "grace@example.org"});
    let a1 = award(&app, &ach, grace.clone(), json!({})).await;
    let a2 = award(&app, &ach, grace.clone(), json!({})).await;
    accept(&app, &a1).await;
    accept(&app, &a2).await;
    let url = a1["earner_url"].as_str().expect("earner_url");
    let (u1, u2) = (uuid_of(&a1), uuid_of(&a2));

    // A post from another site is refused.
    let (s, _, _) = send(
        &app,
        Method::POST,
        &local(url),
        &[
            ("content-type", "application/x-www-form-urlencoded"),
            ("origin", "https://evil.example"),
        ],
        format!("action=hide&badge={u1}").into_bytes(),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    let (s, h, _) = manage(&app, url, &format!("action=hide&badge={u1}")).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let to = h
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .expect("location");
    assert!(to.contains("done=hide"), "{to}");
    let (s, _, page) = send(&app, Method::GET, &format!("/badges/{u1}"), &[], Vec::new()).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(page.contains("This badge is private"));
    let (_, view) = app
        .admin(Method::GET, &format!("/api/v1/credentials/{u1}"), None)
        .await;
    assert_eq!(view["public"], false, "{view}");

    // A badge that is not hers cannot be touched through her link.
    let other = award(
        &app,
        &ach,
        json!({"id": HOLDER_DID}),
        json!({"delivery": "direct"}),
    )
    .await;
    let (s, _, _) = manage(&app, url, &format!("action=hide&badge={}", uuid_of(&other))).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, _, _) = send(
        &app,
        Method::GET,
        &format!("/badges/{}", uuid_of(&other)),
        &[],
        Vec::new(),
    )
    .await;
    assert_eq!(s, StatusCode::OK);

    // A profile: bad names refused with a message, unpublished → 404.
    let (s, _, page) = manage(&app, url, "action=profile&handle=-no-").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("data-notice=\"error\""));
    let (s, _, _) = manage(&app, url, "action=profile&handle=grace-h&headline=Engineer").await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let (s, h, page) = send(&app, Method::GET, "/profiles/grace-h", &[], Vec::new()).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(is_html(&h) && page.contains("noindex"));
    let (s, _, _) = manage(&app, url, "action=publish").await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let (s, _, page) = send(&app, Method::GET, "/profiles/grace-h", &[], Vec::new()).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        page.contains(&format!("data-badge=\"{u2}\"")),
        "the public badge is listed"
    );
    assert!(!page.contains(&u1), "the hidden badge is not");
    assert!(page.contains("og:title") && !page.contains("noindex"));
    assert!(page.contains("Grace Hopper") && page.contains("Engineer"));

    // Another earner cannot take the name.
    let alan = award(&app, &ach, json!({"email": "alan@example.org"}), json!({})).await;
    let (s, _, page) = manage(
        &app,
        alan["earner_url"].as_str().expect("url"),
        "action=profile&handle=GRACE-H",
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert!(page.contains("data-notice=\"error\""));

    // Left off the profile, then withdrawn.
    let (s, _, _) = manage(&app, url, &format!("action=exclude&badge={u2}")).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let (_, _, page) = send(&app, Method::GET, "/profiles/grace-h", &[], Vec::new()).await;
    assert!(!page.contains(&u2));
    let (s, _, _) = manage(&app, url, "action=unpublish").await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let (s, _, _) = send(&app, Method::GET, "/profiles/grace-h", &[], Vec::new()).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // Shown again.
    let (s, _, _) = manage(&app, url, &format!("action=show&badge={u1}")).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let (s, _, _) = send(&app, Method::GET, &format!("/badges/{u1}"), &[], Vec::new()).await;
    assert_eq!(s, StatusCode::OK);
}

/// A form field: name, (file name, content type) for a file, value.
type Field<'a> = (&'a str, Option<(&'a str, &'a str)>, &'a [u8]);

fn multipart(fields: &[Field<'_>]) -> (String, Vec<u8>) {
    let boundary = "----accolade-test-boundary";
    let mut body = Vec::new();
    for (name, file, bytes) in fields {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match file {
            Some((filename, ct)) => body.extend_from_slice(
                format!(
                    "Content-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\nContent-Type: {ct}\r\n\r\n"
                )
                .as_bytes(),
            ),
            None => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
            ),
        }
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn verify_page(app: &TestApp, fields: &[Field<'_>]) -> String {
    let (ct, body) = multipart(fields);
    let (s, h, page) = send(app, Method::POST, "/verify", &[("content-type", &ct)], body).await;
    assert_eq!(s, StatusCode::OK, "the result page always answers 200");
    assert!(is_html(&h));
    page
}

#[tokio::test]
async fn the_verify_page_answers_in_words_for_every_kind_of_input() {
    let app = TestApp::new().await;
    let (s, h, page) = send(&app, Method::GET, "/verify", &[], Vec::new()).await;
    assert_eq!(s, StatusCode::OK);
    assert!(is_html(&h));
    assert!(page.contains("type=\"file\""));
    assert!(
        !page.contains("data-verdict"),
        "no verdict before anything is given"
    );

    let jwt = app.issue_badge().await;
    let id = decode_id(&jwt);
    let page = verify_page(
        &app,
        &[
            ("method", None, b"paste"),
            ("credential", None, jwt.as_bytes()),
        ],
    )
    .await;
    assert_eq!(attr(&page, "data-verdict").as_deref(), Some("authentic"));
    assert_eq!(attr(&page, "data-trust").as_deref(), Some("listed"));
    assert!(page.contains("Authentic badge"));

    // The same badge baked into its PNG, uploaded.
    let (s, _, png) = app_bytes(&app, &format!("/badges/{id}/badge.png")).await;
    assert_eq!(s, StatusCode::OK);
    let page = verify_page(
        &app,
        &[
            ("method", None, b"upload"),
            ("file", Some(("badge.png", "image/png")), &png),
        ],
    )
    .await;
    assert_eq!(attr(&page, "data-verdict").as_deref(), Some("authentic"));

    // Its page's address, and the address with the wrong e-mail: the recipient check.
    let url = format!("{PUBLIC_URL}/badges/{id}");
    let page = verify_page(
        &app,
        &[("method", None, b"url"), ("url", None, url.as_bytes())],
    )
    .await;
    assert_eq!(attr(&page, "data-verdict").as_deref(), Some("authentic"));

    // Revoked: not authentic, and the status line says why.
    let (s, v) = app
        .admin(
            Method::POST,
            &format!("/api/v1/credentials/{id}/revoke"),
            Some(json!({"reason": "test"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let page = verify_page(
        &app,
        &[
            ("method", None, b"upload"),
            ("file", Some(("badge.png", "image/png")), &png),
        ],
    )
    .await;
    assert_eq!(
        attr(&page, "data-verdict").as_deref(),
        Some("not-authentic")
    );
    assert_eq!(
        attr_near(&page, "data-check=\"status\"", "data-outcome").as_deref(),
        Some("fail")
    );

    // Garbage in every form: cannot tell, a friendly line, never JSON.
    for fields in [
        vec![
            ("method", None, &b"paste"[..]),
            ("credential", None, &b"hello there"[..]),
        ],
        vec![
            ("method", None, &b"paste"[..]),
            ("credential", None, &b"{\"not\": "[..]),
        ],
        vec![
            ("method", None, &b"upload"[..]),
            (
                "file",
                Some(("cat.png", "image/png")),
                &b"GIF89a not a png"[..],
            ),
        ],
        vec![
            ("method", None, &b"upload"[..]),
            (
                "file",
                Some(("notes.txt", "text/plain")),
                &b"plain text"[..],
            ),
        ],
        vec![
            ("method", None, &b"url"[..]),
            ("url", None, &b"not a url"[..]),
        ],
        vec![
            ("method", None, &b"url"[..]),
            (
                "url",
                None,
                format!("{PUBLIC_URL}/badges/00000000-0000-0000-0000-000000000000").as_bytes(),
            ),
        ],
    ] {
        let page = verify_page(&app, &fields).await;
        assert_eq!(attr(&page, "data-verdict").as_deref(), Some("cannot-tell"));
        assert!(page.contains("data-problem=\"input\""), "no friendly line");
        assert!(!page.trim_start().starts_with('{'));
    }

    // Not multipart at all: still the page.
    let (s, h, page) = send(
        &app,
        Method::POST,
        "/verify",
        &[("content-type", "application/json")],
        b"{}".to_vec(),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert!(is_html(&h) && page.contains("data-verdict=\"cannot-tell\""));
}

#[tokio::test]
async fn the_verify_page_checks_the_address_the_employer_gives() {
    let app = TestApp::new().await;
    let ach = app.create_achievement().await;
    let a = award(
        &app,
        &ach,
        json!({"name": "Grace Hopper", "email": "grace@example.org"}),
        json!({}),
    )
    .await;
    accept(&app, &a).await;
    let url = format!("{PUBLIC_URL}/badges/{}", uuid_of(&a));
    let page = verify_page(
        &app,
        &[
            ("method", None, b"url"),
            ("url", None, url.as_bytes()),
            ("email", None, b"grace@example.org"),
        ],
    )
    .await;
    assert_eq!(attr(&page, "data-verdict").as_deref(), Some("authentic"));
    assert_eq!(
        attr_near(&page, "data-check=\"recipient\"", "data-outcome").as_deref(),
        Some("pass")
    );
    assert!(
        page.contains("Grace Hopper"),
        "the earner's name from the badge"
    );
    let page = verify_page(
        &app,
        &[
            ("method", None, b"url"),
            ("url", None, url.as_bytes()),
            ("email", None, b"alan@example.org"),
        ],
    )
    .await;
    assert_eq!(
        attr(&page, "data-verdict").as_deref(),
        Some("not-authentic")
    );
}

#[tokio::test]
async fn the_wallet_form_needs_its_token_and_our_origin() {
    let app = TestApp::new().await;
    let (s, h, page) = send(&app, Method::GET, "/verify", &[], Vec::new()).await;
    assert_eq!(s, StatusCode::OK);
    let cookie = h
        .get(header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .expect("the page sets its form cookie")
        .to_owned();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    assert!(cookie.contains("Secure"), "the public URL is https");
    let pair = cookie.split(';').next().expect("pair").to_owned();
    let token = attr_near(&page, "name=\"csrf\"", "value").expect("form token");
    let form = format!("csrf={token}");
    let post = |headers: Vec<(&'static str, String)>, body: String| {
        let app = &app;
        async move {
            let hs: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            send(app, Method::POST, "/verify/wallet", &hs, body.into_bytes()).await
        }
    };
    let ct = (
        "content-type",
        "application/x-www-form-urlencoded".to_owned(),
    );
    // No cookie, a wrong token, another site: refused, nothing stored.
    let (s, _, _) = post(vec![ct.clone()], form.clone()).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _, _) = post(
        vec![ct.clone(), ("cookie", pair.clone())],
        "csrf=wrong".into(),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _, _) = post(
        vec![
            ct.clone(),
            ("cookie", pair.clone()),
            ("origin", "https://evil.example".into()),
        ],
        form.clone(),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // Ours: a presentation request, and its page.
    let (s, h, _) = post(
        vec![
            ct.clone(),
            ("cookie", pair.clone()),
            ("origin", PUBLIC_URL.into()),
        ],
        form.clone(),
    )
    .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let to = h
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .expect("location");
    let path = local(to.split('#').next().expect("path"));
    let (s, _, page) = send(&app, Method::GET, &path, &[], Vec::new()).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        attr(&page, "data-request-state").as_deref(),
        Some("pending")
    );
    let link = attr_near(&page, "data-link=\"request\"", "href").expect("link");
    assert!(link.starts_with("openid4vp://"), "{link}");
    let id = path.rsplit('/').next().expect("id");
    let (s, v) = app
        .call(
            Method::GET,
            &format!("/api/v1/presentation-requests/{id}"),
            None,
            false,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["state"], "pending");
    assert_eq!(
        link.replace("&amp;", "&"),
        v["authorization_request"].as_str().expect("link")
    );
    let (s, _, _) = send(
        &app,
        Method::GET,
        "/verify/wallet/not-a-request",
        &[],
        Vec::new(),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

fn decode_id(jwt: &str) -> String {
    let (_, payload, _) = crate::helpers::decode_jwt(jwt);
    payload["jti"]
        .as_str()
        .expect("jti")
        .trim_start_matches("urn:uuid:")
        .to_owned()
}

async fn app_bytes(app: &TestApp, path: &str) -> (StatusCode, HeaderMap, Vec<u8>) {
    let req = Request::builder()
        .uri(path)
        .body(Body::empty())
        .expect("req");
    let (s, h, b) = app.send(req).await;
    (s, h, b.to_vec())
}

/// The earner's page downloads the chosen badges as one CLR 2.0 learner record (JSON
/// with a Data Integrity proof, or a JWT) that the verifier accepts with every badge;
/// a published profile offers all its badges the same way.
#[tokio::test]
async fn the_earner_downloads_a_learner_record_of_the_chosen_badges() {
    let app = TestApp::new().await;
    let mut ids = Vec::new();
    let mut url = String::new();
    for name in ["Knowledge", "Skill", "Proficiency"] {
        let mut input = crate::helpers::sample_achievement_input();
        input["name"] = json!(name);
        let (_, ach) = app
            .admin(Method::POST, "/api/v1/achievements", Some(input))
            .await;
        let a = award(
            &app,
            &ach,
            json!({"name": "Grace Hopper", "email": "grace@example.org", "id": HOLDER_DID}),
            json!({"delivery": "direct"}),
        )
        .await;
        ids.push(uuid_of(&a));
        url = a["earner_url"].as_str().expect("earner_url").to_owned();
    }
    let (s, _, page) = send(&app, Method::GET, &local(&url), &[], Vec::new()).await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("data-section=\"clr\""), "{page}");
    assert_eq!(page.matches("type=\"checkbox\" name=\"badge\"").count(), 3);

    let path = format!(
        "{}/clr?badge={}&badge={}&format=json",
        local(&url),
        ids[0],
        ids[2]
    );
    let (s, h, body) = send(&app, Method::GET, &path, &[], Vec::new()).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(h[header::CONTENT_TYPE], "application/vc");
    assert!(
        h[header::CONTENT_DISPOSITION]
            .to_str()
            .expect("ascii")
            .contains("learner-record.json")
    );
    let clr: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(
        clr["type"],
        json!(["VerifiableCredential", "ClrCredential"])
    );
    assert_eq!(clr["partial"], true, "one of three badges left out");
    assert_eq!(clr["credentialSubject"]["id"], HOLDER_DID);
    let bundled: Vec<String> = clr["credentialSubject"]["verifiableCredential"]
        .as_array()
        .expect("list")
        .iter()
        .map(|c| {
            c["id"]
                .as_str()
                .expect("id")
                .trim_start_matches("urn:uuid:")
                .to_owned()
        })
        .collect();
    let mut want = vec![ids[0].clone(), ids[2].clone()];
    want.sort();
    let mut got = bundled.clone();
    got.sort();
    assert_eq!(got, want);
    let (_, r) = app.verify(clr.clone()).await;
    assert_eq!(r["verified"], true, "{r}");
    assert_eq!(outcome_of(&r, "credentials"), Some("pass"));

    // As a JWT, all badges (none chosen).
    let path = format!("{}/clr?format=jwt", local(&url));
    let (s, h, jwt) = send(&app, Method::GET, &path, &[], Vec::new()).await;
    assert_eq!(s, StatusCode::OK, "{jwt}");
    assert_eq!(h[header::CONTENT_TYPE], "application/jwt");
    let (_, r) = app.verify(json!(jwt)).await;
    assert_eq!(r["verified"], true, "{r}");
    assert_eq!(r["credentials"].as_array().map(Vec::len), Some(3));

    // A wrong link or a bad parameter: an HTML error page, nothing signed.
    let wrong = format!("{}x/clr", local(&url));
    let (s, h, _) = send(&app, Method::GET, &wrong, &[], Vec::new()).await;
    assert!(s.is_client_error() && is_html(&h), "{s}");
    let bad = format!("{}/clr?format=pdf", local(&url));
    let (s, h, _) = send(&app, Method::GET, &bad, &[], Vec::new()).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(is_html(&h));

    // The published profile offers its badges as one record.
    manage(&app, &url, "action=profile&handle=grace-h").await;
    manage(&app, &url, "action=publish").await;
    let (s, _, page) = send(&app, Method::GET, "/profiles/grace-h", &[], Vec::new()).await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("data-download=\"clr\""), "{page}");
    let (s, _, body) = send(
        &app,
        Method::GET,
        "/profiles/grace-h/clr?format=json",
        &[],
        Vec::new(),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let clr: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(clr["partial"], false);
    let (_, r) = app.verify(clr).await;
    assert_eq!(r["verified"], true, "{r}");
}

fn outcome_of<'a>(r: &'a Value, check: &str) -> Option<&'a str> {
    crate::helpers::outcome(r, check)
}
