//! The figures that bound what strangers can make the service hold: connections,
//! time, verifications and bytes in flight, and outbound fetches per client. Each one
//! is a `serve` flag (and environment variable); the defaults suit one service on a
//! small machine and are stated in the README.

use std::time::Duration;

/// Every bound, as `serve` applies it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Connections open at once, in all.
    pub max_connections: usize,
    /// Connections open at once from one client address (an IPv6 /64).
    pub max_per_address: usize,
    /// Time for a request head to arrive whole, counted from when the connection
    /// starts waiting for one (so it also closes idle keep-alive connections).
    pub header_timeout: Duration,
    /// Time for a request body to arrive whole, from the request's start.
    pub body_timeout: Duration,
    /// Time to answer a request, body included (not the admin API's).
    pub request_timeout: Duration,
    /// Verifications in flight at once, in all (`503` beyond).
    pub verifications: usize,
    /// Verifications in flight at once for one client (`429` beyond).
    pub verifications_per_client: usize,
    /// Bytes of verification request bodies held at once, in all (`503` beyond).
    pub verification_bytes: usize,
    /// Outbound fetches in flight at once for one client's requests.
    pub fetches_per_client: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_connections: 8192,
            max_per_address: 256,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            request_timeout: Duration::from_secs(30),
            verifications: 512,
            verifications_per_client: 64,
            verification_bytes: 256 * 1024 * 1024,
            fetches_per_client: 32,
        }
    }
}
