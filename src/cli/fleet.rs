//! `accolade migrate` and `accolade admin-token`: the commands that act on a fleet's
//! PostgreSQL database without serving.

use anyhow::Context as _;
use clap::Args;

#[derive(Debug, Args)]
pub struct DatabaseArgs {
    /// The fleet's database: postgres://USER:PASS@HOST:PORT/DB (sslmode=disable|prefer|require).
    #[arg(
        long,
        env = "ACCOLADE_DATABASE_URL",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub database_url: String,
}

pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")
}

/// Applies the migrations the database lacks (under the advisory lock every node
/// takes), and says which.
pub fn migrate(args: &DatabaseArgs) -> anyhow::Result<()> {
    let done = runtime()?
        .block_on(crate::store::postgres::migrate_only(&args.database_url))
        .context("migrating the database")?;
    if done.applied.is_empty() {
        println!(
            "the database is up to date (schema version {})",
            done.version
        );
    } else {
        let list: Vec<String> = done.applied.iter().map(|v| format!("{v:04}")).collect();
        println!(
            "applied {} migration(s): {}; schema version {}",
            list.len(),
            list.join(", "),
            done.version
        );
    }
    Ok(())
}

/// Prints the admin token the fleet shares (made now when it has none yet).
pub fn admin_token(args: &DatabaseArgs) -> anyhow::Result<()> {
    let token = runtime()?.block_on(async {
        let store = crate::store::Store::connect(&args.database_url)
            .await
            .context("connecting to the PostgreSQL database")?;
        let token = store
            .fleet
            .shared_value(crate::app::ADMIN_TOKEN_NAME, &crate::app::new_admin_token())
            .await?;
        anyhow::Ok(token)
    })?;
    println!("{token}");
    Ok(())
}
