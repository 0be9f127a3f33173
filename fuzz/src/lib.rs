//! What the fuzz targets share: one tokio runtime, a fixed issuer key, an offline
//! verifier, a fetcher that serves the fuzz input as a remote body, and one
//! in-process service (sled store in a temporary directory) for the endpoints that
//! need stored state.
//!
//! Multi-part inputs are split on NUL bytes ([`fields`]). Seeds may name the fixed
//! issuer through placeholders that [`fill`] replaces before the input is used:
//! `ISSUER_DID` (its did:key), `ISSUER_KID` (the DID URL of its key) and
//! `ISSUER_MULTIBASE` (its key as a Multikey `publicKeyMultibase`).

use std::borrow::Cow;
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use accolade::app::{AdminToken, AppState, KeySource, RateLimit};
use accolade::clock::{FixedClock, SharedClock};
use accolade::issue::StatusConfig;
use accolade::jose::{SigningKey, b64};
use accolade::keyring::Keyring;
use accolade::net::{FetchError, Kind};
use accolade::oid4vp::{NewRequest, RequestRecord};
use accolade::store::Store;
use accolade::verify::remote::BoxFuture;
use accolade::verify::{Fetch, Remote, Verifier};
use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use bytes::Bytes;
use http_body_util::BodyExt as _;
use serde_json::{Value, json};
use tower::ServiceExt as _;

/// 2026-11-19T00:00:00Z: the instant the repository's test vectors are valid at.
pub const NOW: i64 = 1_795_046_400;
/// The public URL of the in-process service.
pub const PUBLIC_URL: &str = "https://badges.example.edu";
/// The admin bearer token of the in-process service.
pub const ADMIN_TOKEN: &str = "fuzz-admin-token";

/// The one runtime every target drives its async calls with.
pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime")
    })
}

/// Runs `f` to completion on [`runtime`]. Never call it from inside a future.
pub fn block_on<F: Future>(f: F) -> F::Output {
    runtime().block_on(f)
}

/// The fixed clock the verifier and the service read.
pub fn clock() -> Arc<FixedClock> {
    Arc::new(FixedClock::at(NOW))
}

/// The input as text (invalid UTF-8 becomes U+FFFD).
pub fn text(data: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(data)
}

/// The input split on NUL into at most `n` parts (the last one keeps any further NUL);
/// missing parts are empty.
pub fn fields(data: &[u8], n: usize) -> Vec<&[u8]> {
    let mut out: Vec<&[u8]> = data.splitn(n, |b| *b == 0).collect();
    while out.len() < n {
        out.push(&[]);
    }
    out
}

/// The fixed issuer: the repository's Ed25519 test key and its did:key.
pub struct Issuer {
    pub key: SigningKey,
    pub did: String,
    pub kid: String,
    pub multibase: String,
}

/// The fixed issuer (built once).
pub fn issuer() -> &'static Issuer {
    static ISSUER: OnceLock<Issuer> = OnceLock::new();
    ISSUER.get_or_init(|| {
        let pem = include_bytes!("../../tests/vectors/keys/eddsa.pem");
        let key = SigningKey::from_pkcs8_pem(pem).expect("the Ed25519 test key");
        let did = accolade::did::key::did_key_for(key.public_jwk()).expect("its did:key");
        let multibase = did.method_specific_id().to_owned();
        let kid = format!("{did}#{multibase}");
        Issuer {
            key,
            did: did.to_string(),
            kid,
            multibase,
        }
    })
}

/// `s` with the placeholders replaced by the fixed issuer's DID, key id and key.
pub fn fill(s: &str) -> String {
    let i = issuer();
    s.replace("ISSUER_KID", &i.kid)
        .replace("ISSUER_DID", &i.did)
        .replace("ISSUER_MULTIBASE", &i.multibase)
}

/// A compact JWS over exactly these header and payload bytes, signed by the fixed
/// issuer's key (whatever the header says).
pub fn sign_raw(header: &[u8], payload: &[u8]) -> String {
    let input = format!("{}.{}", b64(header), b64(payload));
    let sig = issuer()
        .key
        .sign(input.as_bytes())
        .expect("Ed25519 signing");
    format!("{input}.{}", b64(sig))
}

/// The JOSE header the fixed issuer signs badges with (`typ` as given).
pub fn issuer_header(typ: &str) -> Vec<u8> {
    json!({"alg": "EdDSA", "kid": issuer().kid, "typ": typ})
        .to_string()
        .into_bytes()
}

/// A verifier that reaches no other host.
pub fn offline_verifier() -> Verifier {
    let clock: SharedClock = clock();
    Verifier::new(None, clock)
}

/// A fetcher that answers every URL with the same body (within the real client's cap
/// for that kind of document), as a hostile host could.
#[derive(Debug, Clone)]
pub struct Serve(pub Bytes);

