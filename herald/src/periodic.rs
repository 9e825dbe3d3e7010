//! Background chores that run every so often for as long as their owner
//! lives (history sweeps, expired recovery sessions), without keeping the
//! owner alive.

use std::sync::Arc;
use std::time::Duration;

/// Run `chore(target)` every `every` until `target` is dropped.
pub fn spawn<T: Send + Sync + 'static>(target: &Arc<T>, every: Duration, chore: fn(&T)) {
    let target = Arc::downgrade(target);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.tick().await;
        loop {
            tick.tick().await;
            match target.upgrade() {
                Some(target) => chore(&target),
                None => return,
            }
        }
    });
}
