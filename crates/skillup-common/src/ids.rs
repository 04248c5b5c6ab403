//! Ids parsed at the edge ("parse, don't validate"): a Redis key or SQL query can
//! only be built from one of these, never from raw request text.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            pub fn new_random() -> Self {
                Self(Uuid::new_v4())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;

            /// Accepts only the hyphenated form; the hyphenated lower-case form is
            /// what keys and responses use.
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                if s.len() != 36 {
                    // Uuid::parse_str also accepts simple, braced and urn forms;
                    // one spelling per id keeps cache keys canonical.
                    return Err(Uuid::try_parse("!").unwrap_err());
                }
                Uuid::try_parse(s).map(Self)
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }
    };
}

uuid_id!(
    /// `courses.id`
    CourseId
);
uuid_id!(
    /// `profiles.id`, the JWT `sub`
    UserId
);
uuid_id!(
    /// `modules.id`
    ModuleId
);
uuid_id!(
    /// `lessons.id`
    LessonId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_hyphenated_form_parses() {
        let id = "0123b6d1-fe4b-4cec-84e3-08312f2a32e5";
        assert_eq!(id.parse::<CourseId>().unwrap().to_string(), id);
        assert_eq!(
            id.to_uppercase().parse::<CourseId>().unwrap().to_string(),
            id,
            "upper case is accepted and canonicalised"
        );
        for bad in [
            "",
            "1",
            "0123b6d1fe4b4cec84e308312f2a32e5",
            "{0123b6d1-fe4b-4cec-84e3-08312f2a32e5}",
            "course:*",
            "0123b6d1-fe4b-4cec-84e3-08312f2a32e*",
        ] {
            assert!(bad.parse::<CourseId>().is_err(), "{bad:?} must not parse");
        }
    }
}
