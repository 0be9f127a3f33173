//! The one hardened outbound HTTP client: every DID document, status list and `kid` URL
//! the verifier reaches goes through [`Outbound::get`].
//!
//! The rules:
//! - HTTPS only, with certificates checked against the Mozilla roots (`webpki-roots`)
//!   and the host name sent as SNI.
//! - IP-literal hosts are refused, and so is every host that resolves to an address
//!   that is not globally routable ([`addr::is_public`]): loopback, private, link-local,
//!   CGNAT, multicast and the rest. A host with any such address is refused outright.
//! - The socket connects to an address that was checked, never to a name resolved a
//!   second time, so a DNS answer that changes between check and use (rebinding)
//!   cannot redirect the request.
//! - Redirects are not followed: a 3xx is an error naming the status.
//! - Deadlines: 2 s for resolution and connection, 5 s for the whole exchange
//!   (including TLS and the body). A server that trickles bytes is cut off at 5 s, and
//!   the wait happens on an async task: nothing else waits for it.
//! - Bodies are capped per kind ([`Kind`]) and read no further than the cap.
//! - Names are resolved by an in-process asynchronous resolver (hickory, with the
//!   system's resolver configuration and hosts file), so a name server that never
//!   answers costs a cancelled future, not a thread.
//! - At most [`MAX_PER_HOST`] fetches run at once to one host and port, with a pool
//!   of its own for DID documents (so a flood of status-list or `kid` fetches to a
//!   host cannot starve the resolution of its DID), [`MAX_PER_ADDRESS`] to one address
//!   (an IPv6 /64 counts as one), and [`MAX_CONCURRENT`] in all; the last two are taken
//!   only after the name is resolved. Waiting for a slot is bounded by [`QUEUE_WAIT`]
//!   and does not count against the deadlines, which start once the slot is held; a
//!   fetch that found no slot fails with [`FetchError::Limit`], which callers never
//!   cache (it says nothing about the remote host). Each fetch also takes a slot of
//!   the client whose request caused it, and is charged to that client ([`caller`]).
//!
//! `--allow-http-did-web HOST:PORT` exempts exactly that host and port from the scheme,
//! address and IP-literal rules, for local development and tests.
//!
//! Caching sits above this client, in the verifier, where parsed and checked results
//! are kept (see `verify::remote`).

pub mod addr;
pub mod buckets;
pub mod caller;
pub mod proxy;

/// Outbound fetches not made because of a local limit (a full queue, a caller's spent
/// budget), since start.
static LIMITED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn count_limited() {
    LIMITED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
}

/// How many outbound fetches local limits have refused since start.
pub fn limited_count() -> u64 {
    LIMITED.load(std::sync::atomic::Ordering::Relaxed)
}

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::header;
use hyper_util::rt::TokioIo;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio::time::{Instant, timeout_at};
use url::{Host, Url};

/// Checks that `s` is an absolute http(s) URL with a host (what a badge may name as a
/// status list, an image, a home page).
pub fn validate_http_url(s: &str) -> Result<url::Url, String> {
    let u = url::Url::parse(s).map_err(|e| format!("{s:?} is not a URL ({e})"))?;
    if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none() {
        return Err(format!("{s:?} must be an http(s) URL"));
    }
    Ok(u)
}

/// Deadline for name resolution plus the TCP connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Deadline for the whole exchange, from holding a slot to the last body byte.
pub const TOTAL_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a fetch waits for a slot before giving up (a local limit, not cached).
pub const QUEUE_WAIT: Duration = Duration::from_secs(3);
/// Fetches in flight at once, across the process.
pub const MAX_CONCURRENT: usize = 1024;
/// Fetches in flight at once to one host name.
pub const MAX_PER_HOST: usize = 8;
/// Fetches in flight at once to one address (an IPv6 /64 counts as one).
pub const MAX_PER_ADDRESS: usize = 8;
/// System-resolver lookups in flight at once, when the in-process resolver cannot be
/// set up (each holds a blocking thread until the system resolver returns).
pub const MAX_LOOKUPS: usize = 64;
/// The longest URL fetched.
pub const MAX_URL: usize = 2048;

