//! The test servers' admin: a password, a real argon2id hash of it (cheap
//! to check), the settings that set it up, and its Basic login.

use sitebox_runner::SiteSettings;
use std::sync::OnceLock;

/// The admin's password on the test servers.
pub const ADMIN_PASSWORD: &str = "test admin: correct horse";

/// A real argon2id hash of `ADMIN_PASSWORD`, with small parameters so each
/// check is quick (`runner/tests/cli.rs` checks one of the default cost).
pub fn admin_hash() -> &'static str {
    use argon2::password_hash::CustomizedPasswordHasher;
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| {
        let params = argon2::Params::new(64, 1, 1, None).unwrap();
        argon2::Argon2::default()
            .hash_password_customized(
                ADMIN_PASSWORD.as_bytes(),
                b"the tests' salt",
                None,
                None,
                params,
            )
            .unwrap()
            .to_string()
    })
}

/// The component's settings on the test servers: the defaults, with the
/// admin.
pub fn site_settings() -> SiteSettings {
    SiteSettings {
        admin_password_hash: Some(admin_hash().to_owned()),
        ..SiteSettings::default()
    }
}

/// `Authorization: Basic` for `user` and `password`.
pub fn basic_login(user: &str, password: &str) -> (&'static str, String) {
    use base64::Engine;
    let pair = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    ("authorization", format!("Basic {pair}"))
}

/// The admin's `Authorization` header on the test servers.
pub fn admin_login() -> (&'static str, String) {
    basic_login(sitebox_runner::ADMIN_USER, ADMIN_PASSWORD)
}
