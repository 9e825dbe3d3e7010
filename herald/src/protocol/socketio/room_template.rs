//! Room templates of the Socket.IO vocabulary: a room name with `{param}`
//! placeholders (`user-notifications:{userId}`), filled from an event's
//! argument. Parameters listed as the caller's own default to the caller's
//! token and refuse anyone else's.

use serde_json::Value;

use super::access::Identity;
use super::vocabulary::Refusal;

/// Longest accepted room parameter value.
const MAX_PARAM_LEN: usize = 128;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Param(String),
}

/// A room template: text with `{param}` placeholders.
#[derive(Debug, Clone)]
pub struct RoomTemplate {
    parts: Vec<Part>,
    own: Vec<String>,
}

impl RoomTemplate {
    pub fn parse(topic: &str, own: &[String]) -> Result<Self, &'static str> {
        let mut parts = Vec::new();
        let mut rest = topic;
        while let Some(open) = rest.find('{') {
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_owned()));
            }
            let close = rest[open..].find('}').ok_or("unclosed {")? + open;
            let name = &rest[open + 1..close];
            if name.is_empty() || name.contains('{') {
                return Err("empty or nested placeholder");
            }
            parts.push(Part::Param(name.to_owned()));
            rest = &rest[close + 1..];
        }
        if rest.contains('}') {
            return Err("unopened }");
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_owned()));
        }
        if parts.is_empty() {
            return Err("empty topic");
        }
        for param in own {
            if !parts.contains(&Part::Param(param.clone())) {
                return Err("an `own` parameter is not a placeholder of the topic");
            }
        }
        Ok(Self {
            parts,
            own: own.to_vec(),
        })
    }

    fn params(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|part| match part {
            Part::Param(name) => Some(name.as_str()),
            Part::Text(_) => None,
        })
    }

    /// The topic for `arg` (an object of parameters, or a bare value for a
    /// template with one placeholder), checked against `identity`.
    pub fn render(&self, arg: Option<&Value>, identity: &Identity) -> Result<String, Refusal> {
        let params: Vec<&str> = self.params().collect();
        let value_of = |name: &str| -> Option<&Value> {
            match arg {
                Some(Value::Object(fields)) => fields.get(name),
                Some(value @ (Value::String(_) | Value::Number(_))) if params.len() == 1 => {
                    Some(value)
                }
                _ => None,
            }
        };
        let mut topic = String::new();
        for part in &self.parts {
            let name = match part {
                Part::Text(text) => {
                    topic.push_str(text);
                    continue;
                }
                Part::Param(name) => name,
            };
            let given = value_of(name).map(param_text).transpose()?;
            let value = if self.own.contains(name) {
                let Some(own) = own_value(identity, name) else {
                    return Err(Refusal::new(
                        "unauthorized",
                        format!("{name} comes from your token; connect with one"),
                    ));
                };
                match given {
                    Some(given) if given != own => {
                        return Err(Refusal::new(
                            "forbidden",
                            format!("you may only use your own {name}"),
                        ));
                    }
                    _ => own,
                }
            } else {
                given
                    .ok_or_else(|| Refusal::new("invalid_payload", format!("{name} is required")))?
            };
            topic.push_str(&value);
        }
        Ok(topic)
    }
}

/// A parameter value: a non-empty string of safe characters, or an integer.
fn param_text(value: &Value) -> Result<String, Refusal> {
    let text = match value {
        Value::String(text) => text.clone(),
        Value::Number(number) if number.is_i64() || number.is_u64() => number.to_string(),
        _ => {
            return Err(Refusal::new(
                "invalid_payload",
                "parameters are strings or integers",
            ));
        }
    };
    let safe = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@');
    if text.is_empty() || text.len() > MAX_PARAM_LEN || !text.chars().all(safe) {
        return Err(Refusal::new(
            "invalid_payload",
            "parameters are 1 to 128 letters, digits, '-', '_', '.' or '@'",
        ));
    }
    Ok(text)
}

/// The caller's own value of a parameter, from its token.
fn own_value(identity: &Identity, name: &str) -> Option<String> {
    let field = match name {
        "userId" => identity.user_id.clone(),
        "businessId" => identity.business_id.clone(),
        "locationId" => identity.location_id.clone(),
        _ => None,
    };
    field.or_else(|| match identity.claims.get(name)? {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn user(id: &str) -> Identity {
        Identity {
            user_id: Some(id.into()),
            ..Identity::default()
        }
    }

    #[test]
    fn templates_fill_from_objects_or_bare_values() {
        let template = RoomTemplate::parse("channel-notifications:{channelId}", &[]).unwrap();
        let anonymous = Identity::anonymous();
        assert_eq!(
            template.render(Some(&json!("c1")), &anonymous).unwrap(),
            "channel-notifications:c1"
        );
        assert_eq!(
            template
                .render(Some(&json!({"channelId": 7})), &anonymous)
                .unwrap(),
            "channel-notifications:7"
        );
        assert_eq!(
            template.render(None, &anonymous).unwrap_err().code,
            "invalid_payload"
        );
        assert_eq!(
            template
                .render(Some(&json!("a:b")), &anonymous)
                .unwrap_err()
                .code,
            "invalid_payload"
        );
        let two = RoomTemplate::parse("location:{businessId}-{locationId}", &[]).unwrap();
        assert_eq!(
            two.render(
                Some(&json!({"businessId": "b1", "locationId": "l1"})),
                &anonymous
            )
            .unwrap(),
            "location:b1-l1"
        );
        assert!(two.render(Some(&json!("b1")), &anonymous).is_err());
    }

    #[test]
    fn own_parameters_default_to_the_caller_and_refuse_others() {
        let template =
            RoomTemplate::parse("user-notifications:{userId}", &["userId".into()]).unwrap();
        assert_eq!(
            template.render(Some(&json!("u1")), &user("u1")).unwrap(),
            "user-notifications:u1"
        );
        assert_eq!(
            template.render(None, &user("u1")).unwrap(),
            "user-notifications:u1"
        );
        assert_eq!(
            template
                .render(Some(&json!("u2")), &user("u1"))
                .unwrap_err()
                .code,
            "forbidden"
        );
        assert_eq!(
            template
                .render(Some(&json!("u1")), &Identity::anonymous())
                .unwrap_err()
                .code,
            "unauthorized"
        );
    }

    #[test]
    fn bad_templates_are_configuration_errors() {
        assert!(RoomTemplate::parse("a:{b", &[]).is_err());
        assert!(RoomTemplate::parse("a:{}", &[]).is_err());
        assert!(RoomTemplate::parse("a:b}", &[]).is_err());
        assert!(RoomTemplate::parse("a:{b}", &["c".into()]).is_err());
    }
}
