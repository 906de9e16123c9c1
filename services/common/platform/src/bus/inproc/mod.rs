//! The bus inside one process (embedded mode): no broker, the same semantics.
//!
//! Embedded mode's durability rests on the outbox (SQLite), not on a broker, so
//! [`Bus::publish`] returns only once every consuming queue's handler has processed each
//! message (or it was parked): the relay marks an event sent only when consumers have it.
//!
//! - Routing follows a topic exchange (`*` one word, `#` zero or more); a queue's bindings are
//!   the union of those of every subscription to it, as on the broker.
//! - A queue exists from its first subscription on. Messages for it while no consumer runs are
//!   kept in its backlog (and `publish` does not wait for them); messages no queue is bound for
//!   are kept in the [`InProcBus::unrouted`] list, like the broker's alternate exchange; the
//!   list keeps the latest [`UNROUTED_KEPT`] so that a process without consumers for some
//!   events (a service not built yet) does not grow without bound.
//! - Up to `prefetch` deliveries of a subscription run at once. A retry waits inline for its
//!   back-off (holding its prefetch slot); after `max_attempts`, or at once on a reject, the
//!   message is parked, where [`Bus::dead_letters`] and [`Bus::replay_dead_letters`] find it:
//!   in a [`ParkedStore`] (an SQL table, so parked messages outlive the process) when the bus
//!   was built [`with_parked_store`](InProcBus::with_parked_store), as embedded mode does, or
//!   else in memory (tests). With a store, the publisher is told a parked message is done only
//!   once its row is written, and a replayed message leaves the store only once its consumer
//!   has processed it (or parked it again): see [`parked`].
//! - On shutdown, running handlers finish; a message waiting for a retry goes back to the head
//!   of its queue with its attempt count.
//!
//! Everything else is in memory: a crash loses backlogs and unrouted messages (and parked ones
//! without a store), and the outbox relay re-publishes only what it had not marked sent. A handler must not publish synchronously
//! to a queue it consumes with every prefetch slot busy: it would wait for itself.

pub mod parked;
pub(crate) mod topic;

#[cfg(test)]
mod parked_tests;
#[cfg(test)]
pub(crate) mod tests;

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use futures::FutureExt;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, oneshot};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::sleep;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, debug, info_span, warn};
use uuid::Uuid;

pub use self::parked::{ParkedMigrator, ParkedStore};
use crate::bus::{Bus, BusError, DeadLetter, Delivery, HandleError, Handler, Message, Subscription};

/// How many unrouted messages the bus keeps (the oldest are dropped first).
pub const UNROUTED_KEPT: usize = 10_000;

/// The in-process bus. Clones share the same queues.
#[derive(Clone, Default)]
pub struct InProcBus {
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    /// Where parked messages go; `None`: in memory, in each queue's `parked`.
    store: Option<ParkedStore>,
}

#[derive(Default)]
struct State {
    queues: BTreeMap<String, Queue>,
    unrouted: VecDeque<Message>,
    /// Store rows replayed and not yet processed or parked again: queued, so neither listed
    /// nor replayed a second time.
    replaying: HashSet<i64>,
}

struct Queue {
    bindings: Vec<String>,
    pending: VecDeque<Pending>,
    parked: VecDeque<DeadLetter>,
    /// Running subscriptions; with none, `publish` leaves messages in `pending` without waiting.
    consumers: usize,
    wake: Arc<Notify>,
}

/// A message waiting in a queue; `done` tells its publisher it was processed or parked.
struct Pending {
    message: Message,
    attempt: u32,
    done: Option<oneshot::Sender<()>>,
    /// The store row it was replayed from, deleted once it is processed or parked again.
    parked_row: Option<i64>,
}

impl InProcBus {
    /// An empty bus that parks messages in memory (lost with the process).
    pub fn new() -> Self {
        InProcBus::default()
    }

    /// An empty bus that parks messages in `store`: those parked by an earlier process are
    /// listed and replayed as if parked by this one (replays go to the queue once a consumer
    /// subscribed it).
    pub fn with_parked_store(store: ParkedStore) -> Self {
        InProcBus { shared: Arc::new(Shared { state: Mutex::default(), store: Some(store) }) }
    }

    /// Messages published while no queue was bound for them, oldest first.
    pub fn unrouted(&self) -> Vec<Message> {
        self.shared.lock().unrouted.iter().cloned().collect()
    }