/// What is being fetched: decides the body cap and the `Accept` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A DID document: 256 KB.
    DidDocument,
    /// A status list credential. The encoded list is capped at 64 KB compressed (and
    /// 2 MiB expanded) by the decoder; base64url twice over plus the JWS frame stays
    /// well under 160 KiB.
    StatusList,
    /// A JWK (or JWK Set) named by an HTTPS `kid`: 64 KiB.
    Jwk,
    /// A badge someone gave the address of (a badge page, a hosted credential): its
    /// JWT, JSON or baked image, 2 MiB.
    Badge,
    /// A JSON Schema a credential names in `credentialSchema`: 256 KiB.
    Schema,
}

impl Kind {
    /// The largest body accepted.
    pub fn cap(self) -> usize {
        match self {
            Kind::DidDocument => 256 * 1024,
            Kind::StatusList => 160 * 1024,
            Kind::Jwk => 64 * 1024,
            Kind::Badge => 2 * 1024 * 1024,
            Kind::Schema => 256 * 1024,
        }
    }

    fn accept(self) -> &'static str {
        match self {
            Kind::DidDocument => "application/did+json, application/did+ld+json, application/json",
            Kind::StatusList => {
                "application/vc+jwt, application/jwt, application/vc+ld+json, application/json"
            }
            Kind::Jwk => "application/jwk+json, application/jwk-set+json, application/json",
            Kind::Schema => "application/schema+json, application/json",
            Kind::Badge => {
                "application/vc+jwt, application/jwt, application/vc+ld+json, application/ld+json;q=0.9, \
                 application/json;q=0.9, image/png;q=0.5, image/svg+xml;q=0.5"
            }
        }
    }
}

/// Why a fetch did not produce a body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    #[error("refused by the outbound rules: {0}")]
    Refused(String),
    #[error("{0} is not a usable URL")]
    BadUrl(String),
    #[error("could not resolve {0}")]
    Dns(String),
    #[error("could not connect to {0}")]
    Connect(String),
    #[error("TLS with {host} failed: {reason}")]
    Tls { host: String, reason: String },
    #[error("timed out after {0}")]
    Timeout(&'static str),
    #[error("the server answered {0}")]
    Status(u16),
    #[error("the server answered {0}, a redirect, which is not followed")]
    Redirect(u16),
    #[error("the body is larger than {0} bytes")]
    TooLarge(usize),
    #[error("HTTP error: {0}")]
    Http(String),
    #[error("not fetched: {0}")]
    Limit(String),
}

/// A host and port exempt from the outbound rules (`--allow-http-did-web`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AllowedHost {
    host: String,
    port: u16,
}

impl std::str::FromStr for AllowedHost {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (host, port) = s
            .trim()
            .rsplit_once(':')
            .ok_or_else(|| format!("{s:?} is not HOST:PORT"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let port: u16 = port
            .parse()
            .map_err(|_| format!("{s:?}: the port is not a number"))?;
        if host.is_empty() || host.contains(['/', '@', ' ']) {
            return Err(format!("{s:?}: not a host name or address"));
        }
        Ok(Self {
            host: host.to_ascii_lowercase(),
            port,
        })
    }
}

impl std::fmt::Display for AllowedHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// The client. Cheap to clone.
#[derive(Clone)]
pub struct Outbound {
    inner: Arc<Inner>,
}

struct Inner {
    allowed: HashSet<AllowedHost>,
    tls: tokio_rustls::TlsConnector,
    slots: Semaphore,
    lookups: Arc<Semaphore>,
    resolver: std::sync::OnceLock<Option<hickory_resolver::TokioResolver>>,
    /// Keyed by (DID documents?, host, port).
    per_host: Mutex<HashMap<(bool, String, u16), Arc<Semaphore>>>,
    per_address: Mutex<HashMap<IpAddr, Arc<Semaphore>>>,
    user_agent: String,
}

impl std::fmt::Debug for Outbound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbound")
            .field("allowed", &self.inner.allowed)
            .finish_non_exhaustive()
    }
}

impl Outbound {
    /// A client trusting the Mozilla roots, exempting `allowed` hosts.
    pub fn new(allowed: impl IntoIterator<Item = AllowedHost>) -> Self {
        Self::with_roots(allowed, Vec::new())
    }

