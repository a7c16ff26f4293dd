//! `Range: bytes=…` per RFC 9110 §14: which parts of a representation of a
//! given length a request asks for.
//!
//! Written here rather than taken from a crate because the two candidates
//! depart from the RFC where it matters: `headers` keeps ranges that start
//! past the end and drops suffixes longer than the file; `http-range-header`
//! rejects those suffixes and overlapping ranges outright. Here a suffix
//! longer than the file means the whole file, overlapping ranges are merged,
//! and only a set with nothing satisfiable is a 416.

/// More ranges than this in one header is abuse; the header is ignored.
const MAX_RANGES: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ranges {
    /// No usable Range header (absent, another unit, or malformed): send the
    /// whole representation.
    Full,
    /// Inclusive `(first, last)` byte positions, ascending and disjoint.
    Partial(Vec<(u64, u64)>),
    /// Syntactically fine, but nothing in it lies within the representation.
    Unsatisfiable,
}

/// Resolves a `Range` header value against a representation of `len` bytes.
pub fn resolve(header: &str, len: u64) -> Ranges {
    let Some(set) = strip_unit(header) else {
        return Ranges::Full;
    };
    let mut specs = Vec::new();
    for element in set.split(',').map(|e| e.trim_matches([' ', '\t'])) {
        if element.is_empty() {
            continue; // empty list elements are allowed (RFC 9110 §5.6.1)
        }
        match parse_spec(element) {
            Some(spec) => specs.push(spec),
            None => return Ranges::Full,
        }
    }
    if specs.is_empty() || specs.len() > MAX_RANGES {
        return Ranges::Full;
    }
    // A non-zero suffix of an empty representation is satisfiable (RFC 9110
    // §14.1.1): it is the whole of it, which has no byte to put in a 206.
    if len == 0 && specs.iter().any(|spec| matches!(spec, Spec::Suffix(1..))) {
        return Ranges::Full;
    }
    let mut ranges: Vec<(u64, u64)> = specs
        .into_iter()
        .filter_map(|spec| spec.within(len))
        .collect();
    if ranges.is_empty() {
        return Ranges::Unsatisfiable;
    }
    ranges.sort_unstable();
    let mut merged: Vec<(u64, u64)> = Vec::with_capacity(ranges.len());
    for (first, last) in ranges {
        match merged.last_mut() {
            Some(previous) if first <= previous.1.saturating_add(1) => {
                previous.1 = previous.1.max(last)
            }
            _ => merged.push((first, last)),
        }
    }
    Ranges::Partial(merged)
}

/// `bytes=` (the unit is case-insensitive), or `None` for any other unit.
fn strip_unit(header: &str) -> Option<&str> {
    let (unit, set) = header.trim().split_once('=')?;
    unit.eq_ignore_ascii_case("bytes").then_some(set)
}

enum Spec {
    /// `first-` or `first-last`.
    From { first: u64, last: Option<u64> },
    /// `-length`: the final `length` bytes.
    Suffix(u64),
}

fn parse_spec(element: &str) -> Option<Spec> {
    let (first, last) = element.split_once('-')?;
    let number = |digits: &str| -> Option<u64> {
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse().ok()
    };
    if first.is_empty() {
        return number(last).map(Spec::Suffix);
    }
    let first = number(first)?;
    let last = if last.is_empty() {
        None
    } else {
        Some(number(last)?)
    };
    // `last < first` makes the whole header invalid (RFC 9110 §14.1.1).
    if last.is_some_and(|last| last < first) {
        return None;
    }
    Some(Spec::From { first, last })
}

