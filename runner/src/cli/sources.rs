//! Where each flag's value comes from, highest first: the command line, its
//! `SITEBOX_*` environment variable, the `--config` file, the default.
//!
//! One naming rule for all three: the flag `--max-age` is the variable
//! `SITEBOX_MAX_AGE` and the key `max-age`. The component reads its settings
//! by the same variable names (`sitebox::settings`), so one environment
//! configures the runner and `wasmtime serve` alike.

use super::Args;
use clap::builder::BoolishValueParser;
use clap::error::ErrorKind;
use clap::parser::ValueSource;
use clap::{ArgAction, ArgMatches, CommandFactory, FromArgMatches};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use toml::de::{DeTable, DeValue};

/// The flag that names the config file; it has no key in the file.
const CONFIG: &str = "config";
/// Flags that are requests, not settings: no variable, no key.
const NOT_SETTINGS: &[&str] = &["print_config"];
/// Flags whose values `--print-config` never shows. (A password in a URL,
/// e.g. `--store`'s, is always masked.)
const SECRETS: &[&str] = &["admin_password_hash"];

/// The values a config file gives: each flag's id with its values.
type FileValues = Vec<(String, Vec<String>)>;
/// Where a config file is wrong (a byte offset) and what is wrong.
type FileProblem = (usize, String);

/// The parsed command line with the sources it was read from.
pub struct Loaded {
    pub args: Args,
    matches: ArgMatches,
    command: clap::Command,
    /// The ids of the flags the config file set.
    from_file: Vec<String>,
}

/// The environment variable of the flag `--long`.
pub fn variable(long: &str) -> String {
    format!("SITEBOX_{}", long.to_uppercase().replace('-', "_"))
}

/// `sitebox`'s flags, each also read from its variable; on/off flags take
/// the words the component takes (1/0, true/false, yes/no, on/off).
/// `--help` names the variables but never shows their values (a store URL
/// may hold a password).
pub fn command() -> clap::Command {
    Args::command().mut_args(|arg| {
        let id = arg.get_id().as_str();
        let Some(long) = arg.get_long().map(str::to_owned) else {
            return arg;
        };
        if NOT_SETTINGS.contains(&id) {
            return arg;
        }
        let arg = if matches!(arg.get_action(), ArgAction::SetTrue) {
            arg.value_parser(BoolishValueParser::new())
        } else {
            arg
        };
        arg.env(variable(&long)).hide_env_values(true)
    })
}

/// Parses `argv` with the environment and, when one is named, the config
/// file. A usage error (bad flag, bad key, bad value) is a clap error: it
/// prints as one and exits 2.
pub fn load(argv: Vec<OsString>) -> Result<Loaded, clap::Error> {
    let mut command = command();
    let mut matches = command.clone().try_get_matches_from(&argv)?;
    let mut from_file = Vec::new();
    if let Some(path) = matches.get_one::<PathBuf>(CONFIG).cloned() {
        let values = read_file(&mut command, &path)?;
        // One pass over all flags keeps their order (for `--print-config`).
        command = command.mut_args(
            |arg| match values.iter().find(|(id, _)| arg.get_id() == id) {
                Some((_, value)) => arg.default_values(value),
                None => arg,
            },
        );
        from_file = values.into_iter().map(|(id, _)| id).collect();
        matches = command.clone().try_get_matches_from(&argv)?;
    }
    let args = Args::from_arg_matches(&matches).map_err(|error| error.format(&mut command))?;
    Ok(Loaded {
        args,
        matches,
        command,
        from_file,
    })
}

/// The file's values, to become the flags' defaults: below the command line
/// and the environment, above the built-in defaults.
fn read_file(command: &mut clap::Command, path: &Path) -> Result<FileValues, clap::Error> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) => {
            let message = format!("cannot read the config file {}: {error}", path.display());
            return Err(command.error(ErrorKind::Io, message));
        }
    };
    file_values(command, &text).map_err(|(offset, message)| {
        let line = text[..offset.min(text.len())].matches('\n').count() + 1;
        command.error(
            ErrorKind::InvalidValue,
            format!("{}:{line}: {message}", path.display()),
        )
    })
}

