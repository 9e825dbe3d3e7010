//! Microbenchmarks of the hot paths: rendering broadcast frames per wire
//! format, fanning one message out to 10,000 in-process subscribers, and
//! matching a join against the topic rules.
//!
//! `cargo bench -p herald --bench hot_paths`

use std::hint::black_box;
use std::sync::Arc;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use herald::auth::rules::{TopicRules, default_rules};
use herald::auth::{ClaimMapping, Identity};
use herald::hub::{Hub, HubConfig, Message, Position};
use herald::protocol::phoenix::frame::{BROADCAST_V1, BROADCAST_V2};
use serde_json::value::RawValue;

const NOTIFICATION: &str = r#"{"type":"resource_created","resourceType":"reservation","businessId":"b1","locationId":"l1","resourceId":"r-42","shardId":"s1","timestamp":"2026-11-22T12:00:00Z"}"#;

fn payload() -> Box<RawValue> {
    RawValue::from_string(NOTIFICATION.to_owned()).unwrap()
}

fn frame_encoding(c: &mut Criterion) {
    let mut group = c.benchmark_group("frame_encoding");
    for (name, format) in [("phoenix_v1", &BROADCAST_V1), ("phoenix_v2", &BROADCAST_V2)] {
        group.bench_function(name, |b| {
            b.iter(|| {
                // A fresh message each time: the encode itself is measured,
                // not the cache hit.
                let message = Message::new(
                    "resources:b1-l1".into(),
                    "resource_update",
                    payload(),
                    Some(Position {
                        epoch: "5f2a9c01".into(),
                        offset: 42,
                    }),
                );
                black_box(message.frame(format))
            })
        });
    }
    group.finish();
}

fn fan_out(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("fan_out");
    for subscribers in [1_000usize, 10_000] {
        let hub = Hub::new(HubConfig::default());
        let mut handles = Vec::with_capacity(subscribers);
        for _ in 0..subscribers {
            let mut subscriber = hub.connect().unwrap();
            subscriber.subscribe("resources:b1-l1");
            handles.push(subscriber);
        }
        group.throughput(Throughput::Elements(subscribers as u64));
        group.bench_with_input(
            BenchmarkId::new("publish_and_encode_v2", subscribers),
            &subscribers,
            |b, _| {
                let mut batch: Vec<Arc<Message>> = Vec::new();
                b.iter(|| {
                    hub.publish("resources:b1-l1", "resource_update", payload());
                    // Every subscriber takes its frame, as a socket task would.
                    for subscriber in &handles {
                        runtime
                            .block_on(subscriber.mailbox().recv_batch(&mut batch))
                            .unwrap();
                        for message in batch.drain(..) {
                            black_box(message.frame(&BROADCAST_V2));
                        }
                    }
                })
            },
        );
    }
    group.finish();
}

/// A join is checked against the shipped rules: the worst case is a topic
/// whose placeholders can split several ways (dashes in ids) and that only
/// a later rule allows.
fn topic_rules(c: &mut Criterion) {
    let rules = TopicRules::compile(&default_rules()).unwrap();
    let serde_json::Value::Object(claims) = serde_json::json!({
        "sub": "user-7f3a", "businessId": "b-1a2b-3c4d", "roles": ["coordinator"]
    }) else {
        unreachable!()
    };
    let identity: Identity = ClaimMapping::default().identity(claims);
    let mut group = c.benchmark_group("topic_rules");
    for (name, topic) in [
        ("user_own", "user:user-7f3a"),
        ("resources_dashed_ids", "resources:b-1a2b-3c4d-loc-9"),
        ("chat_coordinator", "chat:b-1a2b-3c4d:user-other"),
        ("unmatched", "nowhere:at-all"),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| black_box(rules.authorize(&identity, black_box(topic))))
        });
    }
    group.finish();
}

criterion_group!(benches, frame_encoding, fan_out, topic_rules);
criterion_main!(benches);
