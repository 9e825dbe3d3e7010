use serde_json::json;

use super::*;
use crate::auth::ClaimMapping;

fn identity(claims: serde_json::Value) -> Identity {
    let serde_json::Value::Object(map) = claims else {
        panic!("claims must be an object")
    };
    ClaimMapping::default().identity(map)
}

fn rules(toml_text: &str) -> TopicRules {
    #[derive(Deserialize)]
    struct File {
        topics: Vec<TopicRule>,
    }
    let file: File = toml::from_str(toml_text).unwrap();
    TopicRules::compile(&file.topics).unwrap()
}

fn defaults() -> TopicRules {
    TopicRules::compile(&default_rules()).unwrap()
}

#[test]
fn public_topics_admit_anonymous_clients() {
    let rules = defaults();
    let anonymous = Identity::anonymous();
    assert_eq!(rules.authorize(&anonymous, "global"), Ok(()));
    assert_eq!(rules.authorize(&anonymous, "channel:abc"), Ok(()));
    assert_eq!(
        rules.authorize(&anonymous, "user:u1"),
        Err(TopicDenied::Unauthorized)
    );
}

#[test]
fn authenticated_needs_any_valid_identity() {
    let rules = rules("[[topics]]\npattern = \"lobby:{room}\"\nallow = \"authenticated\"\n");
    assert_eq!(
        rules.authorize(&identity(json!({"sub": "u1"})), "lobby:1"),
        Ok(())
    );
    assert_eq!(
        rules.authorize(&Identity::anonymous(), "lobby:1"),
        Err(TopicDenied::Unauthorized)
    );
}

#[test]
fn a_user_hears_only_their_own_topic() {
    let rules = defaults();
    let alice = identity(json!({"sub": "alice"}));
    assert_eq!(rules.authorize(&alice, "user:alice"), Ok(()));
    assert_eq!(
        rules.authorize(&alice, "user:bob"),
        Err(TopicDenied::Unauthorized)
    );
    // userId is accepted in place of sub.
    let bob = identity(json!({"userId": "bob"}));
    assert_eq!(rules.authorize(&bob, "user:bob"), Ok(()));
}

#[test]
fn staff_hear_only_their_business() {
    let rules = defaults();
    let staff = identity(json!({"sub": "s1", "businessId": "b-1a2b"}));
    // Business ids with dashes still split correctly.
    assert_eq!(rules.authorize(&staff, "resources:b-1a2b-loc-9"), Ok(()));
    assert_eq!(rules.authorize(&staff, "resources:b-1a2b"), Ok(()));
    assert_eq!(
        rules.authorize(&staff, "resources:other-loc"),
        Err(TopicDenied::Unauthorized)
    );
}

#[test]
fn claim_lists_contain_the_placeholder() {
    let rules = rules(
        "[[topics]]\npattern = \"resources:{businessId}\"\nallow = { claims = { businesses = \"{businessId}\" } }\n",
    );
    let manager = identity(json!({"sub": "m", "businesses": ["b1", "b2"]}));
    assert_eq!(rules.authorize(&manager, "resources:b2"), Ok(()));
    assert_eq!(
        rules.authorize(&manager, "resources:b3"),
        Err(TopicDenied::Unauthorized)
    );
}

#[test]
fn roles_gate_topics() {
    let rules = defaults();
    let admin = identity(json!({"sub": "a", "cognito:groups": ["admin"]}));
    let user = identity(json!({"sub": "u", "roles": ["staff"]}));
    assert_eq!(rules.authorize(&admin, "admin:alerts"), Ok(()));
    assert_eq!(
        rules.authorize(&user, "admin:alerts"),
        Err(TopicDenied::Unauthorized)
    );
    let coordinator = identity(json!({"sub": "c", "businessId": "b1", "role": "coordinator"}));
    assert_eq!(rules.authorize(&coordinator, "agents:b1"), Ok(()));
    assert_eq!(
        rules.authorize(&coordinator, "agents:b2"),
        Err(TopicDenied::Unauthorized)
    );
    assert_eq!(
        rules.authorize(&user, "agents:b1"),
        Err(TopicDenied::Unauthorized)
    );
}

#[test]
fn any_of_several_conditions() {
    let rules = defaults();
    let owner = identity(json!({"sub": "u1"}));
    let coordinator = identity(json!({"sub": "c", "businessId": "b1", "roles": "coordinator"}));
    let other_staff = identity(json!({"sub": "s", "businessId": "b1"}));
    assert_eq!(rules.authorize(&owner, "chat:b1:u1"), Ok(()));
    assert_eq!(rules.authorize(&coordinator, "chat:b1:u1"), Ok(()));
    assert_eq!(
        rules.authorize(&other_staff, "chat:b1:u1"),
        Err(TopicDenied::Unauthorized)
    );
}

#[test]
fn topics_matching_no_pattern_are_refused() {
    let rules = defaults();
    let admin = identity(json!({"sub": "a", "roles": ["admin"]}));
    assert_eq!(
        rules.authorize(&admin, "random"),
        Err(TopicDenied::UnmatchedTopic)
    );
    assert_eq!(
        rules.authorize(&admin, "user:"),
        Err(TopicDenied::UnmatchedTopic)
    );
    assert_eq!(
        rules.authorize(&admin, "admin:"),
        Err(TopicDenied::UnmatchedTopic)
    );
    assert_eq!(
        rules.authorize(&admin, "user:a:b"),
        Err(TopicDenied::UnmatchedTopic)
    );
}

#[test]
fn bad_rules_are_refused_at_start() {
    let compile = |pattern: &str, template: &str| {
        TopicRules::compile(&[TopicRule {
            pattern: pattern.into(),
            allow: Allow::Condition(Condition {
                claims: [("sub".to_owned(), template.to_owned())].into(),
                roles: Vec::new(),
            }),
        }])
    };
    assert!(compile("user:{userId}", "{user}").is_err());
    assert!(compile("user:{a}{b}", "{a}").is_err());
    assert!(compile("user:{a", "x").is_err());
    assert!(compile("a*b", "x").is_err());
    assert!(compile("user:{userId}", "{userId}").is_ok());
}

#[test]
fn the_syntax_reads_as_documented() {
    let rules = rules(
        r#"
[[topics]]
pattern = "resources:{businessId}-{locationId}"
allow = { claims = { businessId = "{businessId}" } }
[[topics]]
pattern = "user:{userId}"
allow = { claims = { sub = "{userId}" } }
[[topics]]
pattern = "admin:alerts"
allow = { roles = ["admin"] }
[[topics]]
pattern = "global"
allow = "public"
[[topics]]
pattern = "chat:{businessId}:{userId}"
allow = [ { claims = { sub = "{userId}" } }, { claims = { businessId = "{businessId}" }, roles = ["coordinator"] } ]
"#,
    );
    let u = identity(json!({"sub": "u9", "businessId": "b"}));
    assert_eq!(rules.authorize(&u, "resources:b-l"), Ok(()));
    assert_eq!(rules.authorize(&u, "user:u9"), Ok(()));
    assert_eq!(
        rules.authorize(&u, "admin:alerts"),
        Err(TopicDenied::Unauthorized)
    );
    assert_eq!(rules.authorize(&Identity::anonymous(), "global"), Ok(()));
    assert_eq!(rules.authorize(&u, "chat:x:u9"), Ok(()));
    assert_eq!(
        rules.authorize(&u, "chat:b:u8"),
        Err(TopicDenied::Unauthorized)
    );
}