    /// Like [`Outbound::new`], also trusting `extra_roots` (a private CA).
    pub fn with_roots(
        allowed: impl IntoIterator<Item = AllowedHost>,
        extra_roots: Vec<CertificateDer<'static>>,
    ) -> Self {
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        for c in extra_roots {
            if let Err(e) = roots.add(c) {
                tracing::warn!("ignoring an extra root certificate: {e}");
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map(|b| b.with_root_certificates(roots).with_no_client_auth())
            .unwrap_or_else(|e| unreachable!("ring supports the default versions: {e}"));
        Self {
            inner: Arc::new(Inner {
                allowed: allowed.into_iter().collect(),
                tls: tokio_rustls::TlsConnector::from(Arc::new(config)),
                slots: Semaphore::new(MAX_CONCURRENT),
                lookups: Arc::new(Semaphore::new(MAX_LOOKUPS)),
                resolver: std::sync::OnceLock::new(),
                per_host: Mutex::new(HashMap::new()),
                per_address: Mutex::new(HashMap::new()),
                user_agent: format!("accolade/{}", env!("CARGO_PKG_VERSION")),
            }),
        }
    }

    /// Whether `host:port` is exempt from the rules.
    pub fn is_allowed(&self, host: &str, port: u16) -> bool {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        self.inner.allowed.contains(&AllowedHost {
            host: host.to_ascii_lowercase(),
            port,
        })
    }

    /// The URL a did:web document is read from (did:web §3.2 "Read"): HTTPS, or plain
    /// HTTP for an allowed host.
    pub fn did_web_url(&self, did: &crate::did::Did) -> Result<Url, crate::did::Error> {
        let mut url = crate::did::web::document_url(did)?;
        if let Some(host) = url.host_str()
            && self.is_allowed(host, url.port_or_known_default().unwrap_or(443))
        {
            let port = url.port_or_known_default();
            let _ = url.set_scheme("http");
            let _ = url.set_port(port.filter(|p| *p != 80));
        }
        Ok(url)
    }

    /// GETs `url` under every rule above and returns its body. Counted in the
    /// metrics by result, with its time.
    pub async fn get(&self, raw: &str, kind: Kind) -> Result<Bytes, FetchError> {
        let started = Instant::now();
        let result = self.get_uncounted(raw, kind).await;
        let m = crate::metrics::metrics();
        m.fetches.inc(&[match &result {
            Ok(_) => "ok",
            Err(FetchError::Limit(_)) => "limited",
            Err(_) => "error",
        }]);
        m.fetch_latency.observe_duration(started.elapsed());
        result
    }

    async fn get_uncounted(&self, raw: &str, kind: Kind) -> Result<Bytes, FetchError> {
        if raw.len() > MAX_URL {
            return Err(FetchError::BadUrl(format!(
                "a URL of {} bytes (at most {MAX_URL} are fetched)",
                raw.len()
            )));
        }
        let url = Url::parse(raw).map_err(|_| FetchError::BadUrl(short(raw)))?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(FetchError::Refused(
                "URLs with credentials are not fetched".into(),
            ));
        }
        let https = match url.scheme() {
            "https" => true,
            "http" => false,
            s => {
                return Err(FetchError::Refused(format!(
                    "the scheme {s:?} is not fetched"
                )));
            }
        };
        let host = url.host().ok_or_else(|| FetchError::BadUrl(short(raw)))?;
        let port = url
            .port_or_known_default()
            .unwrap_or(if https { 443 } else { 80 });
        let host_text = url.host_str().unwrap_or_default().to_owned();
        let allowed = self.is_allowed(&host_text, port);
        if !allowed {
            if !https {
                return Err(FetchError::Refused(format!(
                    "{host_text}:{port}: only HTTPS is fetched (plain HTTP needs --allow-http-did-web {host_text}:{port})"
                )));
            }
            if !matches!(host, Host::Domain(_)) {
                return Err(FetchError::Refused(format!(
                    "{host_text} is an IP address; did:web and outbound fetches need a host name (for local development: --allow-http-did-web {host_text}:{port})"
                )));
            }
        }

        // The client's slot first, then the host's: one client's queue never holds a
        // host's slot while it waits.
        let _caller_slot = caller::admit_fetch().await?;
        let host_slots = slots_for(
            &self.inner.per_host,
            (
                kind == Kind::DidDocument,
                host_text.to_ascii_lowercase(),
                port,
            ),
            MAX_PER_HOST,
        );
        let _host_slot = queue(&host_slots, Instant::now() + QUEUE_WAIT, || {
            format!("{host_text}:{port}")
        })
        .await?;
        // The deadlines run from here: waiting in a queue above is ours, not the
        // remote host's.
        let deadline = Instant::now() + TOTAL_TIMEOUT;
        match timeout_at(
            deadline,
            self.exchange_within(&url, kind, &host_text, port, https, allowed, deadline, raw),
        )
        .await
        {
            Ok(r) => r,
            Err(_) => Err(FetchError::Timeout("5 s")),
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn exchange_within(
        &self,
        url: &Url,
        kind: Kind,
        host_text: &str,
        port: u16,
        https: bool,
        allowed: bool,
        deadline: Instant,
        raw: &str,
    ) -> Result<Bytes, FetchError> {
        let host = url.host().ok_or_else(|| FetchError::BadUrl(short(raw)))?;
        let host_text = host_text.to_owned();
        let connect_deadline = (Instant::now() + CONNECT_TIMEOUT).min(deadline);
        let addrs: Vec<SocketAddr> = match host {
            Host::Ipv4(ip) => vec![SocketAddr::new(IpAddr::V4(ip), port)],
            Host::Ipv6(ip) => vec![SocketAddr::new(IpAddr::V6(ip), port)],
            Host::Domain(d) => timeout_at(connect_deadline, self.lookup(d.to_owned(), port))
                .await
                .map_err(|_| FetchError::Timeout("2 s resolving the host"))??,
        };
        if addrs.is_empty() {
            return Err(FetchError::Dns(host_text));
        }
        if !allowed && addrs.iter().any(|a| !addr::is_public(a.ip())) {
            // Which address is not said: the answer would tell anyone how names
            // resolve inside this network.
            return Err(FetchError::Refused(format!(
                "{host_text} does not resolve to public addresses only (for local development: --allow-http-did-web {host_text}:{port})"
            )));
        }
        let address_slots = slots_for(
            &self.inner.per_address,
            address_key(addrs[0].ip()),
            MAX_PER_ADDRESS,
        );
        // Given up a little before the deadline, so that it is reported as the limit
        // it is, not as the remote host's timeout.
        let wait_until = deadline - Duration::from_millis(100);
        let _address_slot = queue(&address_slots, wait_until, || host_text.clone()).await?;
        let _slot = queue(&self.inner.slots, wait_until, || "any host".to_owned()).await?;
        let tcp = connect_any(&addrs, connect_deadline, &host_text).await?;
        let _ = tcp.set_nodelay(true);

        if https {
            let name = ServerName::try_from(
                host_text
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .to_owned(),
            )
            .map_err(|_| FetchError::BadUrl(short(raw)))?;
            let tls = self
                .inner
                .tls
                .connect(name, tcp)
                .await
                .map_err(|e| FetchError::Tls {
                    host: host_text.clone(),
                    reason: e.to_string(),
                })?;
            exchange(tls, url, kind, &self.inner.user_agent).await
        } else {
            exchange(tcp, url, kind, &self.inner.user_agent).await
        }
    }
}

impl Outbound {
    /// Resolves a name: with the in-process resolver, or (when it cannot be set up)
    /// the system resolver on a blocking thread, holding a lookup slot until that
    /// thread is done even when the caller has given up.
    async fn lookup(&self, host: String, port: u16) -> Result<Vec<SocketAddr>, FetchError> {
        let resolver = self.inner.resolver.get_or_init(|| {
            match hickory_resolver::Resolver::builder_tokio().and_then(|b| b.build()) {
                Ok(r) => Some(r),
                Err(e) => {
                    tracing::warn!(
                        "in-process DNS resolver unavailable ({e}); using the system resolver"
                    );
                    None
                }
            }
        });
        if let Some(r) = resolver {
            let found = r
                .lookup_ip(host.as_str())
                .await
                .map_err(|_| FetchError::Dns(host.clone()))?;
            return Ok(found
                .iter()
                .take(16)
                .map(|ip| SocketAddr::new(ip, port))
                .collect());
        }
        let permit = self
            .inner
            .lookups
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| FetchError::Http("the client is shutting down".into()))?;
        let name = host.clone();
        let found = tokio::task::spawn_blocking(move || {
            let r = std::net::ToSocketAddrs::to_socket_addrs(&(name.as_str(), port))
                .map(|a| a.take(16).collect::<Vec<_>>());
            drop(permit);
            r
        })
        .await
        .map_err(|_| FetchError::Dns(host.clone()))?;
        found.map_err(|_| FetchError::Dns(host))
    }
}

/// A slot of `slots`, waiting until `until` at most; a full queue is a local limit.
async fn queue<'a>(
    slots: &'a Semaphore,
    until: Instant,
    what: impl FnOnce() -> String,
) -> Result<tokio::sync::SemaphorePermit<'a>, FetchError> {
    match timeout_at(until, slots.acquire()).await {
        Ok(Ok(p)) => Ok(p),
        Ok(Err(_)) => Err(FetchError::Http("the client is shutting down".into())),
        Err(_) => {
            count_limited();
            Err(FetchError::Limit(format!(
                "too many fetches to {} are waiting",
                what()
            )))
        }
    }
}

