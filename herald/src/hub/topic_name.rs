//! What a topic name may be. Every entry point (socket joins, HTTP publishes,
//! stream sources) checks names with [`validate_topic_name`] so the rules live
//! in one place.

/// Longest accepted topic name, in bytes.
pub const MAX_TOPIC_LEN: usize = 255;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopicNameError {
    #[error("topic must not be empty")]
    Empty,
    #[error("topic is longer than {MAX_TOPIC_LEN} bytes")]
    TooLong,
    #[error("topic must not contain control characters or spaces")]
    InvalidCharacter,
}

pub fn validate_topic_name(topic: &str) -> Result<(), TopicNameError> {
    if topic.is_empty() {
        return Err(TopicNameError::Empty);
    }
    if topic.len() > MAX_TOPIC_LEN {
        return Err(TopicNameError::TooLong);
    }
    if topic.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(TopicNameError::InvalidCharacter);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_usual_shapes() {
        for topic in ["resources:b1-l1", "chat:b:u", "user:42", "global"] {
            assert_eq!(validate_topic_name(topic), Ok(()));
        }
    }

    #[test]
    fn refuses_bad_names() {
        assert_eq!(validate_topic_name(""), Err(TopicNameError::Empty));
        assert_eq!(
            validate_topic_name(&"x".repeat(MAX_TOPIC_LEN + 1)),
            Err(TopicNameError::TooLong)
        );
        assert_eq!(
            validate_topic_name("a b"),
            Err(TopicNameError::InvalidCharacter)
        );
        assert_eq!(
            validate_topic_name("a\nb"),
            Err(TopicNameError::InvalidCharacter)
        );
    }
}
