//! Flags to `Config`: defaults, values, stores, usage errors.

use super::*;
use crate::cli::Command;
use crate::cli::values::store_location;
use clap::Parser;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

#[test]
fn defaults() {
    let args = Args::try_parse_from(["sitebox"]).unwrap();
    assert_eq!(
        SocketAddr::new(args.addr, args.port).to_string(),
        "127.0.0.1:8080"
    );
    let config = args.config().unwrap();
    assert_eq!(config.static_dir, PathBuf::from("./static"));
    assert_eq!(config.data_dir, PathBuf::from("./data"));
    assert_eq!(config.component, ComponentSource::Embedded);
    assert_eq!(config.max_instance_memory, 64 << 20);
    assert_eq!(config.store, BoardStore::Files);
    assert_eq!(config.site, SiteSettings::default());
    assert_eq!(args.command, None);
}

#[test]
fn stores() {
    let config = |flags: &[&str]| {
        let args = [&["sitebox"][..], flags].concat();
        Args::try_parse_from(args).map(|args| args.config().unwrap().store)
    };
    assert_eq!(
        config(&["--store", "redis://:pw@10.0.0.5:6380/2"]).unwrap(),
        BoardStore::Redis {
            url: "redis://:pw@10.0.0.5:6380/2".to_owned(),
            timeout: Duration::from_secs(2),
        }
    );
    let tls = config(&[
        "--store",
        "rediss://db.example",
        "--bucket",
        "blog",
        "--store-timeout",
        "500ms",
    ]);
    assert_eq!(
        tls.unwrap(),
        BoardStore::Redis {
            url: "rediss://db.example".to_owned(),
            timeout: Duration::from_millis(500),
        }
    );
    assert_eq!(config(&["--store", "files"]).unwrap(), BoardStore::Files);
    for bad in ["redis", "postgres://db/1", "redis://", "./data"] {
        let error = config(&["--store", bad]).unwrap_err();
        assert_eq!(error.exit_code(), 2, "{bad}");
    }
    let location = store_location("redis://:hunter2@db:1/0").unwrap();
    assert!(!format!("{location:?}").contains("hunter2"));
}

#[test]
fn flags() {
    let args = Args::try_parse_from([
        "sitebox",
        "--addr",
        "::1",
        "--port",
        "0",
        "--static",
        "site",
        "--data",
        "d",
        "--component",
        "x.wasm",
        "--max-memory",
        "16",
        "--max-age",
        "60",
        "--listing",
        "--dotfiles",
        "--clean-urls",
        "--bucket",
        "blog",
        "--admin-password-hash",
        "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g",
    ])
    .unwrap();
    let config = args.config().unwrap();
    assert_eq!(args.addr.to_string(), "::1");
    assert_eq!(config.component, ComponentSource::File("x.wasm".into()));
    assert_eq!(config.max_instance_memory, 16 << 20);
    let site = SiteSettings {
        max_age: 60,
        listing: true,
        dotfiles: true,
        clean_urls: true,
        bucket: "blog".to_owned(),
        admin_password_hash: Some("$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g".to_owned()),
        host_compression: None,
    };
    assert_eq!(config.site, site);
}

#[test]
fn hash_password_is_a_subcommand_that_takes_no_server_flags() {
    let args = Args::try_parse_from(["sitebox", "hash-password"]).unwrap();
    assert_eq!(args.command, Some(Command::HashPassword));
    let mixed = Args::try_parse_from(["sitebox", "--port", "1", "hash-password"]);
    assert_eq!(mixed.unwrap_err().exit_code(), 2);
}

#[test]
fn check_rules_takes_a_site_directory() {
    let args = Args::try_parse_from(["sitebox", "check-rules", "site"]).unwrap();
    let dir = PathBuf::from("site");
    assert_eq!(args.command, Some(Command::CheckRules { dir }));
    let default = Args::try_parse_from(["sitebox", "check-rules"]).unwrap();
    let dir = PathBuf::from("./static");
    assert_eq!(default.command, Some(Command::CheckRules { dir }));
}

#[test]
fn bad_values_are_usage_errors() {
    for bad in [
        &["sitebox", "--port", "70000"][..],
        &["sitebox", "--port", "http"],
        &["sitebox", "--addr", "localhost:1"],
        &["sitebox", "--max-memory", "0"],
        &["sitebox", "--frobnicate"],
    ] {
        let error = Args::try_parse_from(bad).unwrap_err();
        assert_eq!(error.exit_code(), 2, "{bad:?}");
    }
}
