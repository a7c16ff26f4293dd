//! The config file's keys and values, the variables' names, the order of
//! the sources, and `--print-config`. (The environment is the process's, so
//! its place in the order is tested on the binary: runner/tests/cli.rs.)

use super::*;
use crate::cli::Args;
use sitebox::settings;

fn values(text: &str) -> Result<FileValues, FileProblem> {
    file_values(&command(), text)
}

/// The line of a file error, as `read_file` reports it.
fn problem(text: &str) -> (usize, String) {
    let (offset, message) = values(text).unwrap_err();
    (text[..offset].matches('\n').count() + 1, message)
}

fn load_with(file: &str, flags: &[&str]) -> (Loaded, tempfile::NamedTempFile) {
    let config = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(config.path(), file).unwrap();
    let mut argv = vec!["sitebox".into(), "--config".into(), config.path().into()];
    argv.extend(flags.iter().map(OsString::from));
    (load(argv).unwrap(), config)
}

#[test]
fn every_flag_has_a_variable_named_as_the_component_reads_it() {
    let command = command();
    for arg in command.get_arguments() {
        let (Some(long), id) = (arg.get_long(), arg.get_id().as_str()) else {
            continue;
        };
        let expected = (!NOT_SETTINGS.contains(&id)).then(|| variable(long));
        let env = arg.get_env().map(|name| name.to_str().unwrap().to_owned());
        assert_eq!(env, expected, "--{long}");
    }
    for (long, component) in [
        ("max-age", settings::MAX_AGE_VAR),
        ("listing", settings::LISTING_VAR),
        ("dotfiles", settings::DOTFILES_VAR),
        ("clean-urls", settings::CLEAN_URLS_VAR),
        ("bucket", settings::BUCKET_VAR),
        ("admin-password-hash", settings::ADMIN_PASSWORD_HASH_VAR),
    ] {
        assert_eq!(variable(long), component);
    }
}

#[test]
fn file_keys_are_the_flags_names_with_typed_values() {
    let read = values(
        "# a comment\n\
         port = 8081\n\
         listing = true\n\
         max-body = 1_000\n\
         store = \"redis://db:6379/0\"\n\
         request-timeout = \"2s\"\n",
    )
    .unwrap();
    let as_strs: Vec<(&str, Vec<&str>)> = read
        .iter()
        .map(|(id, given)| (id.as_str(), given.iter().map(String::as_str).collect()))
        .collect();
    for expected in [
        ("port", vec!["8081"]),
        ("listing", vec!["true"]),
        ("max_body", vec!["1000"]),
        ("store", vec!["redis://db:6379/0"]),
        ("request_timeout", vec!["2s"]),
    ] {
        assert!(as_strs.contains(&expected), "{expected:?} in {as_strs:?}");
    }
    assert_eq!(values("").unwrap(), vec![]);
}

#[test]
fn a_wrong_file_names_the_line_and_the_key() {
    assert_eq!(
        problem("port = 1\n\nmax_age = 3\n"),
        (
            3,
            "unknown key `max_age` (did you mean `max-age`?)".to_owned()
        )
    );
    assert_eq!(problem("frobnicate = 1").1, "unknown key `frobnicate`");
    // --config and the requests are no keys.
    assert_eq!(problem("config = \"a.toml\"").1, "unknown key `config`");
    assert_eq!(
        problem("print-config = true").1,
        "unknown key `print-config`"
    );
    let (line, message) = problem("listing = true\nport = \"http\"\n");
    assert_eq!(line, 2);
    assert!(
        message.starts_with("`port`: invalid value \"http\""),
        "{message}"
    );
    assert_eq!(
        problem("port = 70000").1,
        "`port`: invalid value \"70000\": 70000 is not in 0..=65535"
    );
    assert_eq!(
        problem("listing = \"yes\"").1,
        "`listing`: expected true or false"
    );
    assert_eq!(
        problem("addr = true").1,
        "`addr`: expected a string or a number"
    );
    assert_eq!(
        problem("static = [\"a\", \"b\"]").1,
        "`static`: expected a string or a number"
    );
    assert_eq!(problem("[site]\nlisting = true").1, "unknown key `site`");
    assert!(
        problem("log-format = \"xml\"")
            .1
            .starts_with("`log-format`: invalid value \"xml\"")
    );
    // Not TOML at all: the parser's message, at its line.
    assert_eq!(problem("port = 1\nlisting =\n").0, 2);
}

