//! `accolade serve`: configuration (flags and their `ACCOLADE_*` variables),
//! start-up checks, and the server loop with graceful shutdown.

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::builder::TypedValueParser as _;

use anyhow::Context as _;
use clap::Args;

use crate::app::{self, AppState, RateLimit, TokenSource};
use crate::clock::SystemClock;
use crate::issue::StatusConfig;
use crate::jose::Algorithm;
use crate::status::BadgePurposes;
use crate::store::Store;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address and port to listen on (port 0 picks a free one).
    #[arg(long, env = "ACCOLADE_LISTEN", default_value = "127.0.0.1:8080", value_parser = super::parse_listen)]
    pub listen: SocketAddr,
    /// The issuer's public URL: its did:web identity and the base of every id it
    /// mints. https://badges.example.edu → did:web:badges.example.edu. Defaults to
    /// <scheme>://<bound address> (an IP literal: local development only).
    #[arg(long, env = "ACCOLADE_PUBLIC_URL", value_parser = super::parse_public_url)]
    pub public_url: Option<url::Url>,
    /// Where the store (an embedded database) and the admin token live.
    #[arg(long, env = "ACCOLADE_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// A PostgreSQL database shared by every node of a fleet:
    /// postgres://USER:PASS@HOST:PORT/DB (sslmode=disable|prefer|require, default
    /// prefer). Without it, the store is the embedded database in --data-dir (one
    /// process).
    #[arg(
        long,
        env = "ACCOLADE_DATABASE_URL",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub database_url: Option<String>,
    /// Where the signing keys live (PKCS#8 PEM, mode 0600). A key of --key-alg is
    /// generated when the directory holds none.
    #[arg(long, env = "ACCOLADE_KEYS_DIR", default_value = "./keys")]
    pub keys_dir: PathBuf,
    /// Algorithm of a generated key: ES256 (P-256), RS256 (RSA 2048) or EdDSA (Ed25519).
    #[arg(long, env = "ACCOLADE_KEY_ALG", default_value = "ES256")]
    pub key_alg: Algorithm,
    /// TLS certificate chain (PEM); serve HTTPS with --tls-key.
    #[arg(long, env = "ACCOLADE_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM) for --tls-cert.
    #[arg(long, env = "ACCOLADE_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// HOST:PORT whose did:web documents and status lists may be fetched over plain
    /// HTTP from a loopback or private address (local development and tests).
    /// Repeatable; off by default.
    #[arg(
        long = "allow-http-did-web",
        env = "ACCOLADE_ALLOW_HTTP_DID_WEB",
        value_delimiter = ',',
        value_name = "HOST:PORT"
    )]
    pub allow_http_did_web: Vec<crate::net::AllowedHost>,
    /// A load balancer or TLS terminator in front of the service: connections from
    /// this network (a CIDR block or one address; repeatable) name the client in
    /// X-Forwarded-For, and per-address limits use that address. The header is
    /// ignored on every other connection.
    #[arg(
        long = "trusted-proxy",
        env = "ACCOLADE_TRUSTED_PROXY",
        value_delimiter = ',',
        value_name = "CIDR",
        value_parser = parse_proxy
    )]
    pub trusted_proxy: Vec<ipnet::IpNet>,
    /// Also serve GET /metrics (Prometheus text) on this address, without the admin
    /// token: for a scraper on a private network. On the main listener /metrics
    /// needs the admin token.
    #[arg(long, env = "ACCOLADE_METRICS_LISTEN", value_name = "ADDR", value_parser = super::parse_listen)]
    pub metrics_listen: Option<SocketAddr>,
    /// Serve this store under a --public-url other than the one it was created for:
    /// the issuer moves. Badges issued before keep naming the old DID (they verify
    /// only while its DID document stays published). Without it such a start is
    /// refused.
    #[arg(long, env = "ACCOLADE_MOVE_IDENTITY")]
    pub move_identity: bool,
    /// Requests per second per client IP, or "off". 429 with Retry-After beyond it.
    #[arg(long, env = "ACCOLADE_RATE_LIMIT", default_value = "2000", value_parser = parse_rate_limit)]
    pub rate_limit: RateLimit,
    /// Which status entries each badge carries: "revocation" (one object, the Open
    /// Badges 3.0 form) or "revocation,suspension" (an array, as VCDM 2.0 allows; strict
    /// OB 3.0 schema validators reject it). Suspension is enforced by this service's
    /// own verifier and pages either way.
    #[arg(long, env = "ACCOLADE_STATUS_PURPOSES", default_value = "revocation")]
    pub status_purposes: BadgePurposes,
    /// How long verifiers may cache a status list, in seconds: the list's `ttl` (in
    /// milliseconds) and its Cache-Control max-age.
    #[arg(long, env = "ACCOLADE_STATUS_TTL", default_value_t = crate::status::DEFAULT_TTL_SECONDS,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub status_ttl: u64,
    /// A trust registry file applied at every start: a Digital Credentials Consortium
    /// issuer registry ({"registry": {"<did>": {"name", "url"}}}) or this service's
    /// export ({"issuers": [...]}). Its entries are recorded with source
    /// file:<path>; entries it no longer lists are dropped; a blocked entry is never
    /// turned trusted by it.
    #[arg(long, env = "ACCOLADE_TRUST_REGISTRY", value_name = "FILE")]
    pub trust_registry: Option<PathBuf>,
    /// The SMTP server for e-mail to earners and staff: smtp://HOST:PORT (plain),
    /// smtp://HOST:PORT?tls=starttls, or smtps://HOST:PORT (TLS); a user and password
    /// in the URL, or ACCOLADE_SMTP_USER / ACCOLADE_SMTP_PASSWORD. Without it, nothing
    /// is e-mailed and awards with "delivery": "email" are refused.
    #[arg(
        long,
        env = "ACCOLADE_SMTP_URL",
        value_name = "URL",
        requires = "mail_from"
    )]
    pub smtp_url: Option<String>,
    /// The sender of e-mail: "Name <address@example.edu>".
    #[arg(long, env = "ACCOLADE_MAIL_FROM", value_name = "MAILBOX")]
    pub mail_from: Option<String>,
    /// Connections open at once, in all.
    #[arg(long, env = "ACCOLADE_MAX_CONNECTIONS", default_value_t = crate::limits::Limits::default().max_connections,
          value_parser = clap::value_parser!(u32).range(1..).map(|n| n as usize))]
    pub max_connections: usize,
    /// Connections open at once from one client address (an IPv6 /64).
    #[arg(long, env = "ACCOLADE_MAX_CONNECTIONS_PER_ADDRESS", default_value_t = crate::limits::Limits::default().max_per_address,
          value_parser = clap::value_parser!(u32).range(1..).map(|n| n as usize))]
    pub max_connections_per_address: usize,
    /// Seconds for a request head to arrive (also closes idle connections).
    #[arg(long, env = "ACCOLADE_HEADER_TIMEOUT", default_value = "10", value_parser = parse_seconds)]
    pub header_timeout: Duration,
    /// Seconds for a request body to arrive, from the request's start.
    #[arg(long, env = "ACCOLADE_BODY_TIMEOUT", default_value = "30", value_parser = parse_seconds)]
    pub body_timeout: Duration,
    /// Seconds to answer a request (not the admin API's).
    #[arg(long, env = "ACCOLADE_REQUEST_TIMEOUT", default_value = "30", value_parser = parse_seconds)]
    pub request_timeout: Duration,
    /// Verifications in flight at once, in all (503 beyond).
    #[arg(long, env = "ACCOLADE_MAX_VERIFICATIONS", default_value_t = crate::limits::Limits::default().verifications,
          value_parser = clap::value_parser!(u32).range(1..).map(|n| n as usize))]
    pub max_verifications: usize,
    /// Verifications in flight at once for one client (429 beyond).
    #[arg(long, env = "ACCOLADE_MAX_VERIFICATIONS_PER_CLIENT", default_value_t = crate::limits::Limits::default().verifications_per_client,
          value_parser = clap::value_parser!(u32).range(1..).map(|n| n as usize))]
    pub max_verifications_per_client: usize,
    /// MiB of verification request bodies held at once, in all (503 beyond).
    #[arg(long, env = "ACCOLADE_VERIFICATION_MEMORY_MIB", default_value_t = crate::limits::Limits::default().verification_bytes / (1024 * 1024),
          value_parser = clap::value_parser!(u32).range(16..).map(|n| n as usize))]
    pub verification_memory_mib: usize,
    /// Outbound fetches in flight at once for one client's requests.
    #[arg(long, env = "ACCOLADE_MAX_FETCHES_PER_CLIENT", default_value_t = crate::limits::Limits::default().fetches_per_client,
          value_parser = clap::value_parser!(u32).range(1..).map(|n| n as usize))]
    pub max_fetches_per_client: usize,
}