impl Fetch for Serve {
    fn fetch<'a>(&'a self, _url: &'a str, kind: Kind) -> BoxFuture<'a, Result<Bytes, FetchError>> {
        let body = self.0.clone();
        Box::pin(async move {
            if body.len() > kind.cap() {
                Err(FetchError::TooLarge(kind.cap()))
            } else {
                Ok(body)
            }
        })
    }
}

/// A verifier whose every fetch gets `body`.
pub fn serving_verifier(body: Vec<u8>) -> Verifier {
    offline_verifier().with_fetcher(Arc::new(Serve(Bytes::from(body))))
}

/// The in-process service and what the targets need from it.
pub struct App {
    pub state: AppState,
    pub router: Router,
    /// An achievement that exists (for CSV rows).
    pub achievement_id: String,
    /// An access token of an offered, redeemed award (for the credential endpoint).
    pub access_token: String,
    /// A pending presentation request with a DCQL query.
    pub dcql: RequestRecord,
    /// A pending presentation request with a Presentation Exchange definition.
    pub pe: RequestRecord,
    /// The definition id of `pe`.
    pub definition_id: String,
}

/// The service (built once, on first use; call it outside [`block_on`]).
pub fn app() -> &'static App {
    static APP: OnceLock<App> = OnceLock::new();
    APP.get_or_init(|| block_on(build_app()))
}

/// A request through the router: its status and body.
pub async fn send(router: &Router, req: Request<Body>) -> (StatusCode, Bytes) {
    let res = router
        .clone()
        .oneshot(req)
        .await
        .expect("the router is infallible");
    let status = res.status();
    let body = res
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    (status, body)
}

/// A request with the given method, path, headers and body.
pub fn request(
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Request<Body> {
    let mut b = Request::builder().method(method).uri(path);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(Body::from(body)).expect("a well-formed request")
}

async fn admin_json(router: &Router, method: Method, path: &str, body: Option<Value>) -> Value {
    let auth = format!("Bearer {ADMIN_TOKEN}");
    let mut headers = vec![("authorization", auth.as_str())];
    let bytes = match &body {
        Some(v) => {
            headers.push(("content-type", "application/json"));
            serde_json::to_vec(v).expect("json")
        }
        None => Vec::new(),
    };
    let (status, body) = send(router, request(method, path, &headers, bytes)).await;
    assert!(
        status.is_success(),
        "{path}: {status} {}",
        String::from_utf8_lossy(&body)
    );
    serde_json::from_slice(&body).expect("a JSON answer")
}

fn work_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("accolade-fuzz-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a work directory");
    dir
}

fn install_key(dir: &std::path::Path) {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let pem = include_bytes!("../../tests/vectors/keys/es256.pem");
    let key = SigningKey::from_pkcs8_pem(pem).expect("the ES256 test key");
    std::fs::create_dir_all(dir).expect("keys dir");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(dir.join(format!("{}.pem", key.id())))
        .expect("key file");
    f.write_all(pem).expect("key file");
}

async fn build_app() -> App {
    let dir = work_dir();
    let keys_dir = dir.join("keys");
    install_key(&keys_dir);
    let store = Store::open(&dir.join("data")).expect("a store");
    let keys = Keyring::load(&keys_dir).expect("keys");
    let clock: SharedClock = clock();
    let mut state = AppState::with_status(
        store,
        Arc::new(keys),
        url::Url::parse(PUBLIC_URL).expect("url"),
        AdminToken::new(ADMIN_TOKEN),
        clock,
        StatusConfig::default(),
    )
    .await
    .expect("the service state");
    // Nothing the fuzzer sends may reach another host: the verifier fetches nothing.
    state.set_remote(Arc::new(Remote::offline()));
    state.set_rate_limit(RateLimit::Off);
    state
        .issuer
        .keys()
        .set_maker(KeySource::Dir(keys_dir.clone()).maker());
    let router = accolade::http::router(state.clone());

    let achievement = admin_json(
        &router,
        Method::POST,
        "/api/v1/achievements",
        Some(json!({
            "name": "Fuzzing",
            "description": "Feeds parsers what nobody should.",
            "criteria": {"narrative": "Kept a parser running."},
            "achievementType": "Certification"
        })),
    )
    .await;
    let achievement_id = achievement["id"]
        .as_str()
        .expect("achievement id")
        .to_owned();

    // An offered award, redeemed for an access token.
    let award = admin_json(
        &router,
        Method::POST,
        "/api/v1/awards",
        Some(json!({
            "achievement_id": achievement_id,
            "recipient": {"name": "Grace Hopper", "email": "grace@example.org"},
        })),
    )
    .await;
    let offer_uri = award["offer_uri"].as_str().expect("offer_uri");
    let by_ref = url::Url::parse(offer_uri)
        .expect("offer uri")
        .query_pairs()
        .find(|(k, _)| k == "credential_offer_uri")
        .expect("an offer by reference")
        .1
        .into_owned();
    let path = by_ref.strip_prefix(PUBLIC_URL).expect("our URL").to_owned();
    let (_, offer) = send(&router, request(Method::GET, &path, &[], Vec::new())).await;
    let offer: Value = serde_json::from_slice(&offer).expect("offer JSON");
    let pre_auth = "urn:ietf:params:oauth:grant-type:pre-authorized_code";
    let code = offer["grants"][pre_auth]["pre-authorized_code"]
        .as_str()
        .expect("a pre-authorized code");
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    form.append_pair("grant_type", pre_auth);
    form.append_pair("pre-authorized_code", code);
    if let Some(tx) = award["tx_code"].as_str() {
        form.append_pair("tx_code", tx);
    }
    let (status, token) = send(
        &router,
        request(
            Method::POST,
            "/oid4vci/token",
            &[("content-type", "application/x-www-form-urlencoded")],
            form.finish().into_bytes(),
        ),
    )
    .await;
    let token: Value = serde_json::from_slice(&token).expect("token JSON");
    assert!(status.is_success(), "token: {token}");
    let access_token = token["access_token"]
        .as_str()
        .expect("access token")
        .to_owned();

    let max_ttl = accolade::oid4vp::MAX_TTL;
    let dcql = state
        .oid4vp
        .create(NewRequest {
            max_ttl,
            expires_in: Some(max_ttl),
            ..NewRequest::default()
        })
        .await
        .expect("a DCQL request");
    let pe = state
        .oid4vp
        .create(NewRequest {
            legacy: true,
            max_ttl,
            expires_in: Some(max_ttl),
            ..NewRequest::default()
        })
        .await
        .expect("a Presentation Exchange request");
    let definition_id = match &pe.query {
        accolade::oid4vp::Query::PresentationDefinition(pd) => {
            pd["id"].as_str().unwrap_or_default().to_owned()
        }
        accolade::oid4vp::Query::Dcql(_) => String::new(),
    };
    App {
        state,
        router,
        achievement_id,
        access_token,
        dcql,
        pe,
        definition_id,
    }
}

