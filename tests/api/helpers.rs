//! Test harness: a fresh app per test (temp store, fixed keys copied with mode 0600,
//! a fixed clock), driven in-process through the real router.

use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use accolade::app::{AdminToken, AppState};
use accolade::clock::FixedClock;
use accolade::issue::StatusConfig;
use accolade::jose::{Algorithm, SigningKey};
use accolade::keyring::Keyring;
use accolade::store::Store;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::BodyExt as _;
use serde_json::{Value, json};
use tower::ServiceExt as _;

pub const TOKEN: &str = "test-admin-token";
/// 2026-11-19T00:00:00Z.
pub const NOW: i64 = 1_795_046_400;
pub const PUBLIC_URL: &str = "https://badges.example.edu";
pub const DID: &str = "did:web:badges.example.edu";

/// The PostgreSQL database the suite runs against (`ACCOLADE_TEST_DATABASE_URL`);
/// `None` runs it on sled.
pub fn database() -> Option<String> {
    std::env::var("ACCOLADE_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

pub use accolade::store::postgres::url_in_schema;

/// A store in a new, empty schema of the test database; the schema's name.
pub async fn fresh_database_store(url: &str) -> (Store, String) {
    let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
    accolade::store::postgres::create_schema(url, &schema)
        .await
        .expect("create schema");
    let store = Store::connect(&url_in_schema(url, &schema))
        .await
        .expect("store in the test database");
    (store, schema)
}

/// Whether any row of any table in `schema` holds `needle` (as text or bytes).
async fn database_contains(url: &str, schema: &str, needle: &[u8]) -> bool {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connecting to the test database");
    tokio::spawn(conn);
    let tables = client
        .query(
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = $1",
            &[&schema],
        )
        .await
        .expect("tables");
    let hex: String = needle.iter().map(|b| format!("{b:02x}")).collect();
    for t in tables {
        let name: String = t.get(0);
        let rows = client
            .query(&format!("SELECT t::text FROM {schema}.\"{name}\" t"), &[])
            .await
            .expect("rows");
        for r in rows {
            // Byte columns read as text are `\x` and hex digits.
            let text: String = r.get(0);
            if text.as_bytes().windows(needle.len()).any(|w| w == needle) || text.contains(&hex) {
                return true;
            }
        }
    }
    false
}

/// The committed test key of an algorithm.
pub fn vector_key_path(alg: Algorithm) -> PathBuf {
    let name = match alg {
        Algorithm::ES256 => "es256.pem",
        Algorithm::RS256 => "rs256.pem",
        Algorithm::EdDSA => "eddsa.pem",
        other => panic!("{other} keys are verified here, never signed with"),
    };
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors/keys")
        .join(name)
}

/// Copies a committed test key into `dir` as `<kid>.pem`, mode 0600.
pub fn install_test_key(dir: &Path, alg: Algorithm) -> String {
    use std::io::Write as _;
    let pem = std::fs::read(vector_key_path(alg)).expect("test key");
    let key = SigningKey::from_pkcs8_pem(&pem).expect("test key parses");
    std::fs::create_dir_all(dir).expect("keys dir");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(dir.join(format!("{}.pem", key.id())))
        .expect("write key");
    f.write_all(&pem).expect("write key");
    key.id().to_owned()
}

/// The committed test key itself (to forge tokens in attack tests).
pub fn test_signing_key(alg: Algorithm) -> SigningKey {
    SigningKey::from_pkcs8_pem(&std::fs::read(vector_key_path(alg)).expect("key")).expect("parses")
}

pub struct TestApp {
    pub router: Router,
    pub state: AppState,
    pub clock: Arc<FixedClock>,
    pub keys_dir: PathBuf,
    pub store: Store,
    pub public_url: String,
    pub status: StatusConfig,
    /// The SMTP server set with [`TestApp::use_smtp`] (kept across restarts).
    pub smtp: Option<accolade::mail::SmtpConfig>,
    _dir: tempfile::TempDir,
}

impl TestApp {
    /// Whether any file under the app's directory (store and keys), flushed, holds
    /// `needle`.
    pub async fn data_dir_contains(&self, needle: &[u8]) -> bool {
        self.store.flush().await.expect("flush");
        if let (Some(url), Ok(schema)) = (
            database(),
            std::fs::read_to_string(self._dir.path().join("schema")),
        ) {
            return database_contains(&url, &schema, needle).await;
        }
        fn walk(dir: &Path, needle: &[u8]) -> bool {
            std::fs::read_dir(dir).expect("read dir").any(|e| {
                let p = e.expect("entry").path();
                if p.is_dir() {
                    walk(&p, needle)
                } else {
                    let bytes = std::fs::read(&p).unwrap_or_default();
                    bytes.windows(needle.len()).any(|w| w == needle)
                }
            })
        }
        walk(self._dir.path(), needle)
    }

    pub async fn new() -> Self {
        Self::with(Algorithm::ES256, PUBLIC_URL).await
    }

    pub async fn with(alg: Algorithm, public_url: &str) -> Self {
        Self::configured(alg, public_url, StatusConfig::default()).await
    }

    /// Badges carry entries for both purposes (`--status-purposes revocation,suspension`).
    pub async fn with_suspension_entries() -> Self {
        Self::configured(
            Algorithm::ES256,
            PUBLIC_URL,
            StatusConfig {
                purposes: "revocation,suspension".parse().expect("purposes"),
                ..StatusConfig::default()
            },
        )
        .await
    }

    pub async fn configured(alg: Algorithm, public_url: &str, status: StatusConfig) -> Self {
        let dir = tempfile::tempdir().expect("tmp");
        install_test_key(&dir.path().join("keys"), alg);
        Self::in_dir(dir, public_url, NOW, status).await
    }

    /// An app over `dir` (holding `keys/` and, or not yet, `data/`).
    async fn in_dir(
        dir: tempfile::TempDir,
        public_url: &str,
        now: i64,
        status: StatusConfig,
    ) -> Self {
        let keys_dir = dir.path().join("keys");
        let store = match database() {
            Some(url) if !dir.path().join("data").exists() => {
                let (store, schema) = fresh_database_store(&url).await;
                std::fs::write(dir.path().join("schema"), &schema).expect("schema name");
                store
            }
            _ => Store::open(&dir.path().join("data")).expect("store"),
        };
        let clock = Arc::new(FixedClock::at(now));
        let state = build_state(
            &keys_dir,
            store.clone(),
            public_url,
            clock.clone(),
            status.clone(),
        )
        .await;
        // On a shared database, the app follows what every node commits, as `serve`
        // does.
        let _ = state.follow_fleet();
        Self {
            router: accolade::http::router(state.clone()),
            state,
            clock,
            keys_dir,
            store,
            public_url: public_url.trim_end_matches('/').to_owned(),
            status,
            smtp: None,
            _dir: dir,
        }
    }

    /// A second node of the same fleet: its own process state over this app's
    /// database schema, the same keys and public URL. `None` on sled (one process
    /// owns a sled store).
    pub async fn another_node(&self) -> Option<TestApp> {
        let url = database()?;
        let schema = std::fs::read_to_string(self._dir.path().join("schema")).ok()?;
        let dir = tempfile::tempdir().expect("tmp");
        copy_dir(&self.keys_dir, &dir.path().join("keys"));
        std::fs::write(dir.path().join("schema"), &schema).expect("schema name");
        let store = Store::connect(&url_in_schema(&url, &schema))
            .await
            .expect("second node's store");
        let clock = Arc::new(FixedClock::at(
            accolade::clock::Clock::now(&*self.clock).unix_timestamp(),
        ));
        let keys_dir = dir.path().join("keys");
        let state = build_state(
            &keys_dir,
            store.clone(),
            &self.public_url,
            clock.clone(),
            self.status.clone(),
        )
        .await;
        state
            .follow_fleet()
            .expect("a shared store sends change notices");
        Some(Self {
            router: accolade::http::router(state.clone()),
            state,
            clock,
            keys_dir,
            store,
            public_url: self.public_url.clone(),
            status: self.status.clone(),
            smtp: None,
            _dir: dir,
        })
    }

    /// An app over a copy of a data directory written earlier (a fixture), with the
    /// committed ES256 key, the public URL the data was written under, and the clock at
    /// `now`.
    pub async fn over_copy_of(data: &Path, public_url: &str, now: i64) -> Self {
        let dir = tempfile::tempdir().expect("tmp");
        install_test_key(&dir.path().join("keys"), Algorithm::ES256);
        copy_dir(data, &dir.path().join("data"));
        Self::in_dir(dir, public_url, now, StatusConfig::default()).await
    }

    /// An app over `store` (written elsewhere, e.g. by an import), with the committed
    /// ES256 key and the default public URL, as a fresh `serve` over it would be.
    /// The keys directory is moved along from `from` when given (its link secret, as
    /// an issuer moving to another machine takes its keys directory).
    pub async fn over_store_with_keys_of(store: Store, from: Option<&Path>) -> Self {
        let dir = tempfile::tempdir().expect("tmp");
        install_test_key(&dir.path().join("keys"), Algorithm::ES256);
        let keys_dir = dir.path().join("keys");
        if let Some(from) = from {
            let secret = std::fs::read(from.join("link-secret")).expect("link secret");
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(keys_dir.join("link-secret"))
                .expect("write link secret");
            std::io::Write::write_all(&mut f, &secret).expect("write link secret");
        }
        let clock = Arc::new(FixedClock::at(NOW));
        let status = StatusConfig::default();
        let state = build_state(
            &keys_dir,
            store.clone(),
            PUBLIC_URL,
            clock.clone(),
            status.clone(),
        )
        .await;
        Self {
            router: accolade::http::router(state.clone()),
            state,
            clock,
            keys_dir,
            store,
            public_url: PUBLIC_URL.to_owned(),
            status,
            smtp: None,
            _dir: dir,
        }
    }

    /// Reloads keys as a restart would (same store).
    pub async fn restart(&mut self) {
        self.state = build_state(
            &self.keys_dir,
            self.store.clone(),
            &self.public_url,
            self.clock.clone(),
            self.status.clone(),
        )
        .await;
        if let Some(c) = self.smtp.clone() {
            self.state.set_smtp(c).expect("smtp");
        }
        self.router = accolade::http::router(self.state.clone());
    }

    /// Sends e-mail through the SMTP server at `url` (as `--smtp-url`).
    pub fn use_smtp(&mut self, url: &str) {
        let c = accolade::mail::SmtpConfig::parse(
            url,
            "Example Badges <badges@example.edu>",
            None,
            None,
        )
        .expect("smtp url");
        self.smtp = Some(c.clone());
        self.state.set_smtp(c).expect("smtp");
        self.router = accolade::http::router(self.state.clone());
    }

    /// A request with extra headers, from a client address; the answer's status,
    /// headers and JSON body (`Null` when empty).
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
        from: Option<std::net::SocketAddr>,
    ) -> (StatusCode, HeaderMap, Value) {
        let mut b = Request::builder().method(method).uri(path);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let mut req = match body {
            Some(v) => b
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(serde_json::to_vec(&v).expect("json")))
                .expect("request"),
            None => b.body(Body::empty()).expect("request"),
        };
        if let Some(a) = from {
            req.extensions_mut().insert(axum::extract::ConnectInfo(a));
        }
        let (status, headers, bytes) = self.send(req).await;
        let v = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, headers, v)
    }

    /// An app served on a real socket at `http://127.0.0.1:<port>`, its public URL.
    pub async fn listening(alg: Algorithm) -> (Self, std::net::SocketAddr) {
        Self::listening_limited(alg, accolade::limits::Limits::default(), None).await
    }

    /// As [`TestApp::listening`], served as `serve` serves (connection limits and
    /// timeouts) with these `limits`, and `rate_limit` when given.
    pub async fn listening_limited(
        alg: Algorithm,
        limits: accolade::limits::Limits,
        rate_limit: Option<accolade::app::RateLimit>,
    ) -> (Self, std::net::SocketAddr) {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        std_listener.set_nonblocking(true).expect("nonblocking");
        let addr = std_listener.local_addr().expect("addr");
        let mut app = Self::with(alg, &format!("http://{addr}")).await;
        app.state.set_limits(limits.clone());
        if let Some(r) = rate_limit {
            app.state.set_rate_limit(r);
        }
        app.router = accolade::http::router(app.state.clone());
        let router = app.router.clone();
        let limiter = accolade::http::server::ConnectionLimiter::new(
            limits,
            accolade::net::proxy::TrustedProxies::default(),
        );
        tokio::spawn(async move {
            let _ = accolade::http::server::serve(
                std_listener,
                router,
                limiter,
                None,
                axum_server::Handle::new(),
            )
            .await;
        });
        (app, addr)
    }

    /// Exempts `hosts` (HOST:PORT) from the outbound rules, as `--allow-http-did-web`.
    pub fn allow_http_did_web(&mut self, hosts: &[String]) {
        let hosts = hosts
            .iter()
            .map(|h| h.parse().expect("HOST:PORT"))
            .collect();
        self.state.set_allow_http_did_web(hosts);
        self.router = accolade::http::router(self.state.clone());
    }

    pub async fn send(&self, req: Request<Body>) -> (StatusCode, HeaderMap, Bytes) {
        let res = self.router.clone().oneshot(req).await.expect("infallible");
        let status = res.status();
        let headers = res.headers().clone();
        let body = res.into_body().collect().await.expect("body").to_bytes();
        (status, headers, body)
    }

    /// A JSON request; `admin` adds the bearer token.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        admin: bool,
    ) -> (StatusCode, Value) {
        let mut b = Request::builder().method(method).uri(path);
        if admin {
            b = b.header(header::AUTHORIZATION, format!("Bearer {TOKEN}"));
        }
        let req = match body {
            Some(v) => b
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(serde_json::to_vec(&v).expect("json")))
                .expect("request"),
            None => b.body(Body::empty()).expect("request"),
        };
        let (status, _, bytes) = self.send(req).await;
        let v = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|_| {
                panic!(
                    "{path}: body is not JSON: {}",
                    String::from_utf8_lossy(&bytes)
                )
            })
        };
        (status, v)
    }

    pub async fn admin(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.call(method, path, body, true).await
    }

    pub async fn create_achievement(&self) -> Value {
        let (s, v) = self
            .admin(
                Method::POST,
                "/api/v1/achievements",
                Some(sample_achievement_input()),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        v
    }

    /// Awards directly to `did`; returns the award response.
    pub async fn award_direct(&self, achievement_id: &str, did: &str) -> Value {
        let (s, v) = self
            .admin(
                Method::POST,
                "/api/v1/awards",
                Some(json!({
                    "achievement_id": achievement_id,
                    "recipient": {"name": "Ada Lovelace", "email": "ada@example.org", "id": did},
                    "delivery": "direct"
                })),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        v
    }

    /// Issues one badge and returns its JWT.
    pub async fn issue_badge(&self) -> String {
        let a = self.create_achievement().await;
        let award = self
            .award_direct(a["id"].as_str().expect("id"), HOLDER_DID)
            .await;
        award["credential"].as_str().expect("jwt").to_owned()
    }

    pub async fn verify(&self, credential: Value) -> (StatusCode, Value) {
        self.call(
            Method::POST,
            "/api/v1/verify",
            Some(json!({"credential": credential})),
            false,
        )
        .await
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read dir").flatten() {
        let target = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).expect("copy");
        }
    }
}

