use super::*;

/// What a request for `/a` is handed.
fn texts(files: &RulesFiles) -> (String, String) {
    let [(redirects_var, redirects), (headers_var, headers)] = files.environment("/a");
    assert_eq!((redirects_var, headers_var), (REDIRECTS_VAR, HEADERS_VAR));
    (redirects.to_string(), headers.to_string())
}

#[test]
fn the_files_are_handed_in_as_the_component_would_prepare_them() {
    let site = tempfile::tempdir().unwrap();
    let files = RulesFiles::open(site.path()).unwrap();
    assert_eq!(
        texts(&files),
        (String::new(), String::new()),
        "missing: none"
    );

    std::fs::write(site.path().join(REDIRECTS_FILE), "/a /b 302\n").unwrap();
    std::fs::write(site.path().join(HEADERS_FILE), "/*\n  X-A: 1\n").unwrap();
    assert_eq!(
        texts(&files),
        ("1 302 /a /b\n".to_owned(), "/*\nx-a:1\n".to_owned())
    );

    // Rewritten at once with the same size: a stamp this fresh is not
    // trusted, so the new contents are read.
    std::fs::write(site.path().join(REDIRECTS_FILE), "/a /d 302\n").unwrap();
    assert_eq!(texts(&files).0, "1 302 /a /d\n");

    std::fs::write(site.path().join(REDIRECTS_FILE), [0xff, 0xfe]).unwrap();
    let large = vec![b'#'; MAX_FILE_BYTES as usize + 1];
    std::fs::write(site.path().join(HEADERS_FILE), large).unwrap();
    assert_eq!(
        texts(&files),
        (String::new(), String::new()),
        "unusable: none"
    );

    std::fs::remove_file(site.path().join(REDIRECTS_FILE)).unwrap();
    std::fs::create_dir(site.path().join(REDIRECTS_FILE)).unwrap();
    assert_eq!(texts(&files).0, "", "a directory is no rules file");
}

#[test]
fn each_request_is_handed_the_rules_of_its_scope_prepared_once() {
    let site = tempfile::tempdir().unwrap();
    let redirects = "/a/* /x 302\n/b /y\n/* /index.html 200\n";
    std::fs::write(site.path().join(REDIRECTS_FILE), redirects).unwrap();
    let headers = "/a/*\n  X-A: 1\n/*\n  X-All: 1\n";
    std::fs::write(site.path().join(HEADERS_FILE), headers).unwrap();
    let files = RulesFiles::open(site.path()).unwrap();
    let handed = |path| files.environment(path).map(|(_, text)| text.to_string());
    assert_eq!(
        handed("/a/1"),
        [
            "1 302 /a/* /x\n3 200 /* /index.html\n",
            "/a/*\nx-a:1\n/*\nx-all:1\n"
        ]
    );
    let elsewhere = ["3 200 /* /index.html\n", "/*\nx-all:1\n"];
    assert_eq!(handed("/c"), elsewhere);
    assert_eq!(handed("/d/e"), elsewhere);
    assert_eq!(handed("/a%2Fb"), ["", ""], "a path the component refuses");
    let cached = files.files[0].lock().unwrap();
    let scopes: HashSet<&Scope> = cached.prepared.keys().collect();
    assert_eq!(
        scopes,
        [&Scope::Segment("a".into()), &Scope::Other].into(),
        "the scopes no rule names share one preparation"
    );
}

#[test]
fn a_symlink_out_of_the_site_is_refused() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("rules"), "/* /b 302\n").unwrap();
    let site = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(
        outside.path().join("rules"),
        site.path().join(REDIRECTS_FILE),
    )
    .unwrap();
    std::fs::write(site.path().join("inside"), "/*\n  X-A: 1\n").unwrap();
    std::os::unix::fs::symlink("inside", site.path().join(HEADERS_FILE)).unwrap();
    let files = RulesFiles::open(site.path()).unwrap();
    assert_eq!(
        texts(&files),
        (String::new(), "/*\nx-a:1\n".to_owned()),
        "a symlink within the site is followed"
    );
}

#[test]
fn only_a_settled_stamp_is_trusted() {
    let stamp = Stamp {
        dev: 1,
        ino: 2,
        len: 3,
        modified: (100, 0),
        changed: (100, 0),
    };
    let settled = Seen::Stamp {
        stamp,
        settled: true,
    };
    let fresh = Seen::Stamp {
        stamp,
        settled: false,
    };
    assert!(settled.still(&fresh), "the same file, looked at again");
    assert!(
        !fresh.still(&settled),
        "changed too shortly before it was read"
    );
    let other = Seen::Stamp {
        stamp: Stamp { len: 4, ..stamp },
        settled: true,
    };
    assert!(!settled.still(&other));
    let missing = Seen::Error(io::ErrorKind::NotFound);
    assert!(missing.still(&Seen::Error(io::ErrorKind::NotFound)));
    assert!(!missing.still(&settled) && !settled.still(&missing));
}
