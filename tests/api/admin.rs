//! The admin API.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::{Value, json};

use crate::helpers::*;

#[tokio::test]
async fn every_admin_route_answers_401_without_or_with_a_wrong_token() {
    let app = TestApp::new().await;
    let routes = accolade::http::admin_routes();
    assert!(routes.len() >= 11, "{routes:?}");
    for (method, template) in routes {
        let path = template.replace("{id}", "urn:uuid:00000000-0000-4000-8000-000000000000");
        for auth in [
            None,
            Some("Bearer wrong-token"),
            Some("Basic dGVzdA=="),
            Some(TOKEN),
        ] {
            let mut b = Request::builder().method(method.clone()).uri(&path);
            if let Some(a) = auth {
                b = b.header(header::AUTHORIZATION, a);
            }
            let (s, h, body) = app.send(b.body(Body::from("{}")).expect("req")).await;
            assert_eq!(s, StatusCode::UNAUTHORIZED, "{method} {path} with {auth:?}");
            assert!(h.get(header::WWW_AUTHENTICATE).is_some());
            let v: Value = serde_json::from_slice(&body).expect("json error body");
            assert_eq!(v["error"], json!("unauthorized"));
        }
    }
}

#[tokio::test]
async fn healthz_and_unknown_routes() {
    let app = TestApp::new().await;
    let (s, v) = app.call(Method::GET, "/healthz", None, false).await;
    assert_eq!((s, v["status"].as_str()), (StatusCode::OK, Some("ok")));
    let (s, v) = app.call(Method::GET, "/nope", None, false).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(v["error"], json!("not_found"));
}