    /// How many messages wait in `queue` (none running, none parked); 0 for an unknown queue.
    pub fn backlog(&self, queue: &str) -> usize {
        self.shared.lock().queues.get(queue).map_or(0, |q| q.pending.len())
    }
}

impl std::fmt::Debug for InProcBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.shared.lock();
        f.debug_struct("InProcBus")
            .field("queues", &state.queues.keys().collect::<Vec<_>>())
            .field("unrouted", &state.unrouted.len())
            .finish()
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the queues half-updated: every update
        // is a single push or pop.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues every message for each matching queue; returns what to wait for.
    fn route(&self, messages: &[Message]) -> Vec<oneshot::Receiver<()>> {
        let mut state = self.lock();
        let State { queues, unrouted, .. } = &mut *state;
        let mut waits = Vec::new();
        for message in messages {
            let mut routed = false;
            for queue in queues.values_mut() {
                if queue.bindings.iter().any(|binding| topic::matches(binding, &message.routing_key)) {
                    routed = true;
                    let done = (queue.consumers > 0).then(|| {
                        let (sender, receiver) = oneshot::channel();
                        waits.push(receiver);
                        sender
                    });
                    queue.pending.push_back(Pending { message: message.clone(), attempt: 1, done, parked_row: None });
                    queue.wake.notify_waiters();
                }
            }
            if !routed {
                debug!(message_id = %message.id, routing_key = %message.routing_key, "no queue bound; kept as unrouted");
                if unrouted.len() == UNROUTED_KEPT {
                    unrouted.pop_front();
                }
                unrouted.push_back(message.clone());
            }
        }
        waits
    }

    fn pop(&self, queue: &str) -> Option<Pending> {
        self.lock().queues.get_mut(queue)?.pending.pop_front()
    }

    /// Puts a message back at the head of its queue (shutdown during a back-off, aborted task).
    fn requeue(&self, queue: &str, mut pending: Pending) {
        let mut state = self.lock();
        let Some(queue) = state.queues.get_mut(queue) else { return };
        if queue.consumers == 0 {
            // Kept for the next consumer; its publisher stops waiting, as for any backlog.
            signal(&mut pending);
        }
        queue.pending.push_front(pending);
        queue.wake.notify_waiters();
    }

    /// Parks in memory (a bus without a store).
    fn park_in_memory(&self, queue_name: &str, mut pending: Pending, reason: String, attempts: u32) {
        let mut state = self.lock();
        if let Some(queue) = state.queues.get_mut(queue_name) {
            let message = pending.message.clone();
            queue.parked.push_back(DeadLetter {
                message,
                queue: queue_name.to_string(),
                reason,
                attempts,
                parked_at: parked::parked_now(),
            });
        }
        signal(&mut pending);
    }

    /// The store rows being replayed, to leave out of listings and replays.
    fn replaying(&self) -> Vec<i64> {
        self.lock().replaying.iter().copied().collect()
    }

    fn replay_ended(&self, row: Option<i64>) {
        if let Some(row) = row {
            self.lock().replaying.remove(&row);
        }
    }

    fn consumer_left(&self, queue: &str) {
        let mut state = self.lock();
        let Some(queue) = state.queues.get_mut(queue) else { return };
        queue.consumers -= 1;
        if queue.consumers == 0 {
            queue.pending.iter_mut().for_each(signal);
        }
    }
}

fn signal(pending: &mut Pending) {
    if let Some(done) = pending.done.take() {
        let _ = done.send(());
    }
}

/// A message being processed. Dropped without an outcome (shutdown during a back-off, an
/// aborted task), it goes back to the head of its queue, so at-least-once holds.
struct InFlight {
    shared: Arc<Shared>,
    queue: String,
    pending: Option<Pending>,
}

impl InFlight {
    fn delivery(&self) -> Option<Delivery> {
        let pending = self.pending.as_ref()?;
        Some(Delivery { message: pending.message.clone(), attempt: pending.attempt })
    }

    fn next_attempt(&mut self) {
        if let Some(pending) = self.pending.as_mut() {
            pending.attempt += 1;
        }
    }

    async fn processed(mut self) {
        let Some(mut pending) = self.pending.take() else { return };
        if let (Some(row), Some(store)) = (pending.parked_row, &self.shared.store) {
            if let Err(e) = store.remove(row).await {
                // Processed, so nothing is lost: a later replay delivers it again, and the
                // consumer skips it by event id.
                warn!(message_id = %pending.message.id, error = %e, "replayed message processed; its parked row stays");
            }
            self.shared.replay_ended(Some(row));
        }
        signal(&mut pending);
    }

