//! Topic rules: which identities may join which topics.
//!
//! The configuration holds an ordered list of rules, each a topic pattern
//! with named placeholders and who may join:
//!
//! ```toml
//! [[topics]]
//! pattern = "chat:{businessId}:{userId}"
//! allow = [
//!   { claims = { userId = "{userId}" } },                                # the user
//!   { claims = { businessId = "{businessId}" }, roles = ["coordinator"] }, # or staff
//! ]
//! ```
//!
//! - A pattern is literal text, `{name}` placeholders (one or more
//!   characters other than `:`) and an optional trailing `*` (anything, at
//!   least one character).
//! - `allow` is `"public"` (anyone, even anonymous), `"authenticated"` (any
//!   valid token), one condition table, or a list of them of which any one
//!   suffices. A condition table's parts must all hold: `claims` maps a claim
//!   name to a value (placeholders substituted) that the claim must equal or,
//!   when the claim is a list, contain; `roles` lists roles of which the
//!   identity needs one.
//! - Claim names are the token's own; `userId`, `businessId`, `locationId`
//!   and `roles` also reach the mapped identity fields whatever claim they
//!   came from.
//! - A topic may match several rules (a placeholder can split a name more
//!   than one way): it is allowed when any matching rule allows it,
//!   refused as `unauthorized` when rules match but none allows, and as
//!   `unmatched topic` when no pattern matches.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{AuthConfigError, Identity};

/// One `[[topics]]` entry as written in the configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopicRule {
    pub pattern: String,
    pub allow: Allow,
}

/// Who a rule lets in, as written in the configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Allow {
    Keyword(Keyword),
    AnyOf(Vec<Condition>),
    Condition(Condition),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Keyword {
    Public,
    Authenticated,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub claims: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
}

/// Why a join was refused; the reason is what the client is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TopicDenied {
    #[error("unauthorized")]
    Unauthorized,
    #[error("unmatched topic")]
    UnmatchedTopic,
}

impl TopicDenied {
    pub fn reason(&self) -> &'static str {
        match self {
            TopicDenied::Unauthorized => "unauthorized",
            TopicDenied::UnmatchedTopic => "unmatched topic",
        }
    }
}

/// The rules, compiled for matching.
#[derive(Debug, Default)]
pub struct TopicRules {
    rules: Vec<Compiled>,
}

#[derive(Debug)]
struct Compiled {
    pattern: Vec<Segment>,
    allow: Allow,
}

#[derive(Debug, PartialEq)]
enum Segment {
    Literal(String),
    Placeholder(String),
    /// Trailing `*`.
    Rest,
}

/// Placeholder name → the part of the topic it matched.
type Bindings<'t> = [(&'t str, &'t str)];

/// Placeholders can split a topic several ways; past this many candidate
/// splits a topic is refused rather than searched further.
const MAX_CANDIDATES: usize = 64;