/// Serialises a value as the HTTP layer would; it must never fail.
pub fn to_json<T: serde::Serialize>(v: &T) {
    serde_json::to_vec(v).expect("a report serialises");
}

/// One of the JOSE headers the fixed issuer's badges may carry, chosen by `choice`.
pub fn header_for(choice: u8) -> Vec<u8> {
    match choice % 4 {
        0 => issuer_header("JWT"),
        1 => issuer_header("vc+jwt"),
        2 => json!({"alg": "EdDSA", "kid": issuer().kid})
            .to_string()
            .into_bytes(),
        _ => json!({"alg": "EdDSA", "jwk": issuer().key.public_jwk().to_value(), "typ": "JWT"})
            .to_string()
            .into_bytes(),
    }
}

/// Why a sanitised SVG is not inert, if it is not (the sanitiser's stated rules): an
/// element it drops, an event handler, a script URL, a reference outside the document.
pub fn not_inert(svg: &str) -> Option<String> {
    use quick_xml::XmlVersion;
    use quick_xml::events::Event;
    const DROPPED: &[&str] = &[
        "script",
        "style",
        "foreignobject",
        "iframe",
        "animate",
        "set",
        "feimage",
        "animatemotion",
        "animatetransform",
    ];
    let mut r = quick_xml::Reader::from_str(svg);
    loop {
        let e = match r.read_event() {
            Err(e) => return Some(format!("not well-formed: {e}")),
            Ok(Event::Eof) => return None,
            Ok(Event::DocType(_)) => return Some("a DOCTYPE".into()),
            Ok(Event::Start(e) | Event::Empty(e)) => e,
            Ok(_) => continue,
        };
        let name = e.local_name().as_ref().to_ascii_lowercase();
        if DROPPED.contains(&name.as_str()) {
            return Some(format!("element <{name}>"));
        }
        for a in e.attributes() {
            let Ok(a) = a else {
                return Some("a malformed attribute".into());
            };
            let key = a.key.as_ref().to_ascii_lowercase();
            let local = key.rsplit(':').next().unwrap_or_default().to_owned();
            let value = a
                .normalized_value(XmlVersion::Implicit1_0)
                .map(|v| v.into_owned())
                .unwrap_or_default();
            let compact: String = value
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect::<String>()
                .to_ascii_lowercase();
            if local.starts_with("on") {
                return Some(format!("handler {key} on <{name}>"));
            }
            if compact.contains("javascript:") || compact.contains("vbscript:") {
                return Some(format!("script URL in {key}={value:?}"));
            }
            if local == "href"
                && !(value.starts_with('#')
                    || (name == "image" && value.starts_with("data:image/png;base64,")))
            {
                return Some(format!("reference {key}={value:?} on <{name}>"));
            }
            for (i, _) in compact.match_indices("url(") {
                let rest = compact[i + 4..].trim_start_matches(['\'', '"']);
                if !rest.starts_with('#') {
                    return Some(format!("outside url( in {key}={value:?}"));
                }
            }
        }
    }
}