impl Spec {
    /// The inclusive byte positions this spec selects, if any.
    fn within(&self, len: u64) -> Option<(u64, u64)> {
        if len == 0 {
            return None;
        }
        match *self {
            Spec::From { first, last } => {
                (first < len).then(|| (first, last.map_or(len - 1, |last| last.min(len - 1))))
            }
            Spec::Suffix(0) => None,
            Spec::Suffix(length) => Some((len - length.min(len), len - 1)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn partial(ranges: &[(u64, u64)]) -> Ranges {
        Ranges::Partial(ranges.to_vec())
    }

    #[test]
    fn a_suffix_of_an_empty_representation_is_all_of_it() {
        // Issue 32: this was a 416.
        assert_eq!(resolve("bytes=-5", 0), Ranges::Full);
        assert_eq!(resolve("bytes=0-, -1", 0), Ranges::Full);
        assert_eq!(resolve("bytes=-0", 0), Ranges::Unsatisfiable);
        assert_eq!(resolve("bytes=0-", 0), Ranges::Unsatisfiable);
    }

    #[test]
    fn single_ranges() {
        assert_eq!(resolve("bytes=0-0", 100), partial(&[(0, 0)]));
        assert_eq!(resolve("bytes=99-99", 100), partial(&[(99, 99)]));
        assert_eq!(resolve("bytes=10-19", 100), partial(&[(10, 19)]));
        assert_eq!(resolve("bytes=90-", 100), partial(&[(90, 99)]));
        assert_eq!(resolve("bytes=90-1000", 100), partial(&[(90, 99)]));
        assert_eq!(resolve("bytes=-10", 100), partial(&[(90, 99)]));
        assert_eq!(
            resolve("bytes=-500", 100),
            partial(&[(0, 99)]),
            "a long suffix is the whole file"
        );
        assert_eq!(
            resolve("Bytes=0-1", 100),
            partial(&[(0, 1)]),
            "the unit is case-insensitive"
        );
    }

    #[test]
    fn several_ranges_are_sorted_and_merged() {
        assert_eq!(resolve("bytes=0-1, 5-6", 10), partial(&[(0, 1), (5, 6)]));
        assert_eq!(resolve("bytes=5-6,0-1", 10), partial(&[(0, 1), (5, 6)]));
        assert_eq!(resolve("bytes=0-4,3-8", 10), partial(&[(0, 8)]));
        assert_eq!(
            resolve("bytes=0-1,2-3", 10),
            partial(&[(0, 3)]),
            "adjacent ranges merge"
        );
        assert_eq!(resolve("bytes=0-1,,-2", 10), partial(&[(0, 1), (8, 9)]));
        assert_eq!(
            resolve("bytes=0-1,50-60", 10),
            partial(&[(0, 1)]),
            "unsatisfiable parts are dropped"
        );
    }

    #[test]
    fn unsatisfiable_sets() {
        assert_eq!(resolve("bytes=100-", 100), Ranges::Unsatisfiable);
        assert_eq!(resolve("bytes=100-200", 100), Ranges::Unsatisfiable);
        assert_eq!(resolve("bytes=-0", 100), Ranges::Unsatisfiable);
        assert_eq!(resolve("bytes=0-0", 0), Ranges::Unsatisfiable);
    }

    #[test]
    fn malformed_headers_are_ignored() {
        for header in [
            "bytes=5-1",
            "bytes=abc",
            "bytes=1-2-3",
            "bytes=-",
            "bytes=",
            "bytes=+1-2",
            "bytes=1 -2",
            "items=0-1",
            "bytes 0-1",
            "bytes=0x1-2",
            "bytes=99999999999999999999999-",
        ] {
            assert_eq!(resolve(header, 100), Ranges::Full, "{header}");
        }
        let many = format!("bytes={}", vec!["0-0"; MAX_RANGES + 1].join(","));
        assert_eq!(resolve(&many, 100), Ranges::Full);
    }

    proptest! {
        #[test]
        fn partial_ranges_lie_within_and_ascend(header in "bytes=[0-9,\\- ]{0,24}", len in 0u64..200) {
            if let Ranges::Partial(ranges) = resolve(&header, len) {
                prop_assert!(!ranges.is_empty());
                for &(first, last) in &ranges {
                    prop_assert!(first <= last && last < len);
                }
                for pair in ranges.windows(2) {
                    prop_assert!(pair[0].1 + 1 < pair[1].0, "disjoint and ascending: {ranges:?}");
                }
            }
        }
    }
}