impl ServeArgs {
    /// The bounds these flags set.
    pub fn limits(&self) -> crate::limits::Limits {
        crate::limits::Limits {
            max_connections: self.max_connections,
            max_per_address: self.max_connections_per_address,
            header_timeout: self.header_timeout,
            body_timeout: self.body_timeout,
            request_timeout: self.request_timeout,
            verifications: self.max_verifications,
            verifications_per_client: self.max_verifications_per_client,
            verification_bytes: self.verification_memory_mib * 1024 * 1024,
            fetches_per_client: self.max_fetches_per_client,
        }
    }
}

fn parse_seconds(s: &str) -> Result<Duration, String> {
    match s.trim().parse::<f64>() {
        Ok(n) if n > 0.0 && n <= 3600.0 => Ok(Duration::from_secs_f64(n)),
        _ => Err(format!(
            "{s:?} is not a number of seconds between 0 and 3600"
        )),
    }
}

impl clap::builder::ValueParserFactory for BadgePurposes {
    type Parser = clap::builder::ValueParser;
    fn value_parser() -> Self::Parser {
        clap::builder::ValueParser::new(|s: &str| s.parse::<BadgePurposes>())
    }
}

fn parse_proxy(s: &str) -> Result<ipnet::IpNet, String> {
    crate::net::proxy::parse_network(s).map_err(|e| e.to_string())
}

