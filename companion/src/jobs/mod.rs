//! Background jobs that every replica runs on a timer, each pass a function of "now" that
//! tests call directly: [`alarms`]; the outbox and the webhook deliveries run on the same
//! loop ([`spawn`]).

pub mod alarms;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A background loop of this process; [`Worker::stop`] ends it.
#[derive(Debug)]
pub struct Worker {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
    id: Arc<str>,
}

impl Worker {
    /// This worker's id (what it writes in `claimed_by` columns).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Stops the loop after the pass in progress and waits for it.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// Runs `pass` until stopped: each pass answers how long to rest before the next (a pass
/// that found work answers a short rest, so a backlog drains fast). A stop request ends the
/// rest at once but never interrupts a pass. `name` and `id` label the start and stop lines
/// of the log.
pub fn spawn<F, Fut>(name: &'static str, id: Arc<str>, mut pass: F) -> Worker
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = Duration> + Send,
{
    let (stop, mut rx) = watch::channel(false);
    let worker = Arc::clone(&id);
    let task = tokio::spawn(async move {
        tracing::info!(job = name, job.worker = %worker, "background job started");
        loop {
            let rest = pass().await;
            tokio::select! {
                () = tokio::time::sleep(rest) => {}
                _ = rx.changed() => {}
            }
            if *rx.borrow() {
                break;
            }
        }
        tracing::info!(job = name, job.worker = %worker, "background job stopped");
    });
    Worker { stop, task, id }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test]
    async fn passes_run_until_stopped_and_a_stop_ends_the_rest_at_once() {
        let passes = Arc::new(AtomicUsize::new(0));
        let seen = Arc::clone(&passes);
        let w = spawn("test", Arc::from("w1"), move || {
            let seen = Arc::clone(&seen);
            async move {
                // The first passes "found work": go again at once; then a long rest.
                let n = seen.fetch_add(1, Ordering::SeqCst);
                if n < 3 {
                    Duration::from_millis(1)
                } else {
                    Duration::from_secs(3600)
                }
            }
        });
        assert_eq!(w.id(), "w1");
        while passes.load(Ordering::SeqCst) < 4 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // Stopping during the hour's rest returns at once, after no further pass.
        tokio::time::timeout(Duration::from_secs(5), w.stop())
            .await
            .expect("stop ends the rest");
        assert_eq!(passes.load(Ordering::SeqCst), 4);
    }
}
