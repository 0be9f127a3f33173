//! Serving connections under limits a stranger cannot push past.
//!
//! - **Connections**: at most [`Limits::max_connections`] at once, and
//!   [`Limits::max_per_address`] from one client address (an IPv6 client is its
//!   /64; a trusted proxy is exempt, as its clients are counted per request). A
//!   connection over either limit is closed as soon as it is accepted.
//! - **Headers and idle connections**: a request head must arrive whole within
//!   [`Limits::header_timeout`], counted from when the connection starts waiting for
//!   one, so a silent socket, a keep-alive connection nobody uses and a client that
//!   trickles its headers are all closed then (hyper's `header_read_timeout`).
//! - **Bodies and handling**: a request body must arrive whole within
//!   [`Limits::body_timeout`] of the request's start (a body sent a byte a second is
//!   cut off and answered `408`), and a request other than the admin API's must be
//!   answered within [`Limits::request_timeout`] (`503` otherwise; see
//!   [`super::admission`]).
//! - **Refusals** are counted ([`super::admission::refusals`]).
//!
//! The same function serves `accolade serve` and the integration tests, so the tests
//! exercise these limits with short figures.

use std::collections::HashMap;
use std::future::Future as _;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

pub use crate::limits::Limits;
use crate::net::addr::client_prefix;

/// Counts connections per client address and in all; clones share the counts.
#[derive(Clone)]
pub struct ConnectionLimiter {
    inner: Arc<Inner>,
}

struct Inner {
    limits: Limits,
    open: Mutex<Counts>,
    exempt: crate::net::proxy::TrustedProxies,
}

#[derive(Default)]
struct Counts {
    total: usize,
    per_address: HashMap<IpAddr, usize>,
}

impl std::fmt::Debug for ConnectionLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionLimiter")
            .field("limits", &self.inner.limits)
            .finish_non_exhaustive()
    }
}

impl ConnectionLimiter {
    pub fn new(limits: Limits, exempt: crate::net::proxy::TrustedProxies) -> Self {
        Self {
            inner: Arc::new(Inner {
                limits,
                open: Mutex::new(Counts::default()),
                exempt,
            }),
        }
    }

    pub fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.lock().total
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.inner
            .open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A slot for a connection from `peer`, or why there is none.
    pub fn admit(&self, peer: IpAddr) -> Result<Slot, &'static str> {
        let key = client_prefix(peer, 64);
        let counted = !self.inner.exempt.trusts(peer);
        let mut c = self.lock();
        if c.total >= self.inner.limits.max_connections {
            return Err("the server holds as many connections as it takes");
        }
        if counted {
            let n = c.per_address.entry(key).or_insert(0);
            if *n >= self.inner.limits.max_per_address {
                return Err("this address holds as many connections as one address may");
            }
            *n += 1;
        }
        c.total += 1;
        Ok(Slot {
            limiter: self.clone(),
            key: counted.then_some(key),
        })
    }
}

/// A connection's place in the counts, given back when it closes.
pub struct Slot {
    limiter: ConnectionLimiter,
    key: Option<IpAddr>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut c = self.limiter.lock();
        c.total = c.total.saturating_sub(1);
        if let Some(k) = self.key
            && let Some(n) = c.per_address.get_mut(&k)
        {
            *n -= 1;
            if *n == 0 {
                c.per_address.remove(&k);
            }
        }
    }
}

/// A stream that holds its connection's [`Slot`], and fails when its first byte
/// does not come within the header timeout (before the first request head, the
/// protocol is still being sniffed and hyper's own header timer is not running).
pub struct Counted<S> {
    inner: S,
    _slot: Slot,
    first_byte: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Counted<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if self.first_byte.is_some() {
            match &polled {
                Poll::Ready(Ok(())) if buf.filled().len() > before => self.first_byte = None,
                Poll::Pending => {
                    if let Some(sleep) = self.first_byte.as_mut()
                        && sleep.as_mut().poll(cx).is_ready()
                    {
                        super::admission::refusals().count(super::admission::Refusal::Timeout);
                        return Poll::Ready(Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            "no request arrived in time",
                        )));
                    }
                }
                _ => {}
            }
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Counted<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

impl<S> axum_server::accept::Accept<TcpStream, S> for ConnectionLimiter {
    type Stream = Counted<TcpStream>;
    type Service = S;
    type Future = std::future::Ready<io::Result<(Counted<TcpStream>, S)>>;