fn parse_rate_limit(s: &str) -> Result<RateLimit, String> {
    s.parse()
}

impl clap::builder::ValueParserFactory for crate::net::AllowedHost {
    type Parser = clap::builder::ValueParser;
    fn value_parser() -> Self::Parser {
        clap::builder::ValueParser::new(|s: &str| s.parse::<crate::net::AllowedHost>())
    }
}

impl clap::builder::ValueParserFactory for RateLimit {
    type Parser = clap::builder::ValueParser;
    fn value_parser() -> Self::Parser {
        clap::builder::ValueParser::new(parse_rate_limit)
    }
}

pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    rt.block_on(serve(args))
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    crate::metrics::mark_start();
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(c), Some(k)) => {
            let _ = rustls::crypto::ring::default_provider().install_default();
            Some(
                axum_server::tls_rustls::RustlsConfig::from_pem_file(c, k)
                    .await
                    .with_context(|| {
                        format!(
                            "loading TLS certificate {} and key {}",
                            c.display(),
                            k.display()
                        )
                    })?,
            )
        }
        _ => None,
    };
    // The address first: a port in use stops the start before anything is made.
    let listener =
        TcpListener::bind(args.listen).with_context(|| format!("binding {}", args.listen))?;
    listener.set_nonblocking(true)?;
    let bound = listener.local_addr()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let public_url = match args.public_url.clone() {
        Some(u) => u,
        None => url::Url::parse(&format!("{scheme}://{bound}"))?,
    };
    let did = crate::did::web::identity_for_url(&public_url)
        .with_context(|| format!("the public URL {public_url}"))?
        .did;
    // Whatever this start makes (a data directory, a keys directory, a key) is
    // removed again if it fails.
    let mut made = Made::note(&args.data_dir, &args.keys_dir);
    let store = match &args.database_url {
        Some(url) => {
            let store = Store::connect(url)
                .await
                .context("connecting to the PostgreSQL database")?;
            crate::say!(
                "store: PostgreSQL ({})",
                crate::store::postgres::describe(url)
            );
            store
        }
        None => Store::open(&args.data_dir)
            .with_context(|| format!("opening the store in {}", args.data_dir.display()))?,
    };
    if let Some(note) = store.upgraded() {
        crate::say!("{note}");
    }
    let legacy = app::read_identity(&args.data_dir);
    match app::check_identity(
        &store,
        &public_url,
        did.as_str(),
        args.public_url.is_some(),
        args.move_identity,
        legacy,
    )
    .await?
    {
        app::IdentityCheck::Recorded | app::IdentityCheck::Same => {}
        app::IdentityCheck::DerivedDiffers(r) => crate::say!(
            "warning: this store was created for {} ({}); serving it at {public_url} for now (badges name {}; set --public-url {} to serve it as it is)",
            r.public_url,
            r.did,
            r.did,
            r.public_url
        ),
        app::IdentityCheck::Moved(r) => crate::say!(
            "warning: the issuer moves from {} ({}) to {public_url} ({did}): badges issued before name {} and verify only while its DID document stays published there",
            r.public_url,
            r.did,
            r.did
        ),
    }
    let key_source = match std::env::var("ACCOLADE_KEY_ENCRYPTION_KEY") {
        Ok(hex) if !hex.is_empty() => {
            if !store.fleet.shared() {
                anyhow::bail!(
                    "ACCOLADE_KEY_ENCRYPTION_KEY keeps the signing keys in a fleet's database: it needs --database-url (one process keeps them in --keys-dir)"
                );
            }
            app::KeySource::Database {
                fleet: store.fleet.clone(),
                kek: hex.parse()?,
            }
        }
        _ => app::KeySource::Dir(args.keys_dir.clone()),
    };
    let (keys, keys_origin) = key_source
        .load_or_create(&args.keys_dir, args.key_alg)
        .await
        .context("loading the signing keys")?;
    let env_token = std::env::var("ACCOLADE_ADMIN_TOKEN").ok();
    let (token, source) = if store.fleet.shared() {
        app::fleet_admin_token(env_token.as_deref(), &*store.fleet).await?
    } else {
        app::load_admin_token(env_token.as_deref(), &args.data_dir)?
    };

    let mut state = AppState::with_status(
        store.clone(),
        Arc::new(keys),
        public_url.clone(),
        token,
        Arc::new(SystemClock),
        StatusConfig {
            purposes: args.status_purposes.clone(),
            ttl_seconds: args.status_ttl,
        },
    )
    .await
    .context("starting the issuer")?;
    state.set_rate_limit(args.rate_limit);
    state.set_limits(args.limits());
    if !args.trusted_proxy.is_empty() {
        let list: Vec<String> = args.trusted_proxy.iter().map(|n| n.to_string()).collect();
        crate::say!(
            "trusted proxies: {} (X-Forwarded-For names the client on their connections)",
            list.join(", ")
        );
        state.set_trusted_proxies(crate::net::proxy::TrustedProxies::new(
            args.trusted_proxy.iter().copied(),
        ));
    }
    if let (Some(url), Some(from)) = (&args.smtp_url, &args.mail_from) {
        let user = std::env::var("ACCOLADE_SMTP_USER").ok();
        let password = std::env::var("ACCOLADE_SMTP_PASSWORD").ok();
        let cfg = crate::mail::SmtpConfig::parse(url, from, user.as_deref(), password.as_deref())?;
        crate::say!(
            "e-mail: through {}:{} ({:?}) from {}",
            cfg.host,
            cfg.port,
            cfg.tls,
            cfg.from
        );
        state.set_smtp(cfg)?;
    }
    state.set_allow_http_did_web(args.allow_http_did_web.clone());
    if let Some(path) = &args.trust_registry {
        let s = state
            .trust
            .apply_file(path)
            .await
            .map_err(anyhow::Error::msg)?;
        state
            .trust
            .flush()
            .await
            .context("flushing the trust registry")?;
        crate::say!(
            "trust registry {}: {} added, {} updated, {} unchanged, {} removed, {} left blocked",
            path.display(),
            s.imported,
            s.updated,
            s.unchanged,
            s.removed,
            s.skipped.len()
        );
    }

    if state.identity.ip_literal {
        crate::say!(
            "warning: public URL {public_url} is an IP literal; did:web forbids IP addresses, so verifiers elsewhere cannot resolve this issuer (use it for local development and tests only; set --public-url)"
        );
    }
    let doc_url = public_url
        .join(state.identity.document_path.trim_start_matches('/'))
        .map(|u| u.to_string())
        .unwrap_or_default();
    crate::say!("issuer DID {} (document at {doc_url})", state.identity.did);
    if let Ok(Some(w)) = state.issuer.profile_warning().await {
        crate::say!("warning: {w}");
    }
    crate::say!(
        "signing key {} ({}), keys from {keys_origin}",
        state.issuer.kid_url(),
        state.issuer.signing_algorithm()
    );
    crate::say!(
        "status lists: {} so far; badges carry {} entries",
        state.issuer.status_lists().list_count(),
        args.status_purposes
            .as_slice()
            .iter()
            .map(|p| p.as_str())
            .collect::<Vec<_>>()
            .join("+")
    );
    match &source {
        TokenSource::Environment => crate::say!("admin token: from ACCOLADE_ADMIN_TOKEN"),
        TokenSource::File(p) => crate::say!("admin token: stored in {}", p.display()),
        TokenSource::Database => crate::say!(
            "admin token: kept in the database (the same on every node); `accolade admin-token --database-url ...` prints it"
        ),
    }

    // On a fleet's database the data dir holds only these notes for other commands:
    // made when missing (the embedded store makes it otherwise).
    if !args.data_dir.exists() {
        use std::os::unix::fs::DirBuilderExt as _;
        let _ = std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&args.data_dir);
    }
    if let Err(e) = app::write_identity(&args.data_dir, &public_url, state.identity.did.as_str()) {
        crate::say!(
            "warning: could not record the identity in {}: {e}",
            args.data_dir.display()
        );
    }

    crate::say!(
        "OpenID4VCI: metadata at {}/.well-known/openid-credential-issuer",
        state.issuer.identifier()
    );
    crate::say!(
        "OpenID4VP: presentation requests at {}/api/v1/presentation-requests; trust registry: {} issuer(s)",
        state.issuer.identifier(),
        state.trust.len()
    );
    if state.follow_fleet().is_some() {
        crate::say!("fleet: following the changes other nodes commit");
        tokio::spawn(burn_abandoned(state.issuer.clone()));
        if let Some(limits) = state.store.limits.clone() {
            tokio::spawn(sweep_shared_limits(limits, state.clock.clone()));
        }
    }
    state.issuer.keys().set_maker(key_source.maker());
    tokio::spawn(reload_keys(state.clone(), key_source));
    tokio::spawn(sweep_wallet_state(state.oid4vci.clone()));
    tokio::spawn(sweep_presentation_requests(state.oid4vp.clone()));
    let partner_keys = state.partner_keys.clone();
    tokio::spawn(persist_partner_usage(partner_keys.clone()));
    tokio::spawn(state.mail.clone().run(state.store.fleet.clone()));
    tokio::spawn(sweep_sessions(state.staff.clone()));
    let tally = state.tally.clone();
    tokio::spawn(persist_tally(tally.clone()));
    // The console's dashboard totals: counted once now (the store keeps them after),
    // so that the first dashboard does not wait for the count.
    let awards = state.store.awards.clone();
    let rt = tokio::runtime::Handle::current();
    // The count walks every award's keys: on a thread of its own, off the workers.
    tokio::task::spawn_blocking(move || {
        if let Err(e) = rt.block_on(awards.award_counts()) {
            tracing::warn!(error = %e, "counting the awards failed");
        }
    });

    let limits = args.limits();
    crate::http::server::check_file_limit(&limits);
    let limiter =
        crate::http::server::ConnectionLimiter::new(limits, state.trusted_proxies.clone());
    if let Some(addr) = args.metrics_listen {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("listening for metrics on {addr}"))?;
        let bound = listener.local_addr()?;
        let router = crate::http::metrics_router(state.clone());
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, router).await {
                tracing::error!("the metrics listener stopped: {e}");
            }
        });
        println!("metrics on http://{bound}/metrics");
    }
    let app = crate::http::router(state);
    let handle = axum_server::Handle::new();
    // Signal handlers exist before anyone can see the listening line.
    let signals = Signals::install()?;
    tokio::spawn(shutdown_on_signal(signals, handle.clone()));
    if let Err(e) = app::write_serving(&args.data_dir, &format!("{scheme}://{bound}")) {
        crate::say!(
            "warning: could not record the listening address in {}: {e}",
            args.data_dir.display()
        );
    }
    made.keep();
    println!("listening on {scheme}://{bound}");
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
    crate::http::server::serve(listener, app, limiter, tls, handle).await?;
    partner_keys
        .persist_usage()
        .await
        .context("writing the API keys' usage counts")?;
    tally
        .persist()
        .await
        .context("writing the verification counts")?;
    store.flush().await.context("flushing the store")?;
    app::clear_serving(&args.data_dir);
    crate::say!("stopped; store flushed");
    Ok(())
}

