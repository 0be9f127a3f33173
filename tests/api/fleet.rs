//! Two nodes of a fleet over one PostgreSQL schema, in one process: what one node
//! commits, the other sees. These run when the suite runs against PostgreSQL
//! (`ACCOLADE_TEST_DATABASE_URL`); on sled there is no second node to have.

use std::collections::HashSet;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::{Value, json};

use crate::helpers::*;

/// Both nodes, or `None` (said on stderr) when the suite runs on sled.
async fn two_nodes() -> Option<(TestApp, TestApp)> {
    let a = TestApp::new().await;
    match a.another_node().await {
        Some(b) => Some((a, b)),
        None => {
            eprintln!("sled: no second node (set ACCOLADE_TEST_DATABASE_URL)");
            None
        }
    }
}

/// Polls `check` every 20 ms for up to a second (the fleet's promise).
async fn within_a_second<F, Fut>(mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..50 {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

async fn list(app: &TestApp) -> (String, Vec<u8>) {
    let (s, h, body) = app
        .send(
            Request::get("/status/revocation/1")
                .body(Body::empty())
                .expect("req"),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    (
        h[header::ETAG].to_str().expect("etag").to_owned(),
        body.to_vec(),
    )
}

fn index(jwt: &str) -> u64 {
    let (_, p, _) = decode_jwt(jwt);
    p["credentialStatus"]["statusListIndex"]
        .as_str()
        .expect("index")
        .parse()
        .expect("number")
}

#[tokio::test]
async fn awards_split_over_two_nodes_never_share_a_slot_and_both_publish_one_list() {
    let Some((a, b)) = two_nodes().await else {
        return;
    };
    let ach = a.create_achievement().await;
    let id = ach["id"].as_str().expect("id").to_owned();
    // Each node believes a slot free until the other's notice arrives: awards made at
    // once on both collide now and then, and must pick again, never share.
    let mut tasks = Vec::new();
    for i in 0..40 {
        let router = if i % 2 == 0 {
            a.router.clone()
        } else {
            b.router.clone()
        };
        let body = json!({"achievement_id": id, "delivery": "direct",
                          "recipient": {"id": HOLDER_DID}});
        tasks.push(tokio::spawn(async move {
            use tower::ServiceExt as _;
            let req = Request::builder()
                .method(Method::POST)
                .uri("/api/v1/awards")
                .header("authorization", format!("Bearer {TOKEN}"))
                .header("content-type", "application/json")
                .body(Body::from(body.to_string()))
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
        }));
    }
    let mut seen = HashSet::new();
    let mut jwts = Vec::new();
    for t in tasks {
        let (s, v) = t.await.expect("task");
        assert_eq!(s, StatusCode::CREATED, "{v}");
        let jwt = v["credential"].as_str().expect("jwt").to_owned();
        assert!(seen.insert(index(&jwt)), "an index given out twice");
        jwts.push(jwt);
    }
    assert_eq!(seen.len(), 40);
    // Both nodes know every slot taken.
    assert!(
        within_a_second(|| async {
            a.state.issuer.status_lists().taken(1) == Some(40)
                && b.state.issuer.status_lists().taken(1) == Some(40)
        })
        .await
    );

    // Revoked on one node: the other's list shows it within a second, and both
    // publish the same bytes under the same ETag.
    let (_, payload, _) = decode_jwt(&jwts[7]);
    let cid = payload["jti"].as_str().expect("jti");
    let (s, v) = a
        .admin(
            Method::POST,
            &format!("/api/v1/credentials/{cid}/revoke"),
            Some(json!({"reason": "exam misconduct"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let revoked = index(&jwts[7]) as usize;
    assert!(
        within_a_second(|| async {
            let (_, body) = list(&b).await;
            let (_, p, _) = decode_jwt(std::str::from_utf8(&body).expect("text"));
            let bits = crate::status::expand_list(&p);
            crate::status::bit(&bits, revoked) == 1
        })
        .await,
        "the other node's list shows the revocation"
    );
    let (etag_a, bytes_a) = list(&a).await;
    let (etag_b, bytes_b) = list(&b).await;
    assert_eq!(etag_a, etag_b);
    assert_eq!(bytes_a, bytes_b, "one signed copy for the fleet");
    let (_, report) = b.verify(json!(jwts[7])).await;
    assert_eq!(report["verified"], false, "{report}");
    let (_, report) = b.verify(json!(jwts[8])).await;
    assert_eq!(report["verified"], true, "{report}");
}

#[tokio::test]
async fn a_change_on_one_node_reaches_the_others_caches_within_a_second() {
    let Some((a, b)) = two_nodes().await else {
        return;
    };
    // b reads (and caches) the profile and the registry first.
    let (_, before) = b.admin(Method::GET, "/api/v1/issuer", None).await;
    assert_ne!(before["name"], "Fleet University");
    assert_eq!(b.state.trust.len(), 0);
    let (s, v) = a
        .admin(
            Method::PUT,
            "/api/v1/issuer",
            Some(json!({"name": "Fleet University", "url": "https://fleet.example.edu"})),
        )
        .await;
    assert!(s.is_success(), "{v}");
    let (s, v) = a
        .admin(
            Method::POST,
            "/api/v1/trust/issuers",
            Some(json!({"id": "did:web:partner.example.org", "name": "Partner", "status": "trusted"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, key) = a
        .admin(
            Method::POST,
            "/api/v1/api-keys",
            Some(json!({"name": "Job board"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{key}");
    assert!(
        within_a_second(|| async {
            let (_, now) = b.admin(Method::GET, "/api/v1/issuer", None).await;
            now["name"] == "Fleet University"
                && b.state.trust.len() == 1
                && b.state.partner_keys.list().len() == 1
        })
        .await,
        "profile, registry and API keys reach the other node"
    );
    // A badge signed on b carries the new name.
    let jwt = b.issue_badge().await;
    let (_, p, _) = decode_jwt(&jwt);
    assert_eq!(p["issuer"]["name"], "Fleet University");
}

/// Whether every server connection named `app` is encrypted (and there is one).
async fn encrypted(url: &str, app: &str) -> bool {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connecting to the test database");
    tokio::spawn(conn);
    let rows = client
        .query(
            "SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
             WHERE a.application_name = $1",
            &[&app],
        )
        .await
        .expect("pg_stat_ssl");
    !rows.is_empty() && rows.iter().all(|r| r.get::<_, bool>(0))
}

#[tokio::test]
async fn tls_to_the_database_as_sslmode_asks() {
    // CI serves the test database with a self-signed certificate (its own CA) and
    // names it here; without it there is no TLS to test.
    let (Some(url), Ok(ca)) = (database(), std::env::var("ACCOLADE_TEST_DATABASE_CA")) else {
        eprintln!("no ACCOLADE_TEST_DATABASE_CA: the TLS test needs a server with TLS");
        return;
    };
    let base = url.split('?').next().unwrap_or(&url).to_owned();
    let with = |mode: &str, app: &str| format!("{base}?{mode}&application_name={app}");
    let app = format!("accolade-tls-{}", uuid::Uuid::new_v4().simple());
    let store = accolade::store::Store::connect(&with("sslmode=require", &app))
        .await
        .expect("sslmode=require connects to a server with TLS");
    store
        .fleet
        .shared_value("tls-probe", "x")
        .await
        .expect("a statement");
    assert!(
        encrypted(&url, &app).await,
        "sslmode=require: every connection encrypted"
    );
    drop(store);

    let app = format!("accolade-tls-{}", uuid::Uuid::new_v4().simple());
    let checked = with(&format!("sslmode=verify-full&sslrootcert={ca}"), &app);
    let store = accolade::store::Store::connect(&checked)
        .await
        .expect("verify-full with the server's CA");
    store
        .fleet
        .shared_value("tls-probe", "x")
        .await
        .expect("a statement");
    assert!(encrypted(&url, &app).await);
    drop(store);

    // A CA that did not sign the server's certificate: refused, with a clear error.
    if let Ok(other) = std::env::var("ACCOLADE_TEST_OTHER_CA") {
        let wrong = with(
            &format!("sslmode=verify-full&sslrootcert={other}"),
            "accolade-tls-wrong",
        );
        let Err(err) = accolade::store::Store::connect(&wrong).await else {
            panic!("a certificate from another CA is accepted");
        };
        let msg = err.to_string();
        assert!(
            msg.to_lowercase().contains("certificate") || msg.contains("tls"),
            "{msg}"
        );
    }
    let Err(err) =
        accolade::store::Store::connect(&with("sslmode=verify-full", "accolade-tls-noca")).await
    else {
        panic!("verify-full without a CA is accepted");
    };
    assert!(err.to_string().contains("sslrootcert"), "{err}");
}

/// A verify request presenting an API key.
async fn keyed_verify(app: &TestApp, key: &str) -> StatusCode {
    let req = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/verify")
        .header(header::CONTENT_TYPE, "application/json")
        .header("X-API-Key", key)
        .body(Body::from(r#"{"credential": "not a badge"}"#))
        .expect("req");
    app.send(req).await.0
}

#[tokio::test]
async fn api_key_usage_counts_add_up_over_nodes_and_no_write_undoes_a_rename() {
    let Some((a, b)) = two_nodes().await else {
        return;
    };
    let (s, key) = a
        .admin(
            Method::POST,
            "/api/v1/api-keys",
            Some(json!({"name": "Job board"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{key}");
    let id = key["id"].as_str().expect("id").to_owned();
    let secret = key["key"].as_str().expect("secret").to_owned();
    assert!(within_a_second(|| async { b.state.partner_keys.get(&id).is_ok() }).await);
    // Not a badge (400), but admitted and counted under the key.
    for _ in 0..3 {
        assert_eq!(keyed_verify(&a, &secret).await, StatusCode::BAD_REQUEST);
    }
    for _ in 0..5 {
        assert_eq!(keyed_verify(&b, &secret).await, StatusCode::BAD_REQUEST);
    }
    // b renames the key; a, whose counts are newer, writes them afterwards: the
    // rename stands, and the counts of both nodes add up on both.
    let (s, v) = b
        .admin(
            Method::PATCH,
            &format!("/api/v1/api-keys/{id}"),
            Some(json!({"name": "Job board (EU)"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    b.state
        .partner_keys
        .persist_usage()
        .await
        .expect("persist b");
    a.state
        .partner_keys
        .persist_usage()
        .await
        .expect("persist a");
    let stored = a.store.partners.partner_keys().await.expect("records");
    assert_eq!(stored[0].name, "Job board (EU)");
    assert_eq!(stored[0].usage.requests, 8);
    assert!(
        within_a_second(|| async {
            [&a, &b].iter().all(|n| {
                n.state
                    .partner_keys
                    .get(&id)
                    .is_ok_and(|k| k.usage.requests == 8 && k.name == "Job board (EU)")
            })
        })
        .await,
        "a: {:?}; b: {:?}",
        a.state.partner_keys.get(&id).map(|k| k.usage),
        b.state.partner_keys.get(&id).map(|k| k.usage)
    );
}

/// Sends `n` requests alternating between the nodes, from one client address; how
/// many each status got.
async fn alternate(
    nodes: [&TestApp; 2],
    n: usize,
    method: Method,
    path: &str,
    body: Option<Value>,
    headers: &[(&str, &str)],
    from: std::net::SocketAddr,
) -> std::collections::BTreeMap<u16, usize> {
    let mut got = std::collections::BTreeMap::new();
    for i in 0..n {
        let (s, _, _) = nodes[i % 2]
            .request(method.clone(), path, body.clone(), headers, Some(from))
            .await;
        *got.entry(s.as_u16()).or_insert(0) += 1;
    }
    got
}

#[tokio::test]
async fn the_per_address_limit_holds_for_the_fleet_not_per_node() {
    let Some((mut a, mut b)) = two_nodes().await else {
        return;
    };
    for n in [&mut a, &mut b] {
        n.state
            .set_rate_limit(accolade::app::RateLimit::PerSecond(10));
        n.router = accolade::http::router(n.state.clone());
    }
    let client: std::net::SocketAddr = "198.51.100.77:40000".parse().expect("addr");
    let got = alternate([&a, &b], 40, Method::GET, "/healthz", None, &[], client).await;
    let ok = got.get(&200).copied().unwrap_or(0);
    // A budget of 10 a second for the client, whichever node it reaches (a node
    // counting alone would admit 20); the run may earn a token of refill.
    assert!((10..=12).contains(&ok), "{got:?}");
    assert_eq!(ok + got.get(&429).copied().unwrap_or(0), 40, "{got:?}");
    // Another client has its own budget.
    let other: std::net::SocketAddr = "198.51.100.78:40000".parse().expect("addr");
    let (s, _, _) = b
        .request(Method::GET, "/healthz", None, &[], Some(other))
        .await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn a_partner_keys_limit_holds_for_the_fleet() {
    let Some((a, b)) = two_nodes().await else {
        return;
    };
    let (s, created) = a
        .admin(
            Method::POST,
            "/api/v1/api-keys",
            Some(json!({"name": "Acme Hiring", "rate_limit": 4})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    let key = created["key"].as_str().expect("key").to_owned();
    let known = within_a_second(|| async {
        let (s, _, _) = b
            .request(
                Method::POST,
                "/api/v1/verify",
                Some(json!({"credential": "x"})),
                &[("x-api-key", &key)],
                None,
            )
            .await;
        s != StatusCode::UNAUTHORIZED
    })
    .await;
    assert!(known, "B does not know A's new key");
    // B's probe above took one of the 4.
    let client: std::net::SocketAddr = "198.51.100.79:40000".parse().expect("addr");
    let got = alternate(
        [&a, &b],
        16,
        Method::POST,
        "/api/v1/verify",
        Some(json!({"credential": "x"})),
        &[("x-api-key", &key)],
        client,
    )
    .await;
    let refused = got.get(&429).copied().unwrap_or(0);
    assert!((12..=13).contains(&refused), "{got:?}");
}

#[tokio::test]
async fn failed_sign_ins_on_one_node_slow_down_the_other() {
    let Some((a, b)) = two_nodes().await else {
        return;
    };
    let (s, v) = a
        .admin(
            Method::POST,
            "/api/v1/staff",
            Some(json!({"email": "owner@example.edu", "name": "Owner", "role": "owner", "password": "correct horse battery staple"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let stranger: std::net::SocketAddr = "192.0.2.66:40000".parse().expect("addr");
    let login = |node: &TestApp, password: &'static str| {
        let node_router = node.router.clone();
        async move {
            let mut req = Request::post("/api/v1/auth/login")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(
                    json!({"email": "owner@example.edu", "password": password}).to_string(),
                ))
                .expect("req");
            req.extensions_mut()
                .insert(axum::extract::ConnectInfo(stranger));
            tower::ServiceExt::oneshot(node_router, req)
                .await
                .expect("infallible")
                .status()
        }
    };
    // Guesses spread over both nodes count together: five free, then delays.
    for i in 0..6 {
        let node = if i % 2 == 0 { &a } else { &b };
        assert_eq!(
            login(node, "wrong password 123").await,
            StatusCode::UNAUTHORIZED
        );
    }
    for node in [&a, &b] {
        assert_eq!(
            login(node, "correct horse battery staple").await,
            StatusCode::TOO_MANY_REQUESTS,
            "each node makes the stranger wait"
        );
    }
    // Once the delay has passed, the right password signs in (on either node), and
    // clears the count for both.
    a.clock.advance(2);
    b.clock.advance(2);
    assert_eq!(
        login(&b, "correct horse battery staple").await,
        StatusCode::OK
    );
    assert_eq!(
        login(&a, "wrong password 123").await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn the_sweep_drops_only_limits_that_no_longer_count() {
    use accolade::store::{ThrottleRecord, TokenAsk};
    let app = TestApp::new().await;
    let Some(limits) = app.store.limits.clone() else {
        eprintln!("sled: limits live in memory (set ACCOLADE_TEST_DATABASE_URL)");
        return;
    };
    let one = TokenAsk {
        least: 1.0,
        most: 1.0,
        credit: false,
    };
    let taken = limits
        .take_tokens("address 192.0.2.1", NOW as f64, 10.0, 10.0, one)
        .await
        .expect("take");
    assert_eq!(taken.taken, 1.0);
    let key = "sign-in account a@example.edu";
    limits
        .change_throttle(key, &mut |_| {
            Some(ThrottleRecord {
                count: 6,
                until: NOW + 1,
                last: NOW,
            })
        })
        .await
        .expect("throttle");
    assert_eq!(limits.sweep_limits(NOW).await.expect("sweep"), 0);
    // An hour on, the bucket is full again and goes; the throttle still counts.
    assert_eq!(limits.sweep_limits(NOW + 3601).await.expect("sweep"), 1);
    assert!(limits.throttle(key).await.expect("read").is_some());
    // A day without failures and it goes too.
    assert_eq!(limits.sweep_limits(NOW + 86_402).await.expect("sweep"), 1);
    assert!(limits.throttle(key).await.expect("read").is_none());
    // A bucket that went starts full again.
    let taken = limits
        .take_tokens(
            "address 192.0.2.1",
            NOW as f64 + 86_402.0,
            10.0,
            10.0,
            TokenAsk {
                least: 10.0,
                most: 10.0,
                credit: false,
            },
        )
        .await
        .expect("take");
    assert_eq!(taken.taken, 10.0);
}
