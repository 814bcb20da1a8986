//! `gatehouse config validate`: checks a configuration file and reports every error at once, one per line,
//! each naming its key. Exit 0 when valid, 64 otherwise.
use std::path::PathBuf;

use super::UsageError;
use crate::config::Config;

/// `config` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum ConfigCommand {
    /// Check a configuration file; print every problem with the key it concerns.
    Validate {
        /// The TOML file to check.
        #[arg(long, short = 'c')]
        config: PathBuf,
    },
}

/// Runs a `config` subcommand.
pub fn execute(cmd: ConfigCommand) -> anyhow::Result<()> {
    match cmd {
        ConfigCommand::Validate { config } => match Config::load(&config) {
            Ok(c) => {
                let names: Vec<&str> = c.runtimes.iter().map(|r| r.name.as_str()).collect();
                println!(
                    "{}: valid ({} runtime{}{})",
                    config.display(),
                    names.len(),
                    if names.len() == 1 { "" } else { "s" },
                    if names.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", names.join(", "))
                    }
                );
                Ok(())
            }
            Err(errors) => {
                for e in &errors.0 {
                    eprintln!("{}: {}: {}", config.display(), e.key, e.reason);
                }
                Err(UsageError(format!(
                    "{} error(s) in {}",
                    errors.0.len(),
                    config.display()
                ))
                .into())
            }
        },
    }
}
