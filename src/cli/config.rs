//! `--config accolade.toml`: every `serve` flag in a file, and `accolade config check`.
//!
//! The file is TOML; a key is a flag's long name, with `_` or `-` (`public_url` or
//! `public-url`); a list (`allow_http_did_web = ["a:1", "b:2"]`) stands for a
//! repeatable or comma-separated flag; `true` turns on a switch. What the file says
//! counts only where neither the command line nor the flag's `ACCOLADE_*` variable
//! says anything: flags win, then variables, then the file, then the defaults.
//!
//! The file is read before the command line is parsed: its settings become flags
//! inserted after the subcommand's name, for the keys the command line and the
//! environment leave open, and clap then checks everything in one pass, so a bad
//! value in the file gets the same message as on the command line.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use clap::{Args, CommandFactory as _, Subcommand};

/// The variable that names a config file when `--config` does not.
pub const CONFIG_ENV: &str = "ACCOLADE_CONFIG";

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Read the config file (--config or ACCOLADE_CONFIG) with the environment and
    /// flags as `serve` would, and print every setting with where it comes from;
    /// exit 1 on anything wrong.
    Check(CheckArgs),
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// `serve` flags to take into account, as they would be given
    /// (`-- --listen 0.0.0.0:8080`).
    #[arg(last = true)]
    pub serve_flags: Vec<String>,
}

/// The config file the arguments (or the environment) name.
fn named(args: &[OsString]) -> Option<PathBuf> {
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let s = a.to_string_lossy();
        if s == "--" {
            break;
        }
        if s == "--config" {
            return it.next().map(PathBuf::from);
        }
        if let Some(p) = s.strip_prefix("--config=") {
            return Some(PathBuf::from(p));
        }
    }
    std::env::var_os(CONFIG_ENV)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// A setting of the file, as flag text.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Setting {
    Value(String),
    Switch(bool),
}

/// Reads `path`: each key (as a flag's long name) with its value.
fn read(path: &Path) -> anyhow::Result<BTreeMap<String, Setting>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| anyhow::anyhow!("{}: {e}", path.display()))?;
    let mut out = BTreeMap::new();
    for (key, value) in table {
        let scalar = |v: &toml::Value| -> anyhow::Result<String> {
            Ok(match v {
                toml::Value::String(s) => s.clone(),
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Float(f) => f.to_string(),
                other => bail!(
                    "{}: {key} holds a {}, not a string, a number or a list of them",
                    path.display(),
                    other.type_str()
                ),
            })
        };
        let setting = match &value {
            toml::Value::Boolean(b) => Setting::Switch(*b),
            toml::Value::Array(items) => Setting::Value(
                items
                    .iter()
                    .map(scalar)
                    .collect::<anyhow::Result<Vec<_>>>()?
                    .join(","),
            ),
            v => Setting::Value(scalar(v)?),
        };
        out.insert(key.replace('_', "-"), setting);
    }
    Ok(out)
}

/// What the flags of one subcommand are: long name → (takes a value, its variable).
/// The program's own options (`--log-format`) count for every subcommand.
fn flags_of(sub: &str) -> BTreeMap<String, (bool, Option<String>)> {
    let cmd = super::Cli::command();
    let Some(sub) = cmd.get_subcommands().find(|c| c.get_name() == sub) else {
        return BTreeMap::new();
    };
    sub.get_arguments()
        .chain(
            cmd.get_arguments()
                .filter(|a| a.get_long() != Some("config")),
        )
        .filter(|a| !matches!(a.get_long(), Some("help" | "version")))
        .filter_map(|a| {
            let long = a.get_long()?.to_owned();
            let takes = a.get_action().takes_values();
            let env = a.get_env().map(|e| e.to_string_lossy().into_owned());
            Some((long, (takes, env)))
        })
        .collect()
}

static FROM_FILE: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();

/// The keys [`with_file`] took from the config file (for `config check`).
pub fn from_file() -> &'static [String] {
    FROM_FILE.get().map_or(&[], Vec::as_slice)
}

/// [`with_file`], remembering which keys came from the file.
pub fn apply(args: Vec<OsString>) -> anyhow::Result<Vec<OsString>> {
    let (args, added) = with_file(args)?;
    let _ = FROM_FILE.set(added);
    Ok(args)
}

