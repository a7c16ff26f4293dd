//! Flags to `Config`: defaults, values, stores, usage errors.

use super::*;

#[test]
fn defaults() {
    let args = Args::try_parse_from(["sitebox"]).unwrap();
    assert_eq!(
        SocketAddr::new(args.addr, args.port).to_string(),
        "127.0.0.1:8080"
    );
    let config = args.config();
    assert_eq!(config.static_dir, PathBuf::from("./static"));
    assert_eq!(config.data_dir, PathBuf::from("./data"));
    assert_eq!(config.component, ComponentSource::Embedded);
    assert_eq!(config.max_instance_memory, 64 << 20);
    assert_eq!(config.store, BoardStore::Files);
}

#[test]
fn stores() {
    let config = |flags: &[&str]| {
        let args = [&["sitebox"][..], flags].concat();
        Args::try_parse_from(args).map(|args| args.config().store)
    };
    assert_eq!(
        config(&["--store", "redis://:pw@10.0.0.5:6380/2"]).unwrap(),
        BoardStore::Redis {
            url: "redis://:pw@10.0.0.5:6380/2".to_owned(),
            bucket: "sitebox".to_owned(),
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
            bucket: "blog".to_owned(),
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
    ])
    .unwrap();
    let config = args.config();
    assert_eq!(args.addr.to_string(), "::1");
    assert_eq!(config.component, ComponentSource::File("x.wasm".into()));
    assert_eq!(config.max_instance_memory, 16 << 20);
    let site = SiteOptions {
        max_age: 60,
        listing: true,
        dotfiles: true,
    };
    assert_eq!(config.site, site);
    let environment = site.environment();
    assert!(environment.contains(&("SITEBOX_MAX_AGE".to_owned(), "60".to_owned())));
    assert!(environment.contains(&("SITEBOX_LISTING".to_owned(), "1".to_owned())));
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