/// Each key of the file as the id of its flag and the values it stands for.
fn file_values(command: &clap::Command, text: &str) -> Result<FileValues, FileProblem> {
    let table = DeTable::parse(text).map_err(|error| {
        let offset = error.span().map_or(0, |span| span.start);
        (offset, error.message().to_owned())
    })?;
    let mut values = Vec::new();
    for (key, value) in table.get_ref() {
        let name = key.get_ref().as_ref();
        let Some(arg) = settable(command, name) else {
            let hint = match settable(command, &name.replace('_', "-")) {
                Some(arg) => format!(" (did you mean `{}`?)", arg.get_long().unwrap_or_default()),
                None => String::new(),
            };
            return Err((key.span().start, format!("unknown key `{name}`{hint}")));
        };
        let wrong = |what: &str| (value.span().start, format!("`{name}`: {what}"));
        let given = match value.get_ref() {
            DeValue::Boolean(on) if matches!(arg.get_action(), ArgAction::SetTrue) => {
                vec![on.to_string()]
            }
            _ if matches!(arg.get_action(), ArgAction::SetTrue) => {
                return Err(wrong("expected true or false"));
            }
            DeValue::String(text) => vec![text.to_string()],
            DeValue::Integer(number) => vec![number.as_str().replace('_', "")],
            DeValue::Float(number) => vec![number.to_string()],
            DeValue::Array(items) if matches!(arg.get_action(), ArgAction::Append) => {
                let mut given = Vec::new();
                for item in items {
                    match item.get_ref() {
                        DeValue::String(text) => given.push(text.to_string()),
                        _ => return Err(wrong("expected an array of strings")),
                    }
                }
                given
            }
            _ => return Err(wrong("expected a string or a number")),
        };
        for one in &given {
            check_value(arg, one).map_err(|problem| wrong(&problem))?;
        }
        values.push((arg.get_id().to_string(), given));
    }
    Ok(values)
}

/// The flag a file key sets: any with a long name, but `--config` itself
/// and the requests.
fn settable<'c>(command: &'c clap::Command, key: &str) -> Option<&'c clap::Arg> {
    command.get_arguments().find(|arg| {
        let id = arg.get_id().as_str();
        arg.get_long() == Some(key) && id != CONFIG && !NOT_SETTINGS.contains(&id)
    })
}

/// Whether `value` is one the flag takes, checked by the flag's own parser
/// alone (no variable, no other flags), so a bad value in the file is
/// reported at its line.
fn check_value(arg: &clap::Arg, value: &str) -> Result<(), String> {
    if matches!(arg.get_action(), ArgAction::SetTrue) {
        return Ok(());
    }
    let long = arg.get_long().expect("file keys are long flags");
    let alone = clap::Command::new("sitebox")
        .no_binary_name(true)
        .arg(arg.clone().env(None));
    match alone.try_get_matches_from([format!("--{long}={value}")]) {
        Ok(_) => Ok(()),
        Err(error) => Err(match std::error::Error::source(&error) {
            Some(cause) => format!("invalid value {value:?}: {cause}"),
            None => format!("invalid value {value:?}"),
        }),
    }
}

/// `--print-config`: the effective settings as a config file would hold
/// them, each with where it came from; secrets redacted.
pub fn print(loaded: &Loaded) -> String {
    let mut out = String::from(
        "# sitebox's effective settings. Each comes from, highest first: the command\n\
         # line, its SITEBOX_* variable, the --config file, the default.\n",
    );
    for arg in loaded.command.get_arguments() {
        let id = arg.get_id().as_str();
        let Some(long) = arg.get_long() else { continue };
        if id == CONFIG || NOT_SETTINGS.contains(&id) {
            continue;
        }
        let value = if matches!(arg.get_action(), ArgAction::SetTrue) {
            Some(loaded.matches.get_flag(id).to_string())
        } else {
            loaded.matches.get_raw(id).map(|raw| {
                let items: Vec<String> = raw
                    .map(|one| toml_value(arg, &one.to_string_lossy()))
                    .collect();
                match arg.get_action() {
                    ArgAction::Append => format!("[{}]", items.join(", ")),
                    _ => items.join(" "),
                }
            })
        };
        match value {
            Some(value) => {
                let source = source_of(loaded, arg);
                out.push_str(&format!("{long} = {value}  # {source}\n"));
            }
            None => out.push_str(&format!("# {long}: not set\n")),
        }
    }
    out
}

/// One value as TOML: numbers bare, the rest quoted; secrets redacted (a URL
/// keeps all but its password).
fn toml_value(arg: &clap::Arg, value: &str) -> String {
    let shown = if SECRETS.contains(&arg.get_id().as_str()) {
        "(redacted)".to_owned()
    } else if value.contains("://") {
        crate::redact_url(value)
    } else {
        value.to_owned()
    };
    if !shown.is_empty() && shown.bytes().all(|byte| byte.is_ascii_digit()) {
        shown
    } else {
        toml::Value::String(shown).to_string()
    }
}

/// Where the value of `arg` came from.
fn source_of(loaded: &Loaded, arg: &clap::Arg) -> String {
    let id = arg.get_id().as_str();
    match loaded.matches.value_source(id) {
        Some(ValueSource::CommandLine) => "command line".to_owned(),
        Some(ValueSource::EnvVariable) => arg
            .get_env()
            .map_or_else(String::new, |name| name.to_string_lossy().into_owned()),
        Some(ValueSource::DefaultValue) if loaded.from_file.iter().any(|f| f == id) => {
            "config file".to_owned()
        }
        _ => "default".to_owned(),
    }
}

#[cfg(test)]
mod tests;
