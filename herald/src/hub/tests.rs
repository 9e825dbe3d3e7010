//! Hub core behaviour, without sockets.

use super::*;

fn payload(text: &str) -> Box<RawValue> {
    RawValue::from_string(text.to_owned()).unwrap()
}

async fn next_batch(subscriber: &Subscriber) -> Vec<Arc<Message>> {
    let mut batch = Vec::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(1),
        subscriber.mailbox().recv_batch(&mut batch),
    )
    .await
    .expect("a message should arrive")
    .expect("mailbox open");
    batch
}

#[tokio::test]
async fn publish_reaches_every_subscriber_of_the_topic_only() {
    let hub = Hub::new(HubConfig::default());
    let mut a = hub.connect().unwrap();
    let mut b = hub.connect().unwrap();
    let mut other = hub.connect().unwrap();
    a.subscribe("room:1");
    b.subscribe("room:1");
    other.subscribe("room:2");

    let report = hub.publish("room:1", "hello", payload(r#"{"n":1}"#));
    assert_eq!(report.delivered, 2);

    for subscriber in [&a, &b] {
        let batch = next_batch(subscriber).await;
        assert_eq!(batch.len(), 1);
        assert_eq!(batch[0].event(), "hello");
        assert_eq!(batch[0].payload().get(), r#"{"n":1}"#);
        assert_eq!(&**batch[0].topic(), "room:1");
    }
    assert!(other.mailbox().is_empty());
}

#[tokio::test]
async fn all_subscribers_share_one_message() {
    let hub = Hub::new(HubConfig::default());
    let mut a = hub.connect().unwrap();
    let mut b = hub.connect().unwrap();
    a.subscribe("t");
    b.subscribe("t");
    hub.publish("t", "e", payload("1"));
    let from_a = next_batch(&a).await;
    let from_b = next_batch(&b).await;
    assert!(Arc::ptr_eq(&from_a[0], &from_b[0]));
}

#[tokio::test]
async fn topic_names_are_interned() {
    let hub = Hub::new(HubConfig::default());
    let mut a = hub.connect().unwrap();
    let mut b = hub.connect().unwrap();
    let first = a.subscribe("room:1");
    let second = b.subscribe("room:1");
    assert!(Arc::ptr_eq(&first, &second));
}

fn without_history() -> HubConfig {
    HubConfig {
        history: HistoryPolicy {
            default: Retention::NONE,
            ..HistoryPolicy::default()
        },
        ..HubConfig::default()
    }
}

#[test]
fn unsubscribe_and_drop_remove_subscriptions_and_empty_topics() {
    let hub = Hub::new(without_history());
    let mut a = hub.connect().unwrap();
    let mut b = hub.connect().unwrap();
    a.subscribe("t1");
    a.subscribe("t2");
    b.subscribe("t1");
    assert_eq!(hub.stats().topics, 2);
    assert_eq!(hub.stats().connections, 2);

    assert!(a.unsubscribe("t2"));
    assert!(!a.unsubscribe("t2"));
    assert_eq!(hub.stats().topics, 1);
    assert_eq!(hub.subscriber_count("t1"), 2);

    drop(a);
    assert_eq!(hub.subscriber_count("t1"), 1);
    assert_eq!(hub.stats().connections, 1);
    drop(b);
    assert_eq!(hub.stats().topics, 0);
    assert_eq!(hub.stats().connections, 0);
}

#[test]
fn subscribing_twice_is_one_subscription() {
    let hub = Hub::new(HubConfig::default());
    let mut a = hub.connect().unwrap();
    a.subscribe("t");
    a.subscribe("t");
    assert_eq!(a.topics().len(), 1);
    assert_eq!(hub.publish("t", "e", payload("1")).delivered, 1);
}

#[tokio::test]
async fn a_slow_consumer_is_dropped_without_blocking_the_publisher_or_others() {
    let hub = Hub::new(HubConfig {
        outbound_queue_capacity: 4,
        ..HubConfig::default()
    });
    let mut slow = hub.connect().unwrap();
    let mut fast = hub.connect().unwrap();
    slow.subscribe("t");
    fast.subscribe("t");

    let mut received_by_fast = 0;
    let mut dropped = 0;
    for n in 0..20 {
        let report = hub.publish("t", "e", payload(&n.to_string()));
        dropped += report.slow_consumers_dropped;
        // The fast consumer reads after every publish.
        received_by_fast += next_batch(&fast).await.len();
    }
    assert_eq!(received_by_fast, 20);
    assert_eq!(dropped, 1, "the slow consumer is dropped exactly once");
    assert_eq!(hub.stats().slow_consumers_dropped, 1);
    assert_eq!(
        slow.mailbox().close_reason(),
        Some(CloseReason::SlowConsumer)
    );
}

#[tokio::test]
async fn shutdown_closes_every_mailbox_and_refuses_new_connections() {
    let hub = Hub::new(HubConfig::default());
    let a = hub.connect().unwrap();
    hub.shutdown();
    assert_eq!(a.mailbox().close_reason(), Some(CloseReason::Shutdown));
    assert_eq!(hub.connect().err(), Some(HubError::ShuttingDown));

    let waiter = {
        let hub = hub.clone();
        tokio::spawn(async move { hub.wait_until_no_connections().await })
    };
    drop(a);
    tokio::time::timeout(std::time::Duration::from_secs(1), waiter)
        .await
        .expect("waiter resolves once the last connection is gone")
        .unwrap();
}

#[test]
fn kick_closes_one_connection_with_its_reason() {
    let hub = Hub::new(HubConfig::default());
    let a = hub.connect().unwrap();
    let b = hub.connect().unwrap();
    assert!(hub.kick(a.id(), CloseReason::Kicked("token_expired".into())));
    assert_eq!(
        a.mailbox().close_reason(),
        Some(CloseReason::Kicked("token_expired".into()))
    );
    assert_eq!(b.mailbox().close_reason(), None);
}

#[test]
fn publish_to_a_topic_nobody_joined_delivers_nothing() {
    let hub = Hub::new(HubConfig::default());
    assert_eq!(hub.publish("nobody", "e", payload("1")).delivered, 0);
    assert_eq!(hub.stats().published, 1);
}

#[tokio::test(start_paused = true)]
async fn topics_with_history_outlive_their_subscribers_until_idle() {
    let hub = Hub::new(HubConfig::default());
    let mut a = hub.connect().unwrap();
    let (_, first) = a.subscribe_from("t", None);
    hub.publish("t", "e", payload("1"));
    drop(a);
    hub.sweep();
    assert_eq!(hub.stats().topics, 1, "history is kept for a rejoin");
    let page = hub.history("t", 0, 10).unwrap();
    assert_eq!(page.epoch, first.epoch);
    assert_eq!(page.messages.len(), 1);

    tokio::time::advance(
        HistoryPolicy::default().idle_topic_ttl + std::time::Duration::from_secs(1),
    )
    .await;
    hub.sweep();
    assert_eq!(hub.stats().topics, 0, "an idle topic is forgotten");
    // A new entry means a new epoch: old positions are not recoverable.
    let mut b = hub.connect().unwrap();
    let since = Position {
        epoch: first.epoch.clone(),
        offset: 1,
    };
    let (_, recovery) = b.subscribe_from("t", Some(&since));
    assert!(!recovery.recovered);
    assert_ne!(recovery.epoch, first.epoch);
}

#[test]
fn publishing_to_a_topic_without_history_or_subscribers_keeps_nothing() {
    let hub = Hub::new(without_history());
    hub.publish("t", "e", payload("1"));
    assert_eq!(hub.stats().topics, 0);
}

/// Publishes race a subscriber that keeps leaving and rejoining with its last
/// position: what it receives (recovered, then live) is exactly what was
/// published, in order, with no gap and no duplicate.
#[test]
fn rejoin_with_position_while_publishes_race_is_gapless() {
    const MESSAGES: u64 = 20_000;
    let hub = Hub::new(HubConfig {
        outbound_queue_capacity: 100_000,
        history: HistoryPolicy {
            default: Retention {
                max_messages: 100_000,
                max_age: None,
            },
            ..HistoryPolicy::default()
        },
    });
    let publisher = {
        let hub = hub.clone();
        std::thread::spawn(move || {
            for n in 1..=MESSAGES {
                hub.publish("t", "e", payload(&n.to_string()));
            }
        })
    };
    let mut received: Vec<u64> = Vec::new();
    let mut position: Option<Position> = None;
    let mut rounds = 0;
    let take =
        |message: &Arc<Message>, position: &mut Option<Position>, received: &mut Vec<u64>| {
            // Strict: every message is the one right after the last.
            let at = message.position().unwrap().clone();
            let expected = position.as_ref().map_or(1, |p| p.offset + 1);
            assert_eq!(at.offset, expected, "gap or duplicate");
            received.push(message.payload().get().parse().unwrap());
            *position = Some(at);
        };
    while received.len() < MESSAGES as usize {
        rounds += 1;
        let mut subscriber = hub.connect().unwrap();
        let (_, recovery) = subscriber.subscribe_from("t", position.as_ref());
        if position.is_some() {
            assert!(recovery.recovered, "round {rounds}: history covers the gap");
        } else {
            // First join: everything so far comes from history.
            let since = Position {
                epoch: recovery.epoch.clone(),
                offset: 0,
            };
            drop(subscriber);
            subscriber = hub.connect().unwrap();
            let (_, recovery) = subscriber.subscribe_from("t", Some(&since));
            assert!(recovery.recovered);
            for message in &recovery.missed {
                take(message, &mut position, &mut received);
            }
            continue;
        }
        for message in &recovery.missed {
            take(message, &mut position, &mut received);
        }
        // Read at most 500 live messages, then drop the connection with
        // whatever else is queued: recovery must bring those back.
        let mailbox = subscriber.mailbox().clone();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let mut taken = 0;
        while taken < 500 && received.len() < MESSAGES as usize {
            let mut batch = Vec::new();
            let got = runtime.block_on(async {
                tokio::time::timeout(
                    std::time::Duration::from_millis(200),
                    mailbox.recv_batch(&mut batch),
                )
                .await
            });
            if got.is_err() {
                break;
            }
            for message in batch.iter().take(500 - taken) {
                take(message, &mut position, &mut received);
                taken += 1;
            }
        }
        drop(subscriber);
    }
    publisher.join().unwrap();
    assert_eq!(received, (1..=MESSAGES).collect::<Vec<_>>());
    assert!(
        rounds > 2,
        "the subscriber really did rejoin ({rounds} rounds)"
    );
}

#[test]
fn a_message_is_news_only_above_what_its_epoch_delivered() {
    let topic: TopicName = Arc::from("room:1");
    let at = |epoch: &str, offset: u64| {
        Message::new(
            topic.clone(),
            "e",
            payload("{}"),
            Some(Position {
                epoch: Arc::from(epoch),
                offset,
            }),
        )
    };
    let mut delivered = 5;
    assert!(!at("e1", 4).is_news_to("e1", &mut delivered));
    assert!(!at("e1", 5).is_news_to("e1", &mut delivered));
    assert!(at("e1", 6).is_news_to("e1", &mut delivered));
    assert_eq!(delivered, 6);
    // Another epoch, or no position: always news, nothing moved.
    assert!(at("e2", 1).is_news_to("e1", &mut delivered));
    let unpositioned = Message::new(topic.clone(), "e", payload("{}"), None);
    assert!(unpositioned.is_news_to("e1", &mut delivered));
    assert_eq!(delivered, 6);
}