    fn accept(&self, stream: TcpStream, service: S) -> Self::Future {
        let peer = match stream.peer_addr() {
            Ok(a) => a.ip(),
            Err(e) => return std::future::ready(Err(e)),
        };
        std::future::ready(match self.admit(peer) {
            Ok(slot) => {
                let _ = stream.set_nodelay(true);
                Ok((
                    Counted {
                        inner: stream,
                        _slot: slot,
                        first_byte: Some(Box::pin(tokio::time::sleep(
                            self.inner.limits.header_timeout,
                        ))),
                    },
                    service,
                ))
            }
            Err(why) => {
                super::admission::refusals().count(super::admission::Refusal::Connection);
                tracing::debug!(%peer, why, "connection refused");
                Err(io::Error::other(why))
            }
        })
    }
}

/// Says when this process may open fewer files than `limits` let connections take
/// (each connection is a file).
pub fn check_file_limit(limits: &Limits) {
    let soft = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3).map(str::to_owned))
        })
        .and_then(|s| s.parse::<usize>().ok());
    if let Some(soft) = soft
        && soft < limits.max_connections + 256
    {
        crate::say!(
            "warning: this process may open {soft} files, fewer than the {} connections it takes plus its own files; raise it (ulimit -n) or lower --max-connections",
            limits.max_connections
        );
    }
}

/// Serves `app` on `listener` (HTTPS with `tls`) under `limiter`, until `handle` shuts
/// it down.
pub async fn serve(
    listener: std::net::TcpListener,
    app: axum::Router,
    limiter: ConnectionLimiter,
    tls: Option<axum_server::tls_rustls::RustlsConfig>,
    handle: axum_server::Handle,
) -> io::Result<()> {
    let header_timeout = limiter.limits().header_timeout;
    let make = app.into_make_service_with_connect_info::<SocketAddr>();
    match tls {
        Some(cfg) => {
            let mut server = axum_server::from_tcp(listener)
                .acceptor(
                    axum_server::tls_rustls::RustlsAcceptor::new(cfg)
                        .handshake_timeout(header_timeout)
                        .acceptor(limiter),
                )
                .handle(handle);
            configure(server.http_builder(), header_timeout);
            server.serve(make).await
        }
        None => {
            let mut server = axum_server::from_tcp(listener)
                .acceptor(limiter)
                .handle(handle);
            configure(server.http_builder(), header_timeout);
            server.serve(make).await
        }
    }
}

fn configure(
    b: &mut hyper_util::server::conn::auto::Builder<hyper_util::rt::TokioExecutor>,
    header_timeout: Duration,
) {
    b.http1()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(header_timeout)
        .max_buf_size(64 * 1024);
    b.http2()
        .timer(hyper_util::rt::TokioTimer::new())
        .keep_alive_interval(Some(header_timeout))
        .keep_alive_timeout(header_timeout)
        .max_concurrent_streams(64)
        .max_header_list_size(64 * 1024);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_are_counted_per_address_and_in_all() {
        let l = ConnectionLimiter::new(
            Limits {
                max_connections: 3,
                max_per_address: 2,
                ..Limits::default()
            },
            crate::net::proxy::TrustedProxies::default(),
        );
        let a: IpAddr = "203.0.113.1".parse().expect("ok");
        let b: IpAddr = "203.0.113.2".parse().expect("ok");
        let s1 = l.admit(a).expect("ok");
        let _s2 = l.admit(a).expect("ok");
        assert!(l.admit(a).is_err(), "a third from one address");
        let _s3 = l.admit(b).expect("ok");
        assert!(l.admit(b).is_err(), "a fourth in all");
        drop(s1);
        assert_eq!(l.open(), 2);
        assert!(l.admit(a).is_ok(), "a closed connection frees its place");
        // IPv6 clients count by their /64.
        let l = ConnectionLimiter::new(
            Limits {
                max_per_address: 1,
                ..Limits::default()
            },
            crate::net::proxy::TrustedProxies::default(),
        );
        let _x = l.admit("2001:db8::1".parse().expect("ok")).expect("ok");
        assert!(l.admit("2001:db8::2".parse().expect("ok")).is_err());
        assert!(l.admit("2001:db8:0:1::2".parse().expect("ok")).is_ok());
    }
}
