//! Group commit: one thread runs sled's blocking `flush` (write-out plus fsync) on
//! behalf of every request that arrived before the flush began.
//!
//! A request remembers the number of the next flush to *start*; any flush that starts
//! after the request was made covers every write the requester made before asking.
//! While one fsync runs, the requests that pile up are all served by the next one, so
//! N concurrent writers cost about two fsyncs, not N.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

use crate::store::Error;

#[derive(Debug, Default)]
struct State {
    /// The highest flush number some request waits for.
    requested: u64,
    /// Flushes begun so far (the number of the latest one).
    started: u64,
    /// The thread sleeps on the condition variable (only then does a request wake it:
    /// a wake-up is a system call).
    idle: bool,
    stop: bool,
    /// Requests waiting for the next flush to start (its batch, for the metrics).
    waiting: u64,
}

/// The outcome of the latest flush: its number and any error.
type Done = (u64, Option<String>);

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    wake: Condvar,
    done: tokio::sync::watch::Sender<Done>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The handle the store keeps; dropping it stops the thread.
#[derive(Debug)]
pub(super) struct GroupFlush {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl GroupFlush {
    /// Starts the flushing thread for `db`.
    pub(super) fn start(db: ::sled::Db) -> Result<Self, Error> {
        let (done, _) = tokio::sync::watch::channel((0, None));
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
            done,
        });
        let worker = shared.clone();
        let thread = std::thread::Builder::new()
            .name("store-flush".into())
            .spawn(move || run(&worker, &db))
            .map_err(|e| Error::Task(format!("starting the flush thread: {e}")))?;
        Ok(Self {
            shared,
            thread: Some(thread),
        })
    }

    /// Waits until a flush that began after this call has finished.
    pub(super) async fn flush(&self) -> Result<(), Error> {
        let mut rx = self.shared.done.subscribe();
        let (target, idle) = {
            let mut st = self.shared.lock();
            let target = st.started + 1;
            st.requested = st.requested.max(target);
            st.waiting += 1;
            (target, st.idle)
        };
        if idle {
            self.shared.wake.notify_one();
        }
        let seen = rx
            .wait_for(|(n, _)| *n >= target)
            .await
            .map_err(|_| Error::Task("the flush thread stopped".into()))?;
        match &seen.1 {
            None => Ok(()),
            Some(e) => Err(Error::Task(format!("flushing the store: {e}"))),
        }
    }

    /// Flushes run so far.
    pub(super) fn count(&self) -> u64 {
        self.shared.done.borrow().0
    }
}

impl Drop for GroupFlush {
    fn drop(&mut self) {
        self.shared.lock().stop = true;
        self.shared.wake.notify_all();
        if let Some(h) = self.thread.take() {
            let _ = h.join();
        }
    }
}

/// Under load (the previous flush ended moments ago) the thread lingers this long
/// before starting the next one, so that more requests share it. Each flush costs
/// more than its fsync: sled hands the sealed log buffer to its I/O thread pool, and
/// waking that pool wakes every idle thread in it. On 2 cores, 1 ms (up from 0.8)
/// gave less CPU per durable award over HTTP and a lower p50; at 2 ms and more, a
/// client waiting for two flushes per award starts to wait on the linger itself.
const LINGER: std::time::Duration = std::time::Duration::from_micros(1000);

fn run(shared: &Shared, db: &::sled::Db) {
    let mut last_end: Option<std::time::Instant> = None;
    loop {
        {
            let mut st = shared.lock();
            while st.requested <= st.started && !st.stop {
                st.idle = true;
                st = shared.wake.wait(st).unwrap_or_else(|p| p.into_inner());
                st.idle = false;
            }
        }
        if last_end.is_some_and(|t| t.elapsed() < LINGER * 2) {
            std::thread::sleep(LINGER);
        }
        let number = {
            let mut st = shared.lock();
            while st.requested <= st.started && !st.stop {
                st.idle = true;
                st = shared.wake.wait(st).unwrap_or_else(|p| p.into_inner());
                st.idle = false;
            }
            if st.requested <= st.started {
                // Stopping, and nobody waits.
                return;
            }
            st.started += 1;
            let batch = std::mem::take(&mut st.waiting);
            crate::metrics::metrics().flush_batch.observe(batch as f64);
            st.started
        };
        let result = db.flush().err().map(|e| e.to_string());
        last_end = Some(std::time::Instant::now());
        shared.done.send_replace((number, result));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_requests_share_flushes_and_all_complete() {
        let dir = tempfile::tempdir().expect("tmp");
        let db = ::sled::Config::new().path(dir.path()).open().expect("db");
        let g = Arc::new(GroupFlush::start(db.clone()).expect("start"));
        let mut tasks = Vec::new();
        for i in 0..200u32 {
            let g = g.clone();
            let db = db.clone();
            tasks.push(tokio::spawn(async move {
                db.insert(i.to_be_bytes(), &[1]).expect("insert");
                g.flush().await
            }));
        }
        for t in tasks {
            t.await.expect("join").expect("flushed");
        }
        assert!(g.count() >= 1);
        assert!(g.count() < 200, "{} flushes for 200 requests", g.count());
        drop(g);
    }
}
