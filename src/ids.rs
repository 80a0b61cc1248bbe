//! Newtype ids, so a client id can never be passed where a therapist id is
//! expected. A path parameter that does not parse is a 404, not a 400.

use std::fmt;
use std::str::FromStr;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub i64);

        impl $name {
            /// A fresh random id for a new row.
            pub fn generate() -> Self {
                Self(crate::db::new_row_id())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = ();
            fn from_str(s: &str) -> Result<Self, ()> {
                s.parse::<i64>().ok().filter(|n| *n > 0).map(Self).ok_or(())
            }
        }
    };
}

id_type!(
    /// A therapist's account.
    TherapistId
);
id_type!(
    /// A signed-in session (its row, not its secret cookie id).
    SessionId
);
id_type!(
    /// A client of a therapist.
    ClientId
);
id_type!(
    /// A session note.
    NoteId
);
id_type!(
    /// A therapist's own tag.
    CustomTagId
);