/// In a fleet: every minute, burns the award intents a node left behind when it
/// stopped between reserving and signing (older than [`crate::issue::ABANDONED_AFTER`]).
async fn burn_abandoned(issuer: crate::issue::Issuer) {
    let mut tick = tokio::time::interval(crate::issue::ABANDONED_AFTER);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match issuer.recover(Some(crate::issue::ABANDONED_AFTER)).await {
            Ok(0) => {}
            Ok(n) => tracing::warn!(burned = n, "award intents another node left behind burned"),
            Err(e) => tracing::warn!(error = %e, "burning abandoned award intents failed"),
        }
    }
}

/// In a fleet: every ten minutes, drops the shared request budgets that are full
/// again and the sign-in throttles that neither delay nor count any more.
async fn sweep_shared_limits(
    limits: std::sync::Arc<dyn crate::store::SharedLimits>,
    clock: crate::clock::SharedClock,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(600));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = limits.sweep_limits(clock.now().unix_timestamp()).await {
            tracing::warn!(error = %e, "sweeping the shared limits failed");
        }
    }
}

/// How often the keys directory is read again.
const KEYS_RELOAD: Duration = Duration::from_secs(30);

/// Reads the keys every [`KEYS_RELOAD`] where they are kept: after `accolade keys
/// rotate` or `retire` (on this machine, on the directory a fleet shares, or on its
/// database) the service signs with and publishes the new set without a restart.
async fn reload_keys(state: AppState, source: app::KeySource) {
    let mut tick = tokio::time::interval(KEYS_RELOAD);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        match state.reload_keys_from(&source).await {
            Ok(true) => tracing::info!(
                signing = %state.issuer.kid_url(),
                "signing keys changed; now signing and publishing the new set"
            ),
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(error = %e, "reading the signing keys failed; keeping the keys in use");
            }
        }
    }
}