#[tokio::test]
async fn issuer_profile_round_trips_and_feeds_badges() {
    let app = TestApp::new().await;
    let (s, v) = app.admin(Method::GET, "/api/v1/issuer", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["id"], json!(DID));
    assert_eq!(v["name"], json!("badges.example.edu"));

    let (s, v) = app
        .admin(
            Method::PUT,
            "/api/v1/issuer",
            Some(
                json!({"name": "Example Cloud Academy", "url": "https://academy.example.com",
                "email": "badges@academy.example.com", "description": "Vendor certifications",
                "image": "https://academy.example.com/logo.png"}),
            ),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    // GET-modify-PUT works (the id comes back and is accepted).
    let (_, mut got) = app.admin(Method::GET, "/api/v1/issuer", None).await;
    got["description"] = json!("Vendor certifications, since 2010");
    let (s, v) = app.admin(Method::PUT, "/api/v1/issuer", Some(got)).await;
    assert_eq!(s, StatusCode::OK, "{v}");

    let jwt = app.issue_badge().await;
    let (_, payload, _) = decode_jwt(&jwt);
    assert_eq!(payload["issuer"]["name"], json!("Example Cloud Academy"));
    assert_eq!(payload["issuer"]["id"], json!(DID));
    assert_eq!(
        payload["issuer"]["image"],
        json!({"id": "https://academy.example.com/logo.png", "type": "Image"})
    );

    let (s, v) = app
        .admin(Method::PUT, "/api/v1/issuer", Some(json!({"name": ""})))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(v["message"].as_str().expect("msg").starts_with("name"));
    let (s, _) = app
        .admin(
            Method::PUT,
            "/api/v1/issuer",
            Some(json!({"name": "x", "id": "did:web:evil"})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    // The type a profile has may be sent back; another is refused, and nothing changes.
    let types = [
        (json!("Profile"), StatusCode::OK),
        (json!(["Profile"]), StatusCode::OK),
        (json!("Achievement"), StatusCode::UNPROCESSABLE_ENTITY),
        (
            json!(["Profile", "Issuer"]),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (json!(7), StatusCode::UNPROCESSABLE_ENTITY),
        (json!([]), StatusCode::UNPROCESSABLE_ENTITY),
    ];
    for (t, want) in types {
        let name = if want == StatusCode::OK {
            "Example Cloud Academy"
        } else {
            "Renamed"
        };
        let (s, v) = app
            .admin(
                Method::PUT,
                "/api/v1/issuer",
                Some(json!({"name": name, "type": t})),
            )
            .await;
        assert_eq!(s, want, "{t}: {v}");
        if want != StatusCode::OK {
            assert!(
                v["message"].as_str().expect("msg").starts_with("type"),
                "{v}"
            );
        }
    }
    let (_, now) = app.admin(Method::GET, "/api/v1/issuer", None).await;
    assert_eq!(now["name"], json!("Example Cloud Academy"));
}

#[tokio::test]
async fn achievements_are_created_read_by_full_or_short_id_updated_and_archived() {
    let app = TestApp::new().await;
    let a = app.create_achievement().await;
    let id = a["id"].as_str().expect("id");
    assert!(
        id.starts_with("https://badges.example.edu/achievements/"),
        "{id}"
    );
    assert_eq!(a["type"], json!(["Achievement"]));
    assert_eq!(a["tag"], json!(["cloud", "knowledge"]));
    let short = id.rsplit('/').next().expect("segment");

    let (s, by_short) = app
        .admin(Method::GET, &format!("/api/v1/achievements/{short}"), None)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(by_short, a);
    let encoded: String = url::form_urlencoded::byte_serialize(id.as_bytes()).collect();
    let (s, by_full) = app
        .admin(
            Method::GET,
            &format!("/api/v1/achievements/{encoded}"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{by_full}");
    assert_eq!(by_full, a);
    // The id URL dereferences publicly.
    let (s, public) = app
        .call(Method::GET, &format!("/achievements/{short}"), None, false)
        .await;
    assert_eq!((s, &public), (StatusCode::OK, &a));

    let (_, list) = app.admin(Method::GET, "/api/v1/achievements", None).await;
    assert_eq!(list["achievements"].as_array().map(Vec::len), Some(1));

    // Update: later awards see the change; an earlier badge keeps what it was signed with.
    let before = app.award_direct(id, HOLDER_DID).await;
    let mut changed = sample_achievement_input();
    changed["name"] = json!("Cloud Practitioner — Knowledge (2027)");
    let (s, updated) = app
        .admin(
            Method::PUT,
            &format!("/api/v1/achievements/{short}"),
            Some(changed),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{updated}");
    assert_eq!(updated["id"], json!(id));
    let after = app.award_direct(id, HOLDER_DID).await;
    let name = |award: &Value| {
        decode_jwt(award["credential"].as_str().expect("jwt")).1["credentialSubject"]["achievement"]
            ["name"]
            .clone()
    };
    assert_eq!(name(&before), json!("Cloud Practitioner — Knowledge"));
    assert_eq!(name(&after), json!("Cloud Practitioner — Knowledge (2027)"));

    let (s, _) = app
        .admin(
            Method::POST,
            &format!("/api/v1/achievements/{short}/archive"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, v) = app
        .admin(
            Method::POST,
            "/api/v1/awards",
            Some(json!({"achievement_id": id, "recipient": {"email": "x@example.org"}})),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["error"], json!("achievement_archived"));
    let (_, list) = app.admin(Method::GET, "/api/v1/achievements", None).await;
    assert_eq!(list["achievements"].as_array().map(Vec::len), Some(0));
    let (_, list) = app
        .admin(
            Method::GET,
            "/api/v1/achievements?include_archived=true",
            None,
        )
        .await;
    assert_eq!(list["achievements"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn bad_achievement_input_gets_a_clear_error_and_stores_nothing() {
    let app = TestApp::new().await;
    let cases = [
        (
            json!({"description": "d", "criteria": {"narrative": "n"}}),
            "name",
        ),
        (json!({"name": "n", "description": "d"}), "criteria"),
        (
            json!({"name": "n", "description": "d", "criteria": "c", "achievementType": "Skill"}),
            "achievementType",
        ),
        (
            json!({"name": "n", "description": "d", "criteria": "c", "alignment": [{"targetName": "x"}]}),
            "targetUrl",
        ),
        (json!([1, 2]), "object"),
        // Members that are not OB 3.0 properties are refused by name, not signed.
        (
            json!({"name": "n", "description": "d", "criteria": "c", "achievment_type": "Badge"}),
            "did you mean \"achievementType\"",
        ),
        (
            json!({"name": "n", "description": "d", "criteria": "c", "colour": "red"}),
            "\"colour\" is not a property of Achievement",
        ),
        (
            json!({"name": "n", "description": "d", "criteria": {"narrative": "n", "narative": "x"}}),
            "/criteria/narative",
        ),
    ];
    for (body, needle) in cases {
        let (s, v) = app
            .admin(Method::POST, "/api/v1/achievements", Some(body))
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
        assert!(
            v["message"].as_str().expect("message").contains(needle),
            "{needle}: {v}"
        );
    }
    let req = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/achievements")
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .body(Body::from("{not json"))
        .expect("req");
    let (s, _, body) = app.send(req).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let v: Value = serde_json::from_slice(&body).expect("json error");
    assert_eq!(v["error"], json!("bad_request"));
    let (_, list) = app.admin(Method::GET, "/api/v1/achievements", None).await;
    assert_eq!(list["achievements"], json!([]));
}

#[tokio::test]
async fn extension_terms_pass_strict_achievement_input_and_are_signed() {
    let app = TestApp::new().await;
    let (s, a) = app
        .admin(
            Method::POST,
            "/api/v1/achievements",
            Some(json!({
                "name": "n", "description": "d", "criteria": "c",
                "ext:programme": "Cloud", "https://example.org/terms#level": 2,
            })),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{a}");
    assert_eq!(a["ext:programme"], "Cloud");
    assert_eq!(a["https://example.org/terms#level"], 2);
}

#[tokio::test]
async fn an_email_only_award_is_offered_and_a_did_award_can_be_direct() {
    let app = TestApp::new().await;
    let a = app.create_achievement().await;
    let id = a["id"].as_str().expect("id");
    let (s, v) = app
        .admin(
            Method::POST,
            "/api/v1/awards",
            Some(json!({"achievement_id": id, "recipient": {"name": "Grace Hopper", "email": "Grace@Example.org"},
                "valid_until": "2028-01-01T00:00:00Z"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["state"], json!("offered"));
    assert!(
        v["credential_id"]
            .as_str()
            .expect("id")
            .starts_with("urn:uuid:")
    );
    assert!(v.get("credential").is_none());
    assert_eq!(v["tx_code_required"], json!(true));

    let (s, got) = app
        .admin(
            Method::GET,
            &format!(
                "/api/v1/credentials/{}",
                v["credential_id"].as_str().expect("id")
            ),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(got["state"], json!("offered"));
    assert_eq!(got["revoked"], json!(false));
    assert_eq!(got["suspended"], json!(false));
    assert_eq!(got["recipient"]["email"], json!("grace@example.org"));

    // Same record by bare uuid.
    let bare = v["credential_id"]
        .as_str()
        .expect("id")
        .trim_start_matches("urn:uuid:");
    let (s, _) = app
        .admin(Method::GET, &format!("/api/v1/credentials/{bare}"), None)
        .await;
    assert_eq!(s, StatusCode::OK);

    let direct = app.award_direct(id, HOLDER_DID).await;
    assert_eq!(direct["state"], json!("issued"));
    assert!(
        direct["credential"]
            .as_str()
            .expect("jwt")
            .split('.')
            .count()
            == 3
    );
}

#[tokio::test]
async fn bad_awards_are_refused_with_messages_naming_the_field() {
    let app = TestApp::new().await;
    let a = app.create_achievement().await;
    let id = a["id"].as_str().expect("id");
    let cases = [
        (json!({"achievement_id": id, "recipient": {}}), "recipient"),
        (
            json!({"achievement_id": id, "recipient": {"email": "not-an-email"}}),
            "recipient.email",
        ),
        (
            json!({"achievement_id": id, "recipient": {"id": "did:key:zNOPE"}}),
            "recipient.id",
        ),
        (
            json!({"achievement_id": id, "recipient": {"email": "a@example.org"}, "delivery": "direct"}),
            "recipient.id",
        ),
        (
            json!({"achievement_id": id, "recipient": {"email": "a@example.org"}, "valid_until": "2001-01-01T00:00:00Z"}),
            "valid_until",
        ),
        (
            json!({"achievement_id": id, "recipient": {"email": "a@example.org"}, "valid_until": "tomorrow"}),
            "valid_until",
        ),
        (
            json!({"achievement_id": "https://elsewhere.example/achievements/1", "recipient": {"email": "a@example.org"}}),
            "achievement_id",
        ),
        (
            json!({"recipient": {"email": "a@example.org"}}),
            "achievement_id",
        ),
        (
            json!({"achievement_id": id, "recipient": {"email": "a@example.org"}, "valid_untill": "2030-01-01T00:00:00Z"}),
            "valid_untill",
        ),
        (
            json!({"achievement_id": id, "recipient": {"email": "a@example.org"}, "evidence": [{"narative": "x"}]}),
            "evidence[0]",
        ),
        (
            json!({"achievement_id": id, "recipient": {"email": "a@example.org"}, "result": [{"value": "A", "grade": "A"}]}),
            "\"grade\" is not a property of Result",
        ),
    ];
    for (body, field) in cases {
        let (s, v) = app.admin(Method::POST, "/api/v1/awards", Some(body)).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{field}: {v}");
        assert!(
            v["message"].as_str().expect("message").contains(field),
            "{field}: {v}"
        );
    }
    let (_, list) = app.admin(Method::GET, "/api/v1/credentials", None).await;
    assert_eq!(list["credentials"], json!([]), "nothing was stored");
}

#[tokio::test]
async fn batch_awards_take_json_and_csv_and_answer_per_row() {
    let app = TestApp::new().await;
    let a = app.create_achievement().await;
    let id = a["id"].as_str().expect("id");
    let (s, v) = app
        .admin(
            Method::POST,
            "/api/v1/awards/batch",
            Some(json!({"awards": [
                {"achievement_id": id, "recipient": {"email": "one@example.org"}},
                {"achievement_id": id, "recipient": {}},
                {"achievement_id": id, "recipient": {"id": HOLDER_DID}, "delivery": "direct"}
            ]})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let r = v["results"].as_array().expect("results");
    assert_eq!(r.len(), 3);
    assert_eq!(r[0]["row"], json!(1));
    assert!(r[0]["credential_id"].is_string() && r[0]["error"].is_null());
    assert!(r[1]["credential_id"].is_null() && r[1]["error"].is_string());
    assert_eq!(r[2]["state"], json!("issued"));
    assert!(r[2]["credential"].is_string());

    let short = id.rsplit('/').next().expect("segment");
    let csv = format!(
        "achievement_id,name,email,id,valid_until\n{id},Ada,ada@example.org,,2029-01-01T00:00:00Z\n{short},Bob,bob@example.org,,\nnope,Eve,eve@example.org,,\n"
    );
    let req = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/awards/batch")
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .header(header::CONTENT_TYPE, "text/csv")
        .body(Body::from(csv))
        .expect("req");
    let (s, _, body) = app.send(req).await;
    assert_eq!(s, StatusCode::OK);
    let v: Value = serde_json::from_slice(&body).expect("json");
    let r = v["results"].as_array().expect("results");
    assert_eq!(r.len(), 3);
    assert!(r[0]["error"].is_null() && r[1]["error"].is_null(), "{v}");
    assert!(
        r[2]["error"]
            .as_str()
            .expect("error")
            .contains("achievement_id")
    );
    assert_eq!(r[0]["valid_until"], json!("2029-01-01T00:00:00Z"));

    let (_, list) = app
        .admin(Method::GET, "/api/v1/credentials?limit=100", None)
        .await;
    assert_eq!(list["credentials"].as_array().map(Vec::len), Some(4));

    // A CSV file sent as a form (curl --data-binary) is read as CSV all the same;
    // a row with a field too many is named by its line.
    let csv = format!(
        "achievement_id,name,email,id,valid_until\n{short},Cy,cy@example.org,,\n{short},Di,di@example.org,,,extra\n"
    );
    let req = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/awards/batch")
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(csv))
        .expect("req");
    let (s, _, body) = app.send(req).await;
    let v: Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(s, StatusCode::OK, "{v}");
    let r = v["results"].as_array().expect("results");
    assert!(r[0]["error"].is_null(), "{v}");
    assert_eq!(
        r[1]["error"],
        json!("row: line 3: 6 fields, but the header has 5"),
        "{v}"
    );
}

#[tokio::test]
async fn credentials_list_newest_first_with_filters_and_a_cursor() {
    let app = TestApp::new().await;
    let a = app.create_achievement().await;
    let id = a["id"].as_str().expect("id");
    let mut ids = vec![];
    for i in 0..5 {
        let (s, v) = app
            .admin(
                Method::POST,
                "/api/v1/awards",
                Some(json!({"achievement_id": id, "recipient": {"email": format!("p{}@example.org", i % 2)}})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED);
        ids.push(v["credential_id"].as_str().expect("id").to_owned());
    }
    app.award_direct(id, HOLDER_DID).await;

    let (s, page) = app
        .admin(
            Method::GET,
            "/api/v1/credentials?limit=2&state=offered",
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let got: Vec<&str> = page["credentials"]
        .as_array()
        .expect("arr")
        .iter()
        .map(|c| c["credential_id"].as_str().expect("id"))
        .collect();
    assert_eq!(got, [ids[4].as_str(), ids[3].as_str()]);
    let cursor = page["next_cursor"].as_str().expect("cursor");
    let (_, page2) = app
        .admin(
            Method::GET,
            &format!("/api/v1/credentials?limit=2&state=offered&cursor={cursor}"),
            None,
        )
        .await;
    let got2: Vec<&str> = page2["credentials"]
        .as_array()
        .expect("arr")
        .iter()
        .map(|c| c["credential_id"].as_str().expect("id"))
        .collect();
    assert_eq!(got2, [ids[2].as_str(), ids[1].as_str()]);

    let (_, p0) = app
        .admin(
            Method::GET,
            "/api/v1/credentials?email=P0@example.org",
            None,
        )
        .await;
    assert_eq!(p0["credentials"].as_array().map(Vec::len), Some(3));
    let (_, issued) = app
        .admin(Method::GET, "/api/v1/credentials?state=issued", None)
        .await;
    assert_eq!(issued["credentials"].as_array().map(Vec::len), Some(1));
    let short = id.rsplit('/').next().expect("segment");
    let (_, by_ach) = app
        .admin(
            Method::GET,
            &format!("/api/v1/credentials?achievement_id={short}"),
            None,
        )
        .await;
    assert_eq!(by_ach["credentials"].as_array().map(Vec::len), Some(6));
    assert!(by_ach["next_cursor"].is_null());

    for bad in [
        "limit=0",
        "limit=x",
        "state=lost",
        "revoked=yes",
        "cursor=abc",
    ] {
        let (s, v) = app
            .admin(Method::GET, &format!("/api/v1/credentials?{bad}"), None)
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {v}");
    }
    let (s, _) = app
        .admin(
            Method::GET,
            "/api/v1/credentials/urn:uuid:00000000-0000-4000-8000-000000000000",
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn oversized_bodies_are_refused_with_413() {
    let app = TestApp::new().await;
    let big = "x".repeat(2 * 1024 * 1024);
    let req = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/achievements")
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .body(Body::from(big))
        .expect("req");
    let (s, _, body) = app.send(req).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    let v: Value = serde_json::from_slice(&body).expect("a JSON error body");
    assert_eq!(v["error"], json!("payload_too_large"));
    // A malformed query string gets a JSON error too.
    let (s, v) = app
        .admin(
            Method::GET,
            "/api/v1/achievements?include_archived=maybe",
            None,
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(v["error"], json!("bad_request"));
}

#[tokio::test]
async fn a_public_url_with_a_path_serves_everything_under_it() {
    let app = TestApp::with(
        accolade::jose::Algorithm::ES256,
        "https://example.edu/badges",
    )
    .await;
    let (s, doc) = app.call(Method::GET, "/badges/did.json", None, false).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(doc["id"], json!("did:web:example.edu:badges"));
    let (s, _) = app
        .call(Method::GET, "/.well-known/did.json", None, false)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = app.call(Method::GET, "/badges/healthz", None, false).await;
    assert_eq!(s, StatusCode::OK);
    let (s, a) = app
        .admin(
            Method::POST,
            "/badges/api/v1/achievements",
            Some(sample_achievement_input()),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    assert!(
        a["id"]
            .as_str()
            .expect("id")
            .starts_with("https://example.edu/badges/achievements/")
    );
}

#[tokio::test]
async fn clients_over_the_rate_limit_get_429_with_retry_after() {
    use axum::extract::ConnectInfo;
    let mut app = TestApp::new().await;
    app.state
        .set_rate_limit(accolade::app::RateLimit::PerSecond(5));
    app.router = accolade::http::router(app.state.clone());
    let client: std::net::SocketAddr = "198.51.100.23:40000".parse().expect("addr");
    let mut statuses = vec![];
    let mut retry_after = None;
    for _ in 0..8 {
        let mut req = Request::builder()
            .uri("/healthz")
            .body(Body::empty())
            .expect("req");
        req.extensions_mut().insert(ConnectInfo(client));
        let (s, h, _) = app.send(req).await;
        if s == StatusCode::TOO_MANY_REQUESTS {
            retry_after = h.get(header::RETRY_AFTER).cloned();
        }
        statuses.push(s);
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == StatusCode::OK).count(),
        5,
        "{statuses:?}"
    );
    assert_eq!(statuses.last(), Some(&StatusCode::TOO_MANY_REQUESTS));
    assert_eq!(
        retry_after.and_then(|v| v.to_str().ok().map(str::to_owned)),
        Some("1".to_owned())
    );
    // Another client is not affected.
    let mut req = Request::builder()
        .uri("/healthz")
        .body(Body::empty())
        .expect("req");
    req.extensions_mut().insert(ConnectInfo(
        "198.51.100.24:40000"
            .parse::<std::net::SocketAddr>()
            .expect("addr"),
    ));
    assert_eq!(app.send(req).await.0, StatusCode::OK);
}

/// sled 0.34's `flush_async` deadlocks under concurrent writers; the store must not.
/// The load runs on its own runtime in its own thread, so a deadlock fails this test
/// after the deadline instead of hanging the run.
#[test]
fn many_concurrent_awards_all_land_and_the_server_stays_up() {
    const N: usize = 400;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(8)
            .enable_all()
            .build()
            .expect("runtime");
        let result = rt.block_on(async {
            use tower::ServiceExt as _;
            let app = TestApp::new().await;
            let a = app.create_achievement().await;
            let id = a["id"].as_str().expect("id").to_owned();
            let mut tasks = Vec::new();
            for i in 0..N {
                let router = app.router.clone();
                let id = id.clone();
                tasks.push(tokio::spawn(async move {
                    let body = json!({"achievement_id": id, "recipient": {"email": format!("c{i}@example.org")}});
                    let req = Request::builder()
                        .method(Method::POST)
                        .uri("/api/v1/awards")
                        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
                        .body(Body::from(body.to_string()))
                        .expect("req");
                    router.oneshot(req).await.expect("infallible").status()
                }));
            }
            let mut created = 0;
            for t in tasks {
                if t.await.expect("task") == StatusCode::CREATED {
                    created += 1;
                }
            }
            let (_, list) = app.admin(Method::GET, "/api/v1/credentials?limit=500", None).await;
            (created, list["credentials"].as_array().map_or(0, Vec::len))
        });
        let _ = tx.send(result);
    });
    let (created, listed) = rx
        .recv_timeout(std::time::Duration::from_secs(120))
        .expect("concurrent awards finished (a timeout here means the store deadlocked)");
    assert_eq!((created, listed), (N, N));
}

#[tokio::test]
async fn awards_that_could_never_be_signed_are_refused_when_made() {
    let app = TestApp::new().await;
    let a = app.create_achievement().await;
    let (s, v) = app
        .admin(
            Method::POST,
            "/api/v1/awards",
            Some(
                json!({"achievement_id": a["id"], "recipient": {"email": "a@example.org"},
                "evidence": [{"id": 5}], "result": [{"value": {}}]}),
            ),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (_, list) = app.admin(Method::GET, "/api/v1/credentials", None).await;
    assert_eq!(list["credentials"], json!([]));

    // An achievement too large to fit in a badge is refused up front.
    let mut big = sample_achievement_input();
    big["description"] = json!("x".repeat(600 * 1024));
    let (s, v) = app
        .admin(Method::POST, "/api/v1/achievements", Some(big))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(v["message"].as_str().expect("msg").contains("bytes"));
}
