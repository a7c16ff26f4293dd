//! The site's admin: who may do the board's destructive actions (clearing
//! it). The admin is whoever knows the password whose argon2 hash, a PHC
//! string, is the `admin_password_hash` setting; with no hash set, nobody
//! is. Browsers log in by HTTP Basic (user `admin`), answering the `401`'s
//! challenge with their login prompt; API clients may also send the password
//! as a Bearer token.

use crate::error::{Challenge, Error};
use argon2::password_hash::PasswordVerifier;
use argon2::password_hash::phc::PasswordHash;
use argon2::{Algorithm, Argon2, Params};
use headers::authorization::{Basic, Bearer};
use headers::{Authorization, HeaderMapExt};
use http::HeaderMap;
use subtle::{Choice, ConstantTimeEq};

/// The admin's user name in a Basic login.
pub const USER: &str = "admin";

/// The site's admin: the hash of the admin's password, if the site has one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Admin<'a> {
    pub password_hash: Option<&'a str>,
}

impl Admin<'_> {
    /// Lets the request through only with the admin's credentials: `403`
    /// when the site has no admin (clearing is off, not open), `401` when
    /// the credentials are missing or wrong (the same answer for a wrong user
    /// as for a wrong password).
    pub fn authorize(self, headers: &HeaderMap, challenge: Challenge) -> Result<(), Error> {
        let Some(password_hash) = self.password_hash else {
            return Err(Error::Forbidden(
                "The board's admin actions are turned off: this site has no admin password.",
            ));
        };
        // The runner checks the hash at start; `wasmtime serve` and other
        // hosts pass the setting through as it is.
        let password_hash = parse(password_hash)
            .map_err(|reason| Error::Internal(format!("the admin password hash: {reason}")))?;
        let (user_matches, password) = presented(headers).ok_or(Error::Unauthorized(challenge))?;
        // The password is checked whatever the user name, so the time taken
        // does not tell a wrong user from a wrong password.
        let password_matches = Choice::from(u8::from(
            Argon2::default()
                .verify_password(password.as_bytes(), &password_hash)
                .is_ok(),
        ));
        if bool::from(user_matches & password_matches) {
            Ok(())
        } else {
            Err(Error::Unauthorized(challenge))
        }
    }
}

/// The user-name check and the password of the request's `Authorization`:
/// Basic (user and password) or Bearer (the password alone).
fn presented(headers: &HeaderMap) -> Option<(Choice, String)> {
    if let Some(Authorization(basic)) = headers.typed_get::<Authorization<Basic>>() {
        let user_matches = basic.username().as_bytes().ct_eq(USER.as_bytes());
        return Some((user_matches, basic.password().to_owned()));
    }
    let Authorization(bearer) = headers.typed_get::<Authorization<Bearer>>()?;
    Some((Choice::from(1), bearer.token().to_owned()))
}

/// Reads a PHC string of argon2 (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`).
fn parse(text: &str) -> Result<PasswordHash, String> {
    let hash = PasswordHash::new(text.trim()).map_err(|error| error.to_string())?;
    Algorithm::try_from(hash.algorithm.as_str())
        .map_err(|_| format!("{} is not an argon2 hash", hash.algorithm))?;
    Params::try_from(&hash).map_err(|error| error.to_string())?;
    if hash.hash.is_none() {
        return Err("the PHC string has no hash".to_owned());
    }
    Ok(hash)
}

/// Checks a hash as the runner does at start: it must be an argon2 PHC
/// string; returns the memory its check takes, in KiB (its `m`).
pub fn hash_memory_kib(text: &str) -> Result<u32, String> {
    let hash = parse(text)?;
    let params = Params::try_from(&hash).map_err(|error| error.to_string())?;
    Ok(params.m_cost())
}

/// An admin for tests and the fuzzers: a real argon2id hash of `PASSWORD`,
/// made with the smallest parameters so each check is quick.
#[cfg(any(test, fuzzing))]
pub(crate) mod testing {
    use argon2::password_hash::CustomizedPasswordHasher;
    use argon2::{Argon2, Params};
    use std::sync::LazyLock;

    pub const PASSWORD: &str = "correct horse battery staple";

