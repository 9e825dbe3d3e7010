//! Which token claims say who the user is.
//!
//! Tokens of different issuers name things differently (`sub` or `userId`,
//! `cognito:groups` or `roles`); the mapping lists, for each field of an
//! [`Identity`], the claims to try in order.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::Identity;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClaimMapping {
    pub user_id: Vec<String>,
    pub business_id: Vec<String>,
    pub location_id: Vec<String>,
    pub roles: Vec<String>,
}

impl Default for ClaimMapping {
    fn default() -> Self {
        let list = |names: &[&str]| names.iter().map(|n| (*n).to_owned()).collect();
        Self {
            user_id: list(&["sub", "userId", "user_id"]),
            business_id: list(&["businessId", "business_id", "custom:businessId"]),
            location_id: list(&["locationId", "location_id", "custom:locationId"]),
            roles: list(&["roles", "role", "cognito:groups"]),
        }
    }
}

impl ClaimMapping {
    pub fn identity(&self, claims: Map<String, Value>) -> Identity {
        let first = |names: &[String]| names.iter().find_map(|name| scalar(claims.get(name)?));
        let mut roles = Vec::new();
        for name in &self.roles {
            match claims.get(name) {
                Some(Value::Array(items)) => {
                    roles.extend(items.iter().filter_map(scalar));
                }
                Some(value) => {
                    // "admin" or "admin coordinator" (space- or comma-separated).
                    if let Some(text) = scalar(value) {
                        roles.extend(
                            text.split([' ', ','])
                                .filter(|r| !r.is_empty())
                                .map(str::to_owned),
                        );
                    }
                }
                None => {}
            }
        }
        roles.sort();
        roles.dedup();
        Identity {
            user_id: first(&self.user_id),
            business_id: first(&self.business_id),
            location_id: first(&self.location_id),
            roles,
            expires_at: claims.get("exp").and_then(Value::as_u64),
            claims,
        }
    }
}

/// A claim as text: strings as they are, numbers written out.
pub(super) fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn maps_the_usual_claim_names() {
        let Value::Object(claims) = json!({
            "userId": "u1", "businessId": 42, "cognito:groups": ["admin", "staff"], "role": "coordinator", "exp": 99
        }) else {
            unreachable!()
        };
        let identity = ClaimMapping::default().identity(claims);
        assert_eq!(identity.user_id.as_deref(), Some("u1"));
        assert_eq!(identity.business_id.as_deref(), Some("42"));
        assert_eq!(identity.roles, vec!["admin", "coordinator", "staff"]);
        assert_eq!(identity.expires_at, Some(99));
    }
}
