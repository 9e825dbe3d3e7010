//! Socket.IO clients and rooms, counted as they come and go, for `/health`
//! (the streaming site's notify server reported both).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use dashmap::DashMap;
use dashmap::mapref::entry::Entry;

use crate::hub::TopicName;

#[derive(Default)]
pub struct SocketIoStats {
    clients: AtomicUsize,
    /// Namespace sockets in each room.
    rooms: DashMap<TopicName, usize>,
}

/// Counts one client while it lives.
pub struct CountedClient(Arc<SocketIoStats>);

impl Drop for CountedClient {
    fn drop(&mut self) {
        self.0.clients.fetch_sub(1, Ordering::Relaxed);
    }
}

impl SocketIoStats {
    /// Connected Socket.IO clients (Engine.IO sessions).
    pub fn clients(&self) -> usize {
        self.clients.load(Ordering::Relaxed)
    }

    pub fn client_connected(self: &Arc<Self>) -> CountedClient {
        self.clients.fetch_add(1, Ordering::Relaxed);
        CountedClient(self.clone())
    }

    pub fn room_joined(&self, topic: &TopicName) {
        *self.rooms.entry(topic.clone()).or_insert(0) += 1;
    }

    pub fn room_left(&self, topic: &TopicName) {
        if let Entry::Occupied(mut entry) = self.rooms.entry(topic.clone()) {
            *entry.get_mut() -= 1;
            if *entry.get() == 0 {
                entry.remove();
            }
        }
    }

    /// Every room with Socket.IO members, and how many, sorted by name.
    pub fn rooms(&self) -> Vec<(String, usize)> {
        let mut rooms: Vec<(String, usize)> = self
            .rooms
            .iter()
            .map(|entry| (entry.key().to_string(), *entry.value()))
            .collect();
        rooms.sort();
        rooms
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_clients_and_room_members() {
        let stats = Arc::new(SocketIoStats::default());
        let guard = stats.client_connected();
        assert_eq!(stats.clients(), 1);
        drop(guard);
        assert_eq!(stats.clients(), 0);
        let room: TopicName = Arc::from("global-notifications");
        stats.room_joined(&room);
        stats.room_joined(&room);
        assert_eq!(stats.rooms(), [("global-notifications".to_owned(), 2)]);
        stats.room_left(&room);
        stats.room_left(&room);
        assert!(stats.rooms().is_empty());
    }
}