/// The slots of one key (a host, an address, a client); the table forgets keys nobody
/// is using when it grows.
pub fn slots_for<K: std::hash::Hash + Eq>(
    table: &Mutex<HashMap<K, Arc<Semaphore>>>,
    key: K,
    permits: usize,
) -> Arc<Semaphore> {
    let mut map = table
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if map.len() > 4 * MAX_CONCURRENT {
        map.retain(|_, s| Arc::strong_count(s) > 1);
    }
    map.entry(key)
        .or_insert_with(|| Arc::new(Semaphore::new(permits)))
        .clone()
}

/// The key addresses are counted under: the address, or an IPv6 address's /64.
fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
    }
}

async fn connect_any(
    addrs: &[SocketAddr],
    deadline: Instant,
    host: &str,
) -> Result<TcpStream, FetchError> {
    for a in addrs {
        match timeout_at(deadline, TcpStream::connect(a)).await {
            Ok(Ok(s)) => return Ok(s),
            Ok(Err(_)) => continue,
            Err(_) => return Err(FetchError::Timeout("2 s connecting")),
        }
    }
    Err(FetchError::Connect(host.to_owned()))
}

/// One HTTP/1.1 GET on an open connection.
async fn exchange<S>(io: S, url: &Url, kind: Kind, user_agent: &str) -> Result<Bytes, FetchError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| FetchError::Http(e.to_string()))?;
    // The connection task ends with the exchange: the sender is dropped below.
    let driver = tokio::spawn(async move {
        let _ = conn.await;
    });
    let host_header = match url.port() {
        Some(p) => format!("{}:{p}", url.host_str().unwrap_or_default()),
        None => url.host_str().unwrap_or_default().to_owned(),
    };
    let path = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    };
    let req = hyper::Request::get(path)
        .header(header::HOST, host_header)
        .header(header::ACCEPT, kind.accept())
        .header(header::USER_AGENT, user_agent)
        .header(header::CONNECTION, "close")
        .body(Empty::<Bytes>::new())
        .map_err(|e| FetchError::Http(e.to_string()))?;
    let result = async {
        let res = send
            .send_request(req)
            .await
            .map_err(|e| FetchError::Http(e.to_string()))?;
        let status = res.status();
        if status.is_redirection() {
            return Err(FetchError::Redirect(status.as_u16()));
        }
        if !status.is_success() {
            return Err(FetchError::Status(status.as_u16()));
        }
        let cap = kind.cap();
        if let Some(len) = res
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            && len > cap as u64
        {
            return Err(FetchError::TooLarge(cap));
        }
        let mut body = res.into_body();
        let mut out = Vec::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| FetchError::Http(e.to_string()))?;
            if let Ok(data) = frame.into_data() {
                if out.len() + data.len() > cap {
                    return Err(FetchError::TooLarge(cap));
                }
                out.extend_from_slice(&data);
            }
        }
        Ok(Bytes::from(out))
    }
    .await;
    drop(send);
    driver.abort();
    result
}

