//! The position of an event in the one ordered stream of replayable events.
//!
//! The invalidator hands out sequence numbers in the transaction that drains the
//! outbox, under the row lock of `realtime_sequence`, so they follow commit order
//! and have no holes. The *epoch* names the database the numbers came from: a
//! recreated database starts a new epoch, and an offset of another epoch is
//! unknown (its client gets `resync`), never confused with a number of this one.
//!
//! On the wire an offset is an opaque string, `"{epoch:08x}-{seq:016x}"`: fixed
//! width, so two offsets of one epoch also compare as strings.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An epoch: which sequence the numbers belong to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Epoch(pub u32);

impl fmt::Display for Epoch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:08x}", self.0)
    }
}

impl FromStr for Epoch {
    type Err = BadOffset;

    /// Exactly eight lower-case hex digits (what `realtime_sequence.epoch` holds).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() != 8 || !s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(BadOffset);
        }
        u32::from_str_radix(s, 16).map(Self).map_err(|_| BadOffset)
    }
}

/// One event's place in the stream: `seq` counts from 1 within `epoch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Offset {
    pub epoch: Epoch,
    pub seq: u64,
}

/// The text is not an offset this service writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not an offset")]
pub struct BadOffset;

impl Offset {
    pub fn new(epoch: Epoch, seq: u64) -> Self {
        Self { epoch, seq }
    }
}

impl fmt::Display for Offset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{:016x}", self.epoch, self.seq)
    }
}

impl FromStr for Offset {
    type Err = BadOffset;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (epoch, seq) = s.split_once('-').ok_or(BadOffset)?;
        if seq.len() != 16 || !seq.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(BadOffset);
        }
        Ok(Self {
            epoch: epoch.parse()?,
            seq: u64::from_str_radix(seq, 16).map_err(|_| BadOffset)?,
        })
    }
}

impl Serialize for Offset {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Offset {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn offsets_read_back_what_they_print() {
        let o = Offset::new(Epoch(0x00c0_ffee), 42);
        assert_eq!(o.to_string(), "00c0ffee-000000000000002a");
        assert_eq!("00c0ffee-000000000000002a".parse(), Ok(o));
        for bad in [
            "",
            "00c0ffee",
            "00c0ffee-2a",
            "00C0FFEE-000000000000002a",
            "00c0ffee-000000000000002A",
            "0c0ffee-000000000000002a",
            "00c0ffee-+00000000000002a",
            "00c0ffee_000000000000002a",
        ] {
            assert_eq!(bad.parse::<Offset>(), Err(BadOffset), "{bad}");
        }
    }

    proptest! {
        /// Within an epoch the strings sort as the numbers do (clients may compare them).
        #[test]
        fn strings_of_one_epoch_sort_like_their_numbers(epoch in any::<u32>(), a in any::<u64>(), b in any::<u64>()) {
            let (x, y) = (Offset::new(Epoch(epoch), a), Offset::new(Epoch(epoch), b));
            prop_assert_eq!(x.to_string().cmp(&y.to_string()), a.cmp(&b));
            prop_assert_eq!(x.to_string().parse::<Offset>(), Ok(x));
        }

        #[test]
        fn arbitrary_text_never_panics(text in any::<String>()) {
            let _ = text.parse::<Offset>();
        }
    }
}