    /// Parks the message. With a store, the row is written before the publisher hears of
    /// it, retrying with back-off while the database fails; a shutdown meanwhile puts the
    /// message back in its queue (dropped `InFlight`), unparked.
    async fn park(mut self, reason: String, attempts: u32, shutdown: &CancellationToken) {
        let Some(store) = self.shared.store.clone() else {
            if let Some(pending) = self.pending.take() {
                self.shared.park_in_memory(&self.queue, pending, reason, attempts);
            }
            return;
        };
        let Some(pending) = self.pending.as_ref() else { return };
        let letter = DeadLetter {
            message: pending.message.clone(),
            queue: self.queue.clone(),
            reason,
            attempts,
            parked_at: parked::parked_now(),
        };
        let replaces = pending.parked_row;
        let mut delay = Duration::from_millis(100);
        while let Err(e) = store.park(&letter, replaces).await {
            warn!(message_id = %letter.message.id, error = %e, retry_in = ?delay, "cannot store the parked message");
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = sleep(delay) => {}
            }
            delay = (delay * 2).min(Duration::from_secs(5));
        }
        if let Some(mut pending) = self.pending.take() {
            self.shared.replay_ended(pending.parked_row);
            signal(&mut pending);
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Some(pending) = self.pending.take() {
            self.shared.requeue(&self.queue, pending);
        }
    }
}

/// One subscription's consumer.
struct Worker {
    shared: Arc<Shared>,
    subscription: Subscription,
    handler: Arc<dyn Handler>,
}

impl Worker {
    async fn run(self: Arc<Self>, wake: Arc<Notify>, shutdown: CancellationToken) {
        let queue = self.subscription.queue.clone();
        let slots = Arc::new(Semaphore::new(usize::from(self.subscription.prefetch)));
        let mut running = JoinSet::new();
        'consume: loop {
            let slot = tokio::select! {
                biased;
                () = shutdown.cancelled() => break,
                slot = slots.clone().acquire_owned() => match slot {
                    Ok(slot) => slot,
                    Err(_) => break,
                },
            };
            let pending = loop {
                // Registered before looking, so a message queued in between still wakes us.
                let notified = wake.notified();
                if let Some(pending) = self.shared.pop(&queue) {
                    break pending;
                }
                tokio::select! {
                    biased;
                    () = shutdown.cancelled() => break 'consume,
                    () = notified => {}
                }
            };
            let in_flight = InFlight { shared: self.shared.clone(), queue: queue.clone(), pending: Some(pending) };
            running.spawn(self.clone().process(in_flight, shutdown.clone(), slot));
            while running.try_join_next().is_some() {}
        }
        while running.join_next().await.is_some() {}
        self.shared.consumer_left(&queue);
        debug!(%queue, "consumer stopped");
    }

    async fn process(
        self: Arc<Self>,
        mut in_flight: InFlight,
        shutdown: CancellationToken,
        _slot: OwnedSemaphorePermit,
    ) {
        while let Some(delivery) = in_flight.delivery() {
            let attempt = delivery.attempt;
            let span = info_span!("bus.handle", queue = %self.subscription.queue, message_id = %delivery.message.id,
                routing_key = %delivery.message.routing_key, attempt);
            let outcome = AssertUnwindSafe(self.handler.handle(&delivery))
                .catch_unwind()
                .instrument(span.clone())
                .await
                .unwrap_or_else(|_| Err(HandleError::Retry("the handler panicked".to_string())));
            match outcome {
                Ok(()) => return in_flight.processed().await,
                Err(HandleError::Retry(reason)) if attempt < self.subscription.max_attempts => {
                    let delay = delay_after(&self.subscription.retry_delays, attempt);
                    span.in_scope(|| debug!(%reason, retry_in = ?delay, "handler asked for a retry"));
                    in_flight.next_attempt();
                    tokio::select! {
                        // Dropping `in_flight` puts the message back for the next consumer.
                        () = shutdown.cancelled() => return,
                        () = sleep(delay) => {}
                    }
                }
                Err(HandleError::Retry(reason) | HandleError::Reject(reason)) => {
                    span.in_scope(|| warn!(%reason, "parking the message"));
                    return in_flight.park(reason, attempt, &shutdown).await;
                }
            }
        }
    }
}

