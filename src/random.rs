//! Randomness as the core takes it: handed in by the host (the glue reads
//! `wasi:random`; tests pass what they like), and the helpers that make
//! random names of it, in hex.

/// Fills `bytes` with random bytes, or says why it cannot.
pub type Random = fn(&mut [u8]) -> Result<(), String>;

/// `N` random bytes as `2N` lowercase hex digits.
pub fn hex<const N: usize>(random: Random) -> Result<String, String> {
    let mut bytes = [0u8; N];
    random(&mut bytes)?;
    Ok(to_hex(&bytes))
}

/// `bytes` as lowercase hex digits, two a byte.
pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(2 * bytes.len());
    for &byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 0xf)]));
    }
    text
}

/// The operating system's randomness, for host tests.
#[cfg(test)]
pub fn os(bytes: &mut [u8]) -> Result<(), String> {
    getrandom::fill(bytes).map_err(|error| error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_spells_out_the_bytes() {
        let counting: Random = |bytes| {
            for (i, byte) in bytes.iter_mut().enumerate() {
                *byte = (i as u8) * 0x11 + 0x0f;
            }
            Ok(())
        };
        assert_eq!(hex::<3>(counting).unwrap(), "0f2031");
        assert_eq!(hex::<8>(os).unwrap().len(), 16);
        assert_ne!(hex::<8>(os).unwrap(), hex::<8>(os).unwrap());
        let broken: Random = |_| Err("no entropy".to_owned());
        assert_eq!(hex::<4>(broken).unwrap_err(), "no entropy");
    }
}