/// The arguments with the file's settings added (after the subcommand) where the
/// command line and the environment leave them open, and the keys that were added.
pub fn with_file(args: Vec<OsString>) -> anyhow::Result<(Vec<OsString>, Vec<String>)> {
    let Some(path) = named(&args) else {
        return Ok((args, Vec::new()));
    };
    // The subcommand: the first argument that is not an option or its value.
    let Some(at) = args.iter().skip(1).position(|a| {
        super::Cli::command()
            .get_subcommands()
            .any(|c| a.to_str() == Some(c.get_name()))
    }) else {
        return Ok((args, Vec::new()));
    };
    let at = at + 1;
    let mut sub = args[at].to_string_lossy().into_owned();
    let mut insert_at = at + 1;
    // `config check -- flags...` checks `serve`'s settings.
    if sub == "config" {
        sub = "serve".into();
        insert_at = args.len();
    }
    let settings = read(&path)?;
    let serve = flags_of("serve");
    let flags = flags_of(&sub);
    let mut unknown = Vec::new();
    for key in settings.keys() {
        if key == "config" || !(serve.contains_key(key) || flags.contains_key(key)) {
            let hint = crate::model::schema::closest(key, serve.keys())
                .map(|k| format!(" (did you mean {k}?)"))
                .unwrap_or_default();
            unknown.push(format!("{key}{hint}"));
        }
    }
    if !unknown.is_empty() {
        bail!(
            "{}: not a setting of accolade serve: {}",
            path.display(),
            unknown.join(", ")
        );
    }
    let given = |long: &str| {
        args.iter().any(|a| {
            let a = a.to_string_lossy();
            a == format!("--{long}") || a.starts_with(&format!("--{long}="))
        })
    };
    let mut added = Vec::new();
    let mut extra: Vec<OsString> = Vec::new();
    for (key, setting) in &settings {
        let Some((takes, env)) = flags.get(key) else {
            continue; // a `serve` setting this command does not take
        };
        if given(key)
            || env
                .as_deref()
                .is_some_and(|e| std::env::var_os(e).is_some())
        {
            continue;
        }
        match (setting, takes) {
            (Setting::Value(v), true) => {
                extra.push(format!("--{key}").into());
                extra.push(v.into());
            }
            (Setting::Switch(true), false) => extra.push(format!("--{key}").into()),
            (Setting::Switch(false), false) => continue,
            (Setting::Switch(b), true) => {
                extra.push(format!("--{key}").into());
                extra.push(b.to_string().into());
            }
            (Setting::Value(v), false) => bail!(
                "{}: {key} is a switch: write {key} = true (not {v:?})",
                path.display()
            ),
        }
        added.push(key.clone());
    }
    let config_check = insert_at == args.len() && sub == "serve" && args[at] == "config";
    if config_check && !extra.is_empty() && !args.iter().any(|a| a == "--") {
        extra.insert(0, "--".into());
    }
    let mut out = args;
    out.splice(insert_at..insert_at, extra);
    Ok((out, added))
}

/// `accolade config check`: every `serve` setting and where it comes from.
pub fn check(a: &CheckArgs, from_file: &[String]) -> anyhow::Result<i32> {
    let mut argv: Vec<String> = vec!["accolade".into(), "serve".into()];
    argv.extend(a.serve_flags.iter().cloned());
    let cmd = super::Cli::command();
    let matches = match cmd.try_get_matches_from(&argv) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("{e}");
            return Ok(1);
        }
    };
    let Some(("serve", m)) = matches.subcommand() else {
        bail!("no serve settings");
    };
    let serve = super::Cli::command();
    let Some(sub) = serve.get_subcommands().find(|c| c.get_name() == "serve") else {
        bail!("no serve command");
    };
    println!("accolade serve would start with:");
    for arg in sub.get_arguments() {
        let Some(long) = arg.get_long() else { continue };
        let id = arg.get_id().as_str();
        let source = match m.value_source(id) {
            Some(clap::parser::ValueSource::CommandLine) if from_file.iter().any(|k| k == long) => {
                "config file"
            }
            Some(clap::parser::ValueSource::CommandLine) => "command line",
            Some(clap::parser::ValueSource::EnvVariable) => "environment",
            Some(clap::parser::ValueSource::DefaultValue) => "default",
            _ => continue,
        };
        let secret = arg.is_hide_env_values_set();
        let value = m
            .get_raw(id)
            .map(|vs| {
                vs.map(|v| v.to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .unwrap_or_default();
        let shown = if secret && !value.is_empty() {
            "(set; not shown)".to_owned()
        } else if value.is_empty() {
            "on".to_owned()
        } else {
            value
        };
        println!("  {long:<34} {shown:<40} {source}");
    }
    println!("the settings are valid");
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn file_settings_fill_what_flags_leave_open_and_unknown_keys_are_named() {
        let dir = tempfile::tempdir().expect("tmp");
        let file = dir.path().join("accolade.toml");
        std::fs::write(
            &file,
            "listen = \"0.0.0.0:9090\"\npublic_url = \"https://badges.example.edu\"\nallow_http_did_web = [\"a.test:1\", \"b.test:2\"]\nmove_identity = true\nrate-limit = 50\n",
        )
        .expect("write");
        let f = file.to_string_lossy().into_owned();
        let (out, added) = with_file(args(&[
            "accolade",
            "--config",
            &f,
            "serve",
            "--listen",
            "127.0.0.1:1",
        ]))
        .expect("read");
        let out: Vec<String> = out
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        // The command line's --listen stands; the rest comes from the file.
        assert_eq!(
            out.iter().filter(|a| *a == "--listen").count(),
            1,
            "{out:?}"
        );
        assert!(
            out.windows(2)
                .any(|w| w[0] == "--public-url" && w[1] == "https://badges.example.edu")
        );
        assert!(
            out.windows(2)
                .any(|w| w[0] == "--allow-http-did-web" && w[1] == "a.test:1,b.test:2")
        );
        assert!(out.iter().any(|a| a == "--move-identity"));
        assert!(added.contains(&"rate-limit".to_owned()) && !added.contains(&"listen".to_owned()));
        // The whole line parses as clap would.
        let cli = <super::super::Cli as clap::Parser>::try_parse_from(&out).expect("parses");
        let super::super::Command::Serve(s) = cli.command else {
            panic!("not serve")
        };
        assert_eq!(s.listen.port(), 1);
        assert!(s.move_identity);

        std::fs::write(&file, "listn = \"0.0.0.0:1\"\ncolour = \"red\"\n").expect("write");
        let e = with_file(args(&["accolade", "--config", &f, "serve"])).expect_err("unknown");
        let e = e.to_string();
        assert!(
            e.contains("listn (did you mean listen?)") && e.contains("colour"),
            "{e}"
        );

        std::fs::write(&file, "listen = [1, {a = 1}]\n").expect("write");
        assert!(with_file(args(&["accolade", "--config", &f, "serve"])).is_err());
    }
}