/// Saves the verification count every five seconds.
async fn persist_tally(tally: crate::stats::Tally) {
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = tally.persist().await {
            tracing::warn!(error = %e, "writing the verification count failed");
        }
    }
}

/// Removes expired staff sessions every ten minutes.
async fn sweep_sessions(staff: crate::staff::Staff) {
    let mut tick = tokio::time::interval(Duration::from_secs(600));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = staff.sweep().await {
            tracing::warn!(error = %e, "sweeping expired sessions failed");
        }
    }
}

/// SIGINT and SIGTERM streams, registered up front.
struct Signals {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> anyhow::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self {
            int: signal(SignalKind::interrupt()).context("installing the SIGINT handler")?,
            term: signal(SignalKind::terminate()).context("installing the SIGTERM handler")?,
        })
    }
}

async fn shutdown_on_signal(mut signals: Signals, handle: axum_server::Handle) {
    tokio::select! {
        _ = signals.int.recv() => {},
        _ = signals.term.recv() => {},
    }
    crate::say!("shutting down");
    handle.graceful_shutdown(Some(Duration::from_secs(10)));
}

/// Writes the partner API keys' changed usage counts every second (a crash loses at
/// most that last second's counts; shutdown writes them once more).
async fn persist_partner_usage(keys: crate::partner::KeyStore) {
    let mut tick = tokio::time::interval(crate::partner::PERSIST_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = keys.persist_usage().await {
            tracing::warn!(error = %e, "writing the API keys' usage counts failed");
        }
    }
}

