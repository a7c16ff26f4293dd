//! The settings' sources on the binary: flag over `SITEBOX_*` variable over
//! `--config` file over default, `--print-config`, and a server configured
//! by its file alone.

mod common;

use common::{Running, exchange, sitebox};

#[test]
fn flags_win_over_variables_and_variables_over_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sitebox.toml");
    std::fs::write(
        &file,
        "port = 1\nmax-age = 600\nlisting = true\nbucket = \"from-file\"\nmax-queue = 7\n",
    )
    .unwrap();
    let output = sitebox()
        .args(["--config", file.to_str().unwrap(), "--print-config"])
        .args(["--bucket", "from-flag"])
        .env("SITEBOX_MAX_AGE", "60")
        .env("SITEBOX_LISTING", "0")
        .env("SITEBOX_BUCKET", "from-env")
        .env("SITEBOX_MAX_QUEUE", "9")
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let printed = String::from_utf8(output.stdout).unwrap();
    for line in [
        "port = 1  # config file",
        "max-age = 60  # SITEBOX_MAX_AGE",
        "listing = false  # SITEBOX_LISTING",
        "bucket = \"from-flag\"  # command line",
        "max-queue = 9  # SITEBOX_MAX_QUEUE",
        "max-concurrent = 256  # default",
    ] {
        assert!(printed.lines().any(|l| l == line), "{line:?} in\n{printed}");
    }
}

#[test]
fn a_bad_variable_or_key_is_a_usage_error_naming_it() {
    let bad_variable = sitebox()
        .arg("--print-config")
        .env("SITEBOX_PORT", "http")
        .output()
        .unwrap();
    assert_eq!(bad_variable.status.code(), Some(2));
    let message = String::from_utf8_lossy(&bad_variable.stderr);
    assert!(
        message.contains("'http'") && message.contains("--port"),
        "{message}"
    );

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sitebox.toml");
    std::fs::write(&file, "port = 0\nmax-concurent = 3\n").unwrap();
    let bad_key = sitebox()
        .args(["--config", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(bad_key.status.code(), Some(2));
    let message = String::from_utf8_lossy(&bad_key.stderr);
    assert!(
        message.starts_with(&format!(
            "error: {}:2: unknown key `max-concurent`",
            file.display()
        )),
        "{message}"
    );
}

/// `SITEBOX_CONFIG` names the file, and the file alone sets the server up:
/// its site, port, listing and quiet access log.
#[test]
fn a_server_set_up_by_its_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let site = dir.path().join("site");
    std::fs::create_dir_all(site.join("docs")).unwrap();
    std::fs::write(site.join("docs/a.txt"), "a").unwrap();
    let file = dir.path().join("sitebox.toml");
    let settings = format!(
        "static = {:?}\ndata = {:?}\nport = 0\nlisting = true\nquiet = true\n",
        site.display().to_string(),
        dir.path().join("data").display().to_string(),
    );
    std::fs::write(&file, settings).unwrap();
    let mut command = sitebox();
    command.env("SITEBOX_CONFIG", &file).current_dir(dir.path());
    let server = Running::start(command);
    let (status, body) = exchange(&server.addr, "GET", "/docs/", "").unwrap();
    assert_eq!(status, 200);
    assert!(body.contains("a.txt"), "a listing: {body}");
    assert!(dir.path().join("data").is_dir());
}
