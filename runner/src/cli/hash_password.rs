//! `sitebox hash-password`: reads the admin's password and prints its
//! argon2id hash, the PHC string `--admin-password-hash` takes.

use anyhow::{Context, Result, anyhow, bail};
use argon2::Argon2;
use argon2::password_hash::PasswordHasher;
use std::io::{BufRead, IsTerminal};

pub fn run() -> Result<()> {
    let password = read_password()?;
    println!("{}", hash(&password)?);
    Ok(())
}

/// argon2id with the crate's defaults, which are OWASP's recommendation
/// (19 MiB, two passes, one lane), and a random salt.
pub fn hash(password: &str) -> Result<String> {
    if password.is_empty() {
        bail!("the password is empty");
    }
    let hash = Argon2::default()
        .hash_password(password.as_bytes())
        .map_err(|error| anyhow!("cannot hash the password: {error}"))?;
    Ok(hash.to_string())
}

/// On a terminal, asked for twice without echo; otherwise the first line of
/// stdin (`echo "$PASSWORD" | sitebox hash-password`).
fn read_password() -> Result<String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        let password =
            rpassword::prompt_password("Admin password: ").context("cannot read the password")?;
        let again =
            rpassword::prompt_password("Once more: ").context("cannot read the password")?;
        if password != again {
            bail!("the two passwords differ");
        }
        return Ok(password);
    }
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .context("cannot read the password from stdin")?;
    Ok(line.trim_end_matches(['\n', '\r']).to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::PasswordVerifier;
    use argon2::password_hash::phc::PasswordHash;

    #[test]
    fn the_hash_verifies_and_is_salted() {
        let first = hash("s3cret pass").unwrap();
        let second = hash("s3cret pass").unwrap();
        assert!(
            first.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{first}"
        );
        assert_ne!(first, second, "a fresh salt each time");
        let parsed = PasswordHash::new(&first).unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"s3cret pass", &parsed)
                .is_ok()
        );
        assert!(
            Argon2::default()
                .verify_password(b"s3cret", &parsed)
                .is_err()
        );
        assert_eq!(sitebox::board::admin::hash_memory_kib(&first), Ok(19456));
        assert!(hash("").is_err());
    }
}
