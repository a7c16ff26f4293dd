//! `list-keys`' cursors across the drafts: draft2's host hands out strings,
//! draft's guest takes back a `u64`. A bucket keeps the strings it was given
//! and names each by its place in that list; the list lives as long as the
//! bucket (one request's instance), so it cannot grow without bound across
//! requests.

/// The draft2 cursors one bucket has handed out, by number.
#[derive(Debug, Default)]
pub struct Cursors {
    given: Vec<String>,
}

impl Cursors {
    /// The number the guest gets for draft2's `cursor`.
    pub fn number(&mut self, cursor: String) -> u64 {
        self.given.push(cursor);
        // A usize fits in a u64 on every target Rust has.
        (self.given.len() - 1) as u64
    }

    /// Draft2's cursor for the number `number` the guest passed back; an error
    /// for a number this bucket never gave out.
    pub fn cursor(&self, number: u64) -> Result<String, String> {
        usize::try_from(number)
            .ok()
            .and_then(|index| self.given.get(index))
            .cloned()
            .ok_or_else(|| format!("no cursor {number} was given out by this bucket"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_come_back_as_given() {
        let mut cursors = Cursors::default();
        let first = cursors.number("abc".to_owned());
        let second = cursors.number("".to_owned());
        assert_ne!(first, second);
        assert_eq!(cursors.cursor(first).as_deref(), Ok("abc"));
        assert_eq!(cursors.cursor(second).as_deref(), Ok(""));
    }

    #[test]
    fn unknown_numbers_are_errors() {
        let mut cursors = Cursors::default();
        assert!(cursors.cursor(0).is_err());
        cursors.number("x".to_owned());
        assert!(cursors.cursor(1).is_err());
        assert!(cursors.cursor(u64::MAX).is_err());
    }
}