fn short(s: &str) -> String {
    if s.len() <= 120 {
        format!("{s:?}")
    } else {
        let cut = (0..=120)
            .rev()
            .find(|i| s.is_char_boundary(*i))
            .unwrap_or(0);
        format!("{:?}…", &s[..cut])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn plain_http_ip_literals_and_private_hosts_are_refused_before_connecting() {
        let out = Outbound::new([]);
        for (url, needle) in [
            ("http://example.com/x", "only HTTPS"),
            ("https://127.0.0.1/x", "IP address"),
            ("https://[::1]/x", "IP address"),
            ("https://10.0.0.1/x", "IP address"),
            // Which address it resolves to is not said.
            (
                "https://localhost:1/x",
                "does not resolve to public addresses only",
            ),
            ("ftp://example.com/x", "scheme"),
            ("https://u:p@example.com/x", "credentials"),
        ] {
            let e = out.get(url, Kind::DidDocument).await.expect_err(url);
            assert!(e.to_string().contains(needle), "{url}: {e}");
        }
    }

    #[test]
    fn hosts_are_queued_per_port_and_did_documents_in_a_pool_of_their_own() {
        let table = Mutex::new(HashMap::new());
        let key = |did: bool, port: u16| (did, "issuer.example".to_owned(), port);
        let status_443 = slots_for(&table, key(false, 443), MAX_PER_HOST);
        let status_8443 = slots_for(&table, key(false, 8443), MAX_PER_HOST);
        let did_443 = slots_for(&table, key(true, 443), MAX_PER_HOST);
        // Every status-list slot of port 443 taken...
        let _held: Vec<_> = (0..MAX_PER_HOST)
            .map(|_| status_443.try_acquire().expect("slot"))
            .collect();
        assert!(status_443.try_acquire().is_err());
        // ...leaves the same host's other port and its DID document free.
        assert!(status_8443.try_acquire().is_ok());
        assert!(did_443.try_acquire().is_ok());
        assert!(Arc::ptr_eq(
            &status_443,
            &slots_for(&table, key(false, 443), MAX_PER_HOST)
        ));
    }

    #[tokio::test]
    async fn a_full_queue_is_a_local_limit_not_the_hosts_failure() {
        let slots = Semaphore::new(1);
        let _held = slots.acquire().await.expect("slot");
        let before = limited_count();
        let e = queue(&slots, Instant::now() + Duration::from_millis(50), || {
            "issuer.example:443".into()
        })
        .await
        .expect_err("full");
        assert!(matches!(e, FetchError::Limit(_)), "{e}");
        assert!(limited_count() > before);
    }

    #[test]
    fn allowed_hosts_parse_and_match_exactly() {
        let a: AllowedHost = "LocalHost:8080".parse().expect("host:port");
        let v6: AllowedHost = "[::1]:9000".parse().expect("v6");
        let out = Outbound::new([a, v6]);
        assert!(out.is_allowed("localhost", 8080));
        assert!(!out.is_allowed("localhost", 8081));
        assert!(!out.is_allowed("127.0.0.1", 8080));
        assert!(out.is_allowed("[::1]", 9000));
        assert!("localhost".parse::<AllowedHost>().is_err());
        assert!("host:port".parse::<AllowedHost>().is_err());
        assert!("a/b:1".parse::<AllowedHost>().is_err());
    }

    #[test]
    fn did_web_documents_of_allowed_hosts_are_read_over_http() {
        let out = Outbound::new(["127.0.0.1:8080".parse().expect("allowed")]);
        let did = "did:web:127.0.0.1%3A8080".parse().expect("did");
        assert_eq!(
            out.did_web_url(&did).expect("url").as_str(),
            "http://127.0.0.1:8080/.well-known/did.json"
        );
        let other = "did:web:127.0.0.1%3A8081".parse().expect("did");
        assert_eq!(
            out.did_web_url(&other).expect("url").as_str(),
            "https://127.0.0.1:8081/.well-known/did.json"
        );
    }
}
