//! The body of a message import, read under the import memory budget.
//!
//! A raw message costs several times its size while it is hashed, parsed, its signature
//! checked and written (see docs/BENCHMARKS.md, "Memory of concurrent imports"). So before
//! reading a body the import takes its size (the `Content-Length`, or the import limit when
//! the client does not say) from a budget of bytes shared by all imports
//! ([`HttpLimits::import_memory_budget`]), and gives it back when the import has answered.
//! Imports beyond the budget wait their turn instead of adding up in memory; one message of
//! the largest accepted size is always admitted, whatever the budget.
//!
//! [`HttpLimits::import_memory_budget`]: crate::server::HttpLimits::import_memory_budget

use std::sync::Arc;

use axum::extract::{FromRequest, Request};
use axum::http::header;
use http_body_util::BodyExt as _;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::Error;
use crate::state::AppState;

/// Budget units are KiB: a semaphore counts at most `u32::MAX` permits per acquire.
const UNIT: usize = 1024;

/// Bytes of import bodies in flight, shared by every import request.
#[derive(Debug, Clone)]
pub struct ImportBudget {
    permits: Arc<Semaphore>,
    total: u32,
}

impl ImportBudget {
    /// A budget of `bytes`, never less than one message of `largest` bytes.
    pub fn new(bytes: usize, largest: usize) -> Self {
        let total = u32::try_from(bytes.max(largest).div_ceil(UNIT).max(1)).unwrap_or(u32::MAX);
        Self {
            permits: Arc::new(Semaphore::new(total as usize)),
            total,
        }
    }

    /// Waits until `bytes` fit in the budget (a message larger than the whole budget takes
    /// all of it).
    async fn take(&self, bytes: usize) -> OwnedSemaphorePermit {
        let want = u32::try_from(bytes.div_ceil(UNIT).max(1))
            .unwrap_or(u32::MAX)
            .min(self.total);
        #[allow(clippy::expect_used)] // the semaphore is never closed
        Arc::clone(&self.permits)
            .acquire_many_owned(want)
            .await
            .expect("import budget semaphore is never closed")
    }

    /// Bytes free right now (for tests and metrics).
    pub fn available(&self) -> usize {
        self.permits.available_permits() * UNIT
    }
}

/// A whole import body, read after its size was taken from the budget; the budget comes
/// back when this value (and so the `permit`) is dropped.
#[derive(Debug)]
pub struct ImportBody {
    /// The raw bytes, exactly as sent.
    pub bytes: Vec<u8>,
    /// Held until the import has answered.
    pub permit: OwnedSemaphorePermit,
}

impl FromRequest<AppState> for ImportBody {
    type Rejection = Error;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let limit = state.settings().import_body_limit;
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        if declared.is_some_and(|n| n > limit) {
            return Err(Error::TooLarge);
        }
        let permit = state.import_budget().take(declared.unwrap_or(limit)).await;
        let mut bytes = Vec::with_capacity(declared.unwrap_or(0));
        let mut body = req.into_body();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| {
                Error::BadRequest(format!(
                    "lettura del messaggio interrotta / the message body could not be read: {e}"
                ))
            })?;
            if let Ok(data) = frame.into_data() {
                if bytes.len() + data.len() > limit {
                    return Err(Error::TooLarge);
                }
                bytes.extend_from_slice(&data);
            }
        }
        Ok(Self { bytes, permit })
    }
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_second_large_body_waits_until_the_first_is_done() {
        let budget = ImportBudget::new(30 * UNIT * UNIT, 30 * UNIT * UNIT);
        let first = budget.take(29 * UNIT * UNIT).await;
        // A small message still fits beside the first.
        drop(budget.take(UNIT * UNIT).await);
        let waiting = {
            let budget = budget.clone();
            tokio::spawn(async move { budget.take(29 * UNIT * UNIT).await })
        };
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(!waiting.is_finished(), "second import must wait");
        drop(first);
        drop(waiting.await.expect("admitted after the first"));
        assert_eq!(budget.available(), 30 * UNIT * UNIT);
    }

    #[tokio::test]
    async fn a_message_larger_than_the_budget_is_still_admitted_alone() {
        let budget = ImportBudget::new(UNIT, 4 * UNIT);
        let all = budget.take(100 * UNIT).await;
        assert_eq!(budget.available(), 0);
        drop(all);
        assert_eq!(budget.available(), 4 * UNIT);
    }
}