    pub static HASH: LazyLock<String> = LazyLock::new(|| {
        let params = Params::new(Params::MIN_M_COST, 1, 1, None).unwrap();
        Argon2::default()
            .hash_password_customized(PASSWORD.as_bytes(), b"a salt for tests", None, None, params)
            .unwrap()
            .to_string()
    });

    #[cfg(test)]
    pub fn admin() -> super::Admin<'static> {
        super::Admin {
            password_hash: Some(&HASH),
        }
    }

    /// `Authorization: Basic` for `user` and `password`.
    #[cfg(test)]
    pub fn basic(user: &str, password: &str) -> String {
        use base64::Engine;
        let pair = format!("{user}:{password}");
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{PASSWORD, admin, basic};
    use super::*;
    use http::StatusCode;
    use http::header::AUTHORIZATION;

    fn headers(authorization: Option<&str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(value) = authorization {
            headers.insert(AUTHORIZATION, value.parse().unwrap());
        }
        headers
    }

    fn status(admin: Admin, authorization: Option<&str>) -> Option<StatusCode> {
        admin
            .authorize(&headers(authorization), Challenge::Api)
            .err()
            .map(|error| error.status())
    }

    #[test]
    fn the_admin_passes_by_basic_or_bearer() {
        assert_eq!(status(admin(), Some(&basic(USER, PASSWORD))), None);
        assert_eq!(status(admin(), Some(&format!("Bearer {PASSWORD}"))), None);
        // Scheme names are case-insensitive (RFC 9110 §11.1).
        let lower = basic(USER, PASSWORD).replacen("Basic", "basic", 1);
        assert_eq!(status(admin(), Some(&lower)), None);
    }

    #[test]
    fn missing_or_wrong_credentials_are_401_alike() {
        let unauthorized = Some(StatusCode::UNAUTHORIZED);
        for authorization in [
            None,
            Some(basic(USER, "wrong").as_str()),
            Some(basic("root", PASSWORD).as_str()),
            Some(basic("", "").as_str()),
            Some("Bearer wrong"),
            Some("Basic not-base64!"),
            Some("Basic"),
            Some("Digest username=\"admin\""),
            Some("Bearer"),
        ] {
            assert_eq!(
                status(admin(), authorization),
                unauthorized,
                "{authorization:?}"
            );
        }
        let wrong_user =
            admin().authorize(&headers(Some(&basic("root", PASSWORD))), Challenge::Basic);
        let wrong_password = admin().authorize(&headers(Some(&basic(USER, "x"))), Challenge::Basic);
        assert_eq!(wrong_user, wrong_password);
        assert_eq!(wrong_user, Err(Error::Unauthorized(Challenge::Basic)));
    }

    #[test]
    fn a_site_without_an_admin_refuses_everyone() {
        let nobody = Admin {
            password_hash: None,
        };
        let forbidden = Some(StatusCode::FORBIDDEN);
        assert_eq!(status(nobody, None), forbidden);
        assert_eq!(status(nobody, Some(&basic(USER, PASSWORD))), forbidden);
    }

    #[test]
    fn a_malformed_hash_is_our_fault_and_never_lets_anyone_in() {
        for hash in [
            "",
            "plaintext",
            "$2b$12$abcdefghijklmnopqrstuv",
            "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ",
        ] {
            let broken = Admin {
                password_hash: Some(hash),
            };
            let error = broken
                .authorize(&headers(Some(&basic(USER, PASSWORD))), Challenge::Basic)
                .unwrap_err();
            assert_eq!(error.status(), StatusCode::INTERNAL_SERVER_ERROR, "{hash}");
            assert!(!error.public_message().contains(hash) || hash.is_empty());
            assert!(hash_memory_kib(hash).is_err(), "{hash}");
        }
    }

    #[test]
    fn the_memory_a_check_takes_is_read_from_the_hash() {
        assert_eq!(hash_memory_kib(&testing::HASH), Ok(Params::MIN_M_COST));
        let default = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$\
                       DKDJDdB8L5Jl0mZ1h5pLhR0dIpWUXk7Y8y9q6f6VQm0";
        assert_eq!(hash_memory_kib(default), Ok(19456));
    }
}