impl TopicRules {
    pub fn compile(rules: &[TopicRule]) -> Result<Self, AuthConfigError> {
        let rules = rules
            .iter()
            .map(|rule| {
                let problem = |problem: &str| AuthConfigError::Rule {
                    pattern: rule.pattern.clone(),
                    problem: problem.to_owned(),
                };
                let pattern = parse_pattern(&rule.pattern).map_err(problem)?;
                let names: Vec<&str> = pattern
                    .iter()
                    .filter_map(|s| match s {
                        Segment::Placeholder(name) => Some(name.as_str()),
                        _ => None,
                    })
                    .collect();
                for template in rule.allow.templates() {
                    for used in placeholders_in(template) {
                        if !names.contains(&used) {
                            return Err(problem(&format!(
                                "allow uses {{{used}}}, which the pattern does not define"
                            )));
                        }
                    }
                }
                if let Allow::AnyOf(list) = &rule.allow
                    && list.is_empty()
                {
                    return Err(problem(
                        "allow = [] would let nobody in; leave the rule out",
                    ));
                }
                Ok(Compiled {
                    pattern,
                    allow: rule.allow.clone(),
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { rules })
    }

    pub fn authorize(&self, identity: &Identity, topic: &str) -> Result<(), TopicDenied> {
        let mut matched = false;
        // One bindings buffer for every rule: a join allocates at most once.
        let mut bindings = Vec::new();
        for rule in &self.rules {
            let mut search = Search::new(&mut bindings);
            let admitted = search.run(&rule.pattern, topic, &mut |bindings| {
                matched = true;
                rule.allow.admits(identity, bindings)
            });
            if admitted {
                return Ok(());
            }
        }
        if matched {
            Err(TopicDenied::Unauthorized)
        } else {
            Err(TopicDenied::UnmatchedTopic)
        }
    }

    /// Does some rule's pattern match `topic` (whoever asks)?
    pub fn matches(&self, topic: &str) -> bool {
        let mut bindings = Vec::new();
        self.rules
            .iter()
            .any(|rule| Search::new(&mut bindings).run(&rule.pattern, topic, &mut |_| true))
    }
}

impl Allow {
    fn admits(&self, identity: &Identity, bindings: &Bindings<'_>) -> bool {
        match self {
            Allow::Keyword(Keyword::Public) => true,
            Allow::Keyword(Keyword::Authenticated) => !identity.is_anonymous(),
            Allow::Condition(condition) => condition.admits(identity, bindings),
            Allow::AnyOf(conditions) => conditions.iter().any(|c| c.admits(identity, bindings)),
        }
    }

    fn templates(&self) -> Vec<&str> {
        match self {
            Allow::Keyword(_) => Vec::new(),
            Allow::Condition(c) => c.claims.values().map(String::as_str).collect(),
            Allow::AnyOf(list) => list
                .iter()
                .flat_map(|c| c.claims.values().map(String::as_str))
                .collect(),
        }
    }
}

impl Condition {
    fn admits(&self, identity: &Identity, bindings: &Bindings<'_>) -> bool {
        if identity.is_anonymous() {
            return false;
        }
        let claims_hold = self.claims.iter().all(|(claim, template)| {
            let expected = substitute(template, bindings);
            claim_matches(identity, claim, &expected)
        });
        let role_holds = self.roles.is_empty() || self.roles.iter().any(|r| identity.has_role(r));
        claims_hold && role_holds
    }
}

fn claim_matches(identity: &Identity, claim: &str, expected: &str) -> bool {
    let equals = |value: &Value| super::claims::scalar(value).is_some_and(|v| v == expected);
    match identity.claims.get(claim) {
        Some(Value::Array(items)) if items.iter().any(equals) => return true,
        Some(value) if equals(value) => return true,
        _ => {}
    }
    let mapped = match claim {
        "userId" => identity.user_id.as_deref(),
        "businessId" => identity.business_id.as_deref(),
        "locationId" => identity.location_id.as_deref(),
        "roles" => return identity.has_role(expected),
        _ => None,
    };
    mapped == Some(expected)
}

fn parse_pattern(pattern: &str) -> Result<Vec<Segment>, &'static str> {
    if pattern.is_empty() {
        return Err("the pattern is empty");
    }
    let mut segments = Vec::new();
    let mut rest = pattern;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('{') {
            let end = after.find('}').ok_or("a { without its }")?;
            let name = &after[..end];
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err("placeholder names are letters, digits and _");
            }
            if matches!(segments.last(), Some(Segment::Placeholder(_))) {
                return Err("two placeholders need literal text between them");
            }
            segments.push(Segment::Placeholder(name.to_owned()));
            rest = &after[end + 1..];
        } else if rest == "*" {
            segments.push(Segment::Rest);
            rest = "";
        } else {
            let end = rest.find(['{', '*']).unwrap_or(rest.len());
            if end == 0 {
                return Err("* may only end a pattern");
            }
            segments.push(Segment::Literal(rest[..end].to_owned()));
            rest = &rest[end..];
        }
    }
    Ok(segments)
}

/// A search for the ways a topic matches a pattern: each is handed to a
/// visitor as placeholder bindings, until the visitor accepts one or
/// [`MAX_CANDIDATES`] were tried.
struct Search<'b, 'p, 't> {
    bindings: &'b mut Vec<(&'p str, &'t str)>,
    tried: usize,
}

