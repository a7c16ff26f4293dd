//! `get-many`'s answer across the drafts: draft promises one entry per key
//! asked for, in that order (`none` for a key without a value); draft2
//! answers `(key, option<value>)` pairs.

use std::collections::HashMap;

/// Draft's answer for `keys` from draft2's `answer`, matched by key, not by
/// place: Spin's SQLite store answers only the keys it has, in its own
/// order, and a key it leaves out has no value.
pub fn for_keys(
    keys: &[String],
    answer: Vec<(String, Option<Vec<u8>>)>,
) -> Vec<Option<(String, Vec<u8>)>> {
    let found: HashMap<String, Vec<u8>> = answer
        .into_iter()
        .filter_map(|(key, value)| Some((key, value?)))
        .collect();
    keys.iter()
        .map(|key| {
            // Cloned: a key asked for twice gets its value twice.
            let value = found.get(key)?.clone();
            Some((key.clone(), value))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(names: &[&str]) -> Vec<String> {
        names.iter().map(|name| name.to_string()).collect()
    }

    #[test]
    fn an_answer_in_order_with_every_key_stays_as_it_is() {
        let answer = vec![("a".into(), Some(vec![1])), ("b".into(), None)];
        assert_eq!(
            for_keys(&keys(&["a", "b"]), answer),
            [Some(("a".into(), vec![1])), None]
        );
    }

    /// Spin's SQLite store answers only the keys it has, in its own order
    /// (`SELECT key, value … WHERE key IN …`).
    #[test]
    fn an_answer_without_the_missing_keys_in_another_order_is_put_in_place() {
        let answer = vec![("c".into(), Some(vec![3])), ("a".into(), Some(vec![1]))];
        assert_eq!(
            for_keys(&keys(&["a", "b", "c"]), answer),
            [
                Some(("a".into(), vec![1])),
                None,
                Some(("c".into(), vec![3]))
            ]
        );
    }

    #[test]
    fn a_key_asked_for_twice_is_answered_twice() {
        let answer = vec![("a".into(), Some(vec![1]))];
        assert_eq!(
            for_keys(&keys(&["a", "a"]), answer),
            [Some(("a".into(), vec![1])), Some(("a".into(), vec![1]))]
        );
    }
}