/// The back-off after a failed `attempt`: `delays[attempt - 1]`, the last one repeating.
fn delay_after(delays: &[Duration], attempt: u32) -> Duration {
    let index = usize::try_from(attempt.saturating_sub(1)).unwrap_or(usize::MAX).min(delays.len().saturating_sub(1));
    delays.get(index).copied().unwrap_or_default()
}

fn unknown_queue(queue: &str) -> BusError {
    BusError::Config(format!("queue {queue:?} is unknown: no consumer ever subscribed it"))
}

fn store_error(err: crate::db::DbError) -> BusError {
    BusError::Unavailable(format!("parking store: {err}"))
}

#[async_trait]
impl Bus for InProcBus {
    async fn publish(&self, messages: &[Message]) -> Result<(), BusError> {
        for done in self.shared.route(messages) {
            // An error means the sender is gone with the bus itself; nothing is left to wait for.
            let _ = done.await;
        }
        Ok(())
    }

    async fn subscribe(
        &self,
        subscription: Subscription,
        handler: Arc<dyn Handler>,
        shutdown: CancellationToken,
    ) -> Result<JoinHandle<()>, BusError> {
        let name = subscription.queue.clone();
        if subscription.prefetch == 0 {
            return Err(BusError::Config(format!("subscription {name:?}: prefetch must be at least 1")));
        }
        if subscription.max_attempts == 0 {
            return Err(BusError::Config(format!("subscription {name:?}: max_attempts must be at least 1")));
        }
        let wake = {
            let mut state = self.shared.lock();
            let queue = state.queues.entry(name).or_insert_with(|| Queue {
                bindings: Vec::new(),
                pending: VecDeque::new(),
                parked: VecDeque::new(),
                consumers: 0,
                wake: Arc::new(Notify::new()),
            });
            for binding in &subscription.bindings {
                if !queue.bindings.contains(binding) {
                    queue.bindings.push(binding.clone());
                }
            }
            queue.consumers += 1;
            queue.wake.clone()
        };
        let worker = Arc::new(Worker { shared: self.shared.clone(), subscription, handler });
        Ok(tokio::spawn(worker.run(wake, shutdown)))
    }

    async fn dead_letters(&self, queue: &str, limit: usize) -> Result<Vec<DeadLetter>, BusError> {
        if let Some(store) = &self.shared.store {
            // Durable: what an earlier process parked is listed too, whether or not a consumer
            // of `queue` runs now.
            let rows = store.list(queue, limit, &self.shared.replaying()).await.map_err(store_error)?;
            return Ok(rows.into_iter().map(|row| row.letter).collect());
        }
        let state = self.shared.lock();
        let parked = &state.queues.get(queue).ok_or_else(|| unknown_queue(queue))?.parked;
        Ok(parked.iter().take(limit).cloned().collect())
    }

    async fn replay_dead_letters(&self, queue_name: &str, ids: Option<&[Uuid]>) -> Result<usize, BusError> {
        if let Some(store) = &self.shared.store {
            if !self.shared.lock().queues.contains_key(queue_name) {
                return Err(unknown_queue(queue_name));
            }
            let rows = store.matching(queue_name, ids, &self.shared.replaying()).await.map_err(store_error)?;
            let mut state = self.shared.lock();
            let State { queues, replaying, .. } = &mut *state;
            let queue = queues.get_mut(queue_name).ok_or_else(|| unknown_queue(queue_name))?;
            let mut count = 0;
            for row in rows {
                // Another replay may have taken it since the query.
                if replaying.insert(row.row) {
                    queue.pending.push_back(Pending {
                        message: row.letter.message,
                        attempt: 1,
                        done: None,
                        parked_row: Some(row.row),
                    });
                    count += 1;
                }
            }
            queue.wake.notify_waiters();
            return Ok(count);
        }
        let mut state = self.shared.lock();
        let queue = state.queues.get_mut(queue_name).ok_or_else(|| unknown_queue(queue_name))?;
        let (replay, keep): (VecDeque<DeadLetter>, VecDeque<DeadLetter>) = std::mem::take(&mut queue.parked)
            .into_iter()
            .partition(|letter| ids.is_none_or(|ids| ids.contains(&letter.message.id)));
        queue.parked = keep;
        let count = replay.len();
        queue.pending.extend(replay.into_iter().map(|letter| Pending {
            message: letter.message,
            attempt: 1,
            done: None,
            parked_row: None,
        }));
        queue.wake.notify_waiters();
        Ok(count)
    }
}