/// Drops expired OpenID4VCI nonces and tokens once a minute.
async fn sweep_wallet_state(oid4vci: crate::oid4vci::Oid4vci) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
    loop {
        tick.tick().await;
        let o = oid4vci.clone();
        let rt = tokio::runtime::Handle::current();
        // A sweep walks every nonce and token: on a thread of its own, off the workers.
        match tokio::task::spawn_blocking(move || rt.block_on(o.sweep())).await {
            Ok(Ok(n)) if n > 0 => tracing::debug!(removed = n, "expired nonces and tokens swept"),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "sweeping expired nonces and tokens failed"),
            Err(e) => tracing::warn!(error = %e, "the sweep task failed"),
        }
    }
}

async fn sweep_presentation_requests(oid4vp: crate::oid4vp::Oid4vp) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
    loop {
        tick.tick().await;
        let o = oid4vp.clone();
        let rt = tokio::runtime::Handle::current();
        match tokio::task::spawn_blocking(move || rt.block_on(o.sweep())).await {
            Ok(Ok(n)) if n > 0 => tracing::debug!(removed = n, "old presentation requests swept"),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "sweeping old presentation requests failed"),
            Err(e) => tracing::warn!(error = %e, "the sweep task failed"),
        }
    }
}

/// What a start made that was not there before, removed again (on drop) unless the
/// start succeeds ([`Made::keep`]): a failed start leaves no directory or key behind.
struct Made {
    /// Directories that did not exist.
    new_dirs: Vec<std::path::PathBuf>,
    /// An existing keys directory and the entries it held.
    keys: Option<(
        std::path::PathBuf,
        std::collections::HashSet<std::ffi::OsString>,
    )>,
    kept: bool,
}

impl Made {
    fn note(data_dir: &std::path::Path, keys_dir: &std::path::Path) -> Self {
        let mut new_dirs = Vec::new();
        let mut keys = None;
        for dir in [data_dir, keys_dir] {
            if !dir.exists() {
                new_dirs.push(dir.to_path_buf());
            }
        }
        if let Ok(entries) = std::fs::read_dir(keys_dir) {
            keys = Some((
                keys_dir.to_path_buf(),
                entries
                    .filter_map(|e| e.ok().map(|e| e.file_name()))
                    .collect(),
            ));
        }
        Self {
            new_dirs,
            keys,
            kept: false,
        }
    }

    fn keep(&mut self) {
        self.kept = true;
    }
}

impl Drop for Made {
    fn drop(&mut self) {
        if self.kept {
            return;
        }
        if let Some((dir, before)) = &self.keys
            && let Ok(entries) = std::fs::read_dir(dir)
        {
            for e in entries.flatten() {
                if !before.contains(&e.file_name()) {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        for dir in &self.new_dirs {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}
