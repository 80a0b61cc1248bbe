//! Newtype ids, so a client id can never be passed where a therapist id is
//! expected. They are diesel-aware (stored as `BIGINT`), so row structs
//! carry them from the database to the page without re-wrapping. A path
//! parameter that does not parse is a 404, not a 400.

use std::fmt;
use std::str::FromStr;

use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql};
use diesel::serialize::{self, Output, ToSql};
use diesel::sql_types::BigInt;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(
            Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord,
            diesel::AsExpression, diesel::FromSqlRow,
            serde::Serialize, serde::Deserialize,
        )]
        #[diesel(sql_type = BigInt)]
        #[serde(transparent)]
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

        impl<DB> ToSql<BigInt, DB> for $name
        where
            DB: Backend,
            i64: ToSql<BigInt, DB>,
        {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, DB>) -> serialize::Result {
                self.0.to_sql(out)
            }
        }

        impl<DB> FromSql<BigInt, DB> for $name
        where
            DB: Backend,
            i64: FromSql<BigInt, DB>,
        {
            fn from_sql(bytes: DB::RawValue<'_>) -> deserialize::Result<Self> {
                i64::from_sql(bytes).map(Self)
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
    /// An earlier version of a note, kept at each save.
    NoteVersionId
);
id_type!(
    /// An addendum to a signed note.
    AddendumId
);
id_type!(
    /// A therapist's own tag.
    CustomTagId
);
id_type!(
    /// The record of a handout given to a client.
    GivenHandoutId
);
id_type!(
    /// A private link to a given handout: `handout_links.id`.
    HandoutLinkId
);
id_type!(
    /// One of the practice's own handouts.
    PracticeHandoutId
);
id_type!(
    /// An earlier version of one of the practice's own handouts.
    PracticeHandoutVersionId
);
id_type!(
    /// An invitation to join the practice.
    InviteId
);
id_type!(
    /// An event in the audit trail (its place in the chain).
    AuditEventId
);
id_type!(
    /// A recorded measure (PHQ-9, GAD-7): `measures.id`.
    MeasureId
);
id_type!(
    /// A supervision of an associate: `supervisions.id`.
    SupervisionId
);
id_type!(
    /// A supervisor's co-signature or return of a note: `note_reviews.id`.
    NoteReviewId
);
id_type!(
    /// A custodian's request for access: `custody_requests.id`.
    CustodyRequestId
);
id_type!(
    /// A client offered to a colleague: `transfers.id`.
    TransferId
);
id_type!(
    /// A pack uploaded in the app: `packs.id`.
    PackUploadId
);
id_type!(
    /// A therapist's write-only inbox token: `inbox_tokens.id`.
    InboxTokenId
);
id_type!(
    /// A draft an outside tool posted: `inbox_drafts.id`.
    InboxDraftId
);
