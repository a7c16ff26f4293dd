//! `increment`'s numbers across the drafts: draft's delta and answer are
//! `u64`, draft2's are `s64`. Neither side may wrap silently: a count out of
//! the other's range is an error the guest sees.

/// A draft `u64` delta as draft2's `s64`.
pub fn delta(delta: u64) -> Result<i64, String> {
    i64::try_from(delta).map_err(|_| format!("an increment of {delta} is too large"))
}

/// Draft2's `s64` answer as draft's `u64`.
pub fn value(key: &str, value: i64) -> Result<u64, String> {
    u64::try_from(value).map_err(|_| format!("{key} is negative ({value})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deltas_up_to_i64_max_pass() {
        assert_eq!(delta(0), Ok(0));
        assert_eq!(delta(1), Ok(1));
        assert_eq!(delta(i64::MAX as u64), Ok(i64::MAX));
        assert!(
            delta(i64::MAX as u64 + 1)
                .unwrap_err()
                .contains("too large")
        );
        assert!(delta(u64::MAX).is_err());
    }

    #[test]
    fn negative_values_are_errors() {
        assert_eq!(value("k", 0), Ok(0));
        assert_eq!(value("k", i64::MAX), Ok(i64::MAX as u64));
        assert_eq!(
            value("next-id", -1),
            Err("next-id is negative (-1)".to_owned())
        );
    }
}
