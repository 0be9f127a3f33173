//! Whose request an outbound fetch serves, so that the fetch is paid for by that
//! client and not by everyone.
//!
//! The HTTP layer runs each verification request inside [`scope`] with the client's
//! [`Caller`]: every fetch the request causes (DID documents, status lists, `kid`
//! URLs, endorsements) then takes one of that client's fetch slots (at most
//! [`Caller::new`]'s `slots` in flight per client, waiting at most [`QUEUE_WAIT`]) and
//! is charged to the client's request budget like a request of its own. A client that
//! makes one cheap request fan out into many fetches thus spends its own budget, and
//! when it is spent its fetches fail with [`FetchError::Limit`] — a local decision
//! that is never cached, so nobody else sees it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::FetchError;

/// How long a fetch waits for one of its client's slots.
pub const QUEUE_WAIT: Duration = Duration::from_secs(2);

/// Spends one request of the client's budget; `false` when it is spent.
pub type Charge = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = bool> + Send>> + Send + Sync>;

/// The client a request is served for.
#[derive(Clone)]
pub struct Caller {
    slots: Arc<Semaphore>,
    charge: Option<Charge>,
}

impl std::fmt::Debug for Caller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Caller")
            .field("free_slots", &self.slots.available_permits())
            .finish_non_exhaustive()
    }
}

impl Caller {
    /// A caller whose fetches share `slots` (one semaphore per client) and are each
    /// paid for with `charge`.
    pub fn new(slots: Arc<Semaphore>, charge: Option<Charge>) -> Self {
        Self { slots, charge }
    }
}

tokio::task_local! {
    static CALLER: Caller;
}

/// Runs `f` on behalf of `caller`.
pub async fn scope<F: Future>(caller: Caller, f: F) -> F::Output {
    CALLER.scope(caller, f).await
}

/// Admits one fetch for the current caller (none outside [`scope`]: the service's
/// own work): its slot, held until the permit is dropped.
pub async fn admit_fetch() -> Result<Option<OwnedSemaphorePermit>, FetchError> {
    let Ok(caller) = CALLER.try_with(Caller::clone) else {
        return Ok(None);
    };
    if let Some(charge) = &caller.charge
        && !charge().await
    {
        super::count_limited();
        return Err(FetchError::Limit(
            "the request budget of the client that asked is spent".into(),
        ));
    }
    match tokio::time::timeout(QUEUE_WAIT, caller.slots.clone().acquire_owned()).await {
        Ok(Ok(p)) => Ok(Some(p)),
        _ => {
            super::count_limited();
            Err(FetchError::Limit(
                "the client that asked has too many fetches in flight".into(),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn fetches_take_the_callers_slots_and_budget() {
        // Outside a scope: no limits.
        assert!(admit_fetch().await.expect("ok").is_none());
        let slots = Arc::new(Semaphore::new(1));
        let left = Arc::new(std::sync::atomic::AtomicUsize::new(2));
        let l = left.clone();
        let charge: Charge = Arc::new(move || {
            let l = l.clone();
            Box::pin(async move {
                l.fetch_update(
                    std::sync::atomic::Ordering::SeqCst,
                    std::sync::atomic::Ordering::SeqCst,
                    |n| n.checked_sub(1),
                )
                .is_ok()
            })
        });
        let caller = Caller::new(slots.clone(), Some(charge));
        scope(caller, async {
            let first = admit_fetch().await.expect("ok");
            assert!(first.is_some());
            // The one slot is held: the second waits QUEUE_WAIT (2 s) and gives up.
            assert!(matches!(admit_fetch().await, Err(FetchError::Limit(_))));
            drop(first);
            // Two charges were made; the budget is now spent.
            assert!(matches!(admit_fetch().await, Err(FetchError::Limit(_))));
        })
        .await;
    }
}