async fn build_state(
    keys_dir: &Path,
    store: Store,
    public_url: &str,
    clock: Arc<FixedClock>,
    status: StatusConfig,
) -> AppState {
    let keys = Keyring::load(keys_dir).expect("keys");
    let state = AppState::with_status(
        store,
        Arc::new(keys),
        url::Url::parse(public_url).expect("url"),
        AdminToken::new(TOKEN),
        clock,
        status,
    )
    .await
    .expect("state");
    // As `serve` does: a key a Data Integrity suite needs is made in the keys dir.
    state
        .issuer
        .keys()
        .set_maker(accolade::app::KeySource::Dir(keys_dir.to_owned()).maker());
    state
}

/// The OB 3.0 test-vector key as a holder DID.
pub const HOLDER_DID: &str = "did:key:z6MkjZRZv3aez3r18pB1RBFJR1kwUVJ5jHt92JmQwXbd5hwi";

pub fn sample_achievement_input() -> Value {
    json!({
        "name": "Cloud Practitioner — Knowledge",
        "description": "Understands core cloud concepts, services, security and pricing.",
        "criteria": {"narrative": "Passed the Cloud Practitioner knowledge exam with 70% or more."},
        "achievementType": "Certification",
        "tags": ["cloud", "knowledge"],
        "image": "https://badges.example.edu/img/cloud-practitioner.png",
        "alignment": [{"targetName": "Cloud computing fundamentals", "targetUrl": "https://framework.example.org/cloud/1", "targetType": "CFItem"}],
        "inLanguage": "en"
    })
}

pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    accolade::jose::b64(bytes)
}

pub fn b64d(s: &str) -> Vec<u8> {
    accolade::jose::b64_decode(s, "test").expect("base64url")
}

/// Splits a compact JWS into (header JSON, payload JSON, signature bytes).
pub fn decode_jwt(jwt: &str) -> (Value, Value, Vec<u8>) {
    let parts: Vec<&str> = jwt.split('.').collect();
    assert_eq!(parts.len(), 3);
    (
        serde_json::from_slice(&b64d(parts[0])).expect("header"),
        serde_json::from_slice(&b64d(parts[1])).expect("payload"),
        b64d(parts[2]),
    )
}

/// Builds a compact JWS from raw header and payload text, signed by `key` over exactly
/// those bytes (to forge attack tokens).
pub fn forge(key: &SigningKey, header: &str, payload: &str) -> String {
    let input = format!("{}.{}", b64(header), b64(payload));
    let sig = key.sign(input.as_bytes()).expect("sign");
    format!("{input}.{}", b64(sig))
}

/// The outcome of a named check in a report.
pub fn outcome<'a>(report: &'a Value, check: &str) -> Option<&'a str> {
    report["checks"]
        .as_array()?
        .iter()
        .find(|c| c["check"] == check)
        .and_then(|c| c["outcome"].as_str())
}

pub fn message<'a>(report: &'a Value, check: &str) -> &'a str {
    report["checks"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["check"] == check))
        .and_then(|c| c["message"].as_str())
        .unwrap_or("")
}

/// A did:key for `k` and the DID URL of its key.
pub fn did_key_of(k: &SigningKey) -> (String, String) {
    let did = accolade::did::key::did_key_for(k.public_jwk()).expect("did");
    let kid = format!("{did}#{}", did.method_specific_id());
    (did.to_string(), kid)
}

/// One of the 1EdTech examples in `tests/vectors/examples`, as a JSON object.
pub fn example(name: &str) -> serde_json::Map<String, Value> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors/examples")
        .join(name);
    serde_json::from_slice::<Value>(&std::fs::read(path).expect("example"))
        .expect("json")
        .as_object()
        .cloned()
        .expect("object")
}