impl<'b, 'p: 't, 't> Search<'b, 'p, 't> {
    fn new(bindings: &'b mut Vec<(&'p str, &'t str)>) -> Self {
        bindings.clear();
        Self { bindings, tried: 0 }
    }

    /// Whether `visit` accepted a way `topic` matches `segments`.
    fn run(
        &mut self,
        segments: &'p [Segment],
        topic: &'t str,
        visit: &mut dyn FnMut(&Bindings<'t>) -> bool,
    ) -> bool {
        if self.tried >= MAX_CANDIDATES {
            return false;
        }
        let Some((first, rest)) = segments.split_first() else {
            return topic.is_empty() && self.candidate(visit);
        };
        match first {
            Segment::Literal(text) => topic
                .strip_prefix(text.as_str())
                .is_some_and(|remaining| self.run(rest, remaining, visit)),
            Segment::Rest => !topic.is_empty() && self.candidate(visit),
            Segment::Placeholder(name) => {
                let limit = topic.find(':').unwrap_or(topic.len());
                for (end, _) in topic[..limit].char_indices().skip(1).chain([(limit, ' ')]) {
                    if end == 0 {
                        continue;
                    }
                    self.bindings.push((name.as_str(), &topic[..end]));
                    let accepted = self.run(rest, &topic[end..], visit);
                    self.bindings.pop();
                    if accepted {
                        return true;
                    }
                }
                false
            }
        }
    }

    fn candidate(&mut self, visit: &mut dyn FnMut(&Bindings<'t>) -> bool) -> bool {
        self.tried += 1;
        visit(self.bindings)
    }
}

fn placeholders_in(template: &str) -> Vec<&str> {
    let mut names = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        let Some(end) = after.find('}') else { break };
        names.push(&after[..end]);
        rest = &after[end + 1..];
    }
    names
}

/// `template` with its placeholders filled in; borrowed when it is just one
/// placeholder (the usual `{businessId}`) or has none.
fn substitute<'a>(template: &'a str, bindings: &Bindings<'a>) -> Cow<'a, str> {
    if !template.contains('{') {
        return Cow::Borrowed(template);
    }
    if let Some(name) = template
        .strip_prefix('{')
        .and_then(|rest| rest.strip_suffix('}'))
        && let Some((_, value)) = bindings.iter().find(|(bound, _)| *bound == name)
    {
        return Cow::Borrowed(value);
    }
    let mut text = template.to_owned();
    for (name, value) in bindings {
        text = text.replace(&format!("{{{name}}}"), value);
    }
    Cow::Owned(text)
}

/// The rules shipped by default: the topics of the systems Herald replaces.
pub fn default_rules() -> Vec<TopicRule> {
    let claims = |pairs: &[(&str, &str)]| Condition {
        claims: pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        roles: Vec::new(),
    };
    let roles = |names: &[&str]| names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>();
    let admin = Condition {
        claims: BTreeMap::new(),
        roles: roles(&["admin"]),
    };
    // A business's own staff (their token names the business), or an admin.
    let staff_or_admin = || {
        Allow::AnyOf(vec![
            claims(&[("businessId", "{businessId}")]),
            admin.clone(),
        ])
    };
    let rule = |pattern: &str, allow: Allow| TopicRule {
        pattern: pattern.to_owned(),
        allow,
    };
    vec![
        // A business's staff hear its locations' resources.
        rule("resources:{businessId}-{locationId}", staff_or_admin()),
        rule("resources:{businessId}", staff_or_admin()),
        // A user's chat with a business: the user, or that business's coordinators.
        rule(
            "chat:{businessId}:{userId}",
            Allow::AnyOf(vec![
                claims(&[("userId", "{userId}")]),
                Condition {
                    roles: roles(&["coordinator", "admin"]),
                    ..claims(&[("businessId", "{businessId}")])
                },
            ]),
        ),
        // Coordinators of a business.
        rule(
            "agents:{businessId}",
            Allow::Condition(Condition {
                roles: roles(&["coordinator", "admin"]),
                ..claims(&[("businessId", "{businessId}")])
            }),
        ),
        rule(
            "user:{userId}",
            Allow::Condition(claims(&[("userId", "{userId}")])),
        ),
        rule("channel:{channelId}", Allow::Keyword(Keyword::Public)),
        rule("global", Allow::Keyword(Keyword::Public)),
        rule("admin:*", Allow::Condition(admin.clone())),
        // Socket.IO rooms of the streaming site.
        rule(
            "user-notifications:{userId}",
            Allow::Condition(claims(&[("userId", "{userId}")])),
        ),
        rule(
            "channel-notifications:{channelId}",
            Allow::Keyword(Keyword::Public),
        ),
        rule("global-notifications", Allow::Keyword(Keyword::Public)),
        // Socket.IO channels of the loyalty platform (`subscribe`); its
        // per-user channel is `user:{userId}` above.
        rule("business:{businessId}", staff_or_admin()),
        rule("location:{businessId}-{locationId}", staff_or_admin()),
        rule("system", Allow::Keyword(Keyword::Public)),
    ]
}

#[cfg(test)]
mod tests;
