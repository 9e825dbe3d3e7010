//! Microbenchmarks of the hot paths: rendering broadcast frames per wire
//! format, fanning one message out to 10,000 in-process subscribers, and
//! matching a topic against the shipped auth rules (every join does it).
//!
//! `cargo bench -p herald --bench hot_paths`

use std::hint::black_box;
use std::sync::Arc;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use herald::auth::rules::default_rules;
use herald::auth::{Auth, AuthConfig, Identity};
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

fn topic_authorization(c: &mut Criterion) {
    let config = AuthConfig {
        enabled: Some(true),
        allow_anonymous: true,
        ..AuthConfig::default()
    };
    let auth = Auth::from_config(&config, &default_rules()).unwrap();
    let staff = Identity {
        user_id: Some("u42".into()),
        business_id: Some("b1".into()),
        location_id: Some("l1".into()),
        roles: vec!["coordinator".into()],
        claims: serde_json::json!({"sub": "u42", "businessId": "b1", "roles": ["coordinator"]})
            .as_object()
            .cloned()
            .unwrap(),
        expires_at: None,
    };
    let anonymous = Identity::anonymous();
    let mut group = c.benchmark_group("topic_authorization");
    // Allowed by a claim rule, allowed as public, refused (matched, not
    // allowed) and unmatched (every rule tried).
    for (name, identity, topic) in [
        ("claims_match", &staff, "resources:b1-l1"),
        ("chat_coordinator", &staff, "chat:b1:u7"),
        ("public", &anonymous, "channel:news"),
        ("refused", &anonymous, "user:u42"),
        ("unmatched", &staff, "nothing:here"),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| black_box(auth.authorize_topic(black_box(identity), black_box(topic))))
        });
    }
    group.finish();
}

criterion_group!(benches, frame_encoding, fan_out, topic_authorization);
criterion_main!(benches);