#[test]
fn flags_win_over_the_file_and_the_file_over_the_defaults() {
    let (loaded, _file) = load_with(
        "port = 9000\nmax-age = 600\nlisting = true\ncomponent = \"x.wasm\"\n",
        &["--port", "9001", "--watch"],
    );
    let config = loaded.args.config().unwrap();
    assert_eq!(loaded.args.port, 9001);
    assert_eq!(config.site.max_age, 600);
    assert!(config.site.listing);
    // --watch needs a component: the file's counts.
    assert!(config.watch);
    assert_eq!(loaded.args.max_concurrent, 256);
}

#[test]
fn contradictions_are_usage_errors_whatever_their_sources() {
    let (loaded, _file) = load_with("no-cache = true\n", &["--cache-dir", "c"]);
    assert_eq!(loaded.args.config().unwrap_err().exit_code(), 2);
    let (loaded, _file) = load_with("tls-cert = \"c.pem\"\n", &[]);
    assert_eq!(loaded.args.config().unwrap_err().exit_code(), 2);
    let (loaded, _file) = load_with("watch = true\n", &[]);
    let error = loaded.args.config().unwrap_err();
    assert!(
        error.to_string().contains("--watch needs --component"),
        "{error}"
    );
}

#[test]
fn a_missing_or_unparsable_file_is_a_usage_error() {
    let argv = ["sitebox", "--config", "/no/such/sitebox.toml"].map(OsString::from);
    let error = load(argv.to_vec()).err().unwrap();
    assert_eq!(error.exit_code(), 2);
    assert!(
        error.to_string().contains("/no/such/sitebox.toml"),
        "{error}"
    );
}

#[test]
fn printed_settings_say_their_sources_and_hide_secrets() {
    let (loaded, _file) = load_with(
        "max-age = 1_200\nadmin-password-hash = \"$argon2id$v=19$secret\"\n\
         store = \"redis://:hunter2@db:6379/1\"\n",
        &["-p", "1", "--listing"],
    );
    let printed = print(&loaded);
    for line in [
        "port = 1  # command line",
        "listing = true  # command line",
        "max-age = 1200  # config file",
        "addr = \"127.0.0.1\"  # default",
        "admin-password-hash = \"(redacted)\"  # config file",
        "store = \"redis://:***@db:6379/1\"  # config file",
        "# component: not set",
    ] {
        assert!(printed.lines().any(|l| l == line), "{line:?} in\n{printed}");
    }
    assert!(!printed.contains("hunter2") && !printed.contains("secret"));
}

#[test]
fn printed_settings_read_back_as_a_config_file_give_the_same_config() {
    let (loaded, _file) = load_with(
        "max-age = 60\nclean-urls = true\nstatic = \"site dir\"\n",
        &[
            "--port",
            "0",
            "--log-format",
            "json",
            "--request-timeout",
            "1m 5s",
        ],
    );
    let (again, _again_file) = load_with(&print(&loaded), &[]);
    let config = |args: &Args| format!("{:?}", args.config().unwrap());
    assert_eq!(config(&again.args), config(&loaded.args));
    // The same values, each now from the file.
    let values = |printed: String| -> Vec<String> {
        let lines = printed.lines().filter(|line| !line.starts_with('#'));
        lines
            .map(|line| line.split("  # ").next().unwrap().to_owned())
            .collect()
    };
    assert_eq!(values(print(&again)), values(print(&loaded)));
    assert!(print(&again).contains("max-concurrent = 256  # config file"));
}
