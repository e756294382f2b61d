//! `parley-cli`: Parley's agent without a window (docs/headless.md), and the demo contact
//! center.

use clap::{Parser, Subcommand};
use parley_runtime::config::{Config, TeamsSettings};
use parley_runtime::demo::{self, DemoConfig};
use parley_runtime::secrets::{self, Secret};
use parley_runtime::{engine, headless};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "parley-cli",
    version,
    about = "Parley's contact-center agent, headless"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the agent: JSON commands on stdin, JSON events on stdout, logs on stderr.
    Agent {
        #[arg(long)]
        config: PathBuf,
    },
    /// Check a configuration file and exit.
    CheckConfig {
        #[arg(long)]
        config: PathBuf,
    },
    /// Store the account's SIP password (read from stdin) in the OS keychain.
    StorePassword {
        #[arg(long)]
        config: PathBuf,
    },
    /// Sign in to Microsoft Teams for presence sync ([teams] of the configuration) and keep
    /// the refresh token where `teams.refresh_token` says (the OS keychain by default).
    TeamsSignIn {
        #[arg(long)]
        config: PathBuf,
        /// Sign in on another device with a code, instead of this machine's browser.
        #[arg(long)]
        device_code: bool,
    },
    /// Forget the Teams sign-in: removes the stored refresh token (and its keychain
    /// chunks). A running agent is told with the `teams_sign_out` command instead.
    TeamsSignOut {
        #[arg(long)]
        config: PathBuf,
    },
    /// Run the demo contact center on loopback.
    DemoPeer {
        #[arg(long, default_value = "127.0.0.1:5070")]
        listen: std::net::SocketAddr,
        /// Seconds between offered calls while the agent is idle (0: only on command).
        #[arg(long, default_value_t = 15)]
        interval: u64,
        /// Seconds a connected demo caller stays before hanging up.
        #[arg(long, default_value_t = 120)]
        talk_time: u64,
        /// Seconds the agent's own calls ring before the demo answers.
        #[arg(long, default_value_t = 2)]
        answer_delay: u64,
        #[arg(long)]
        assets: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(parley_runtime::trace::filter("info"))
        .init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(run(cli.command));
    // The stdin reader sits in a blocking read that never ends on its own; do not wait
    // for it (dropping the runtime would).
    runtime.shutdown_timeout(Duration::from_millis(200));
    code
}

async fn run(command: Cmd) -> ExitCode {
    match command {
        Cmd::Agent { config } => agent(config).await,
        Cmd::CheckConfig { config } => match Config::load(&config) {
            Ok(_) => {
                println!("{}: ok", config.display());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e}");
                ExitCode::from(2)
            }
        },
        Cmd::StorePassword { config } => store_password(config),
        Cmd::TeamsSignIn {
            config,
            device_code,
        } => teams_sign_in(config, device_code).await,
        Cmd::TeamsSignOut { config } => teams_sign_out(config),
        Cmd::DemoPeer {
            listen,
            interval,
            talk_time,
            answer_delay,
            assets,
        } => {
            let config = DemoConfig {
                listen,
                offer_interval: Duration::from_secs(interval),
                talk_time: Duration::from_secs(talk_time),
                answer_delay: Duration::from_secs(answer_delay),
                assets: assets.unwrap_or_else(demo::find_assets),
                rtp_ports: 40000..=40999,
            };
            match demo::start(config).await {
                Ok(handle) => demo_lines(handle).await,
                Err(e) => {
                    eprintln!("demo: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

/// Serves the demo with JSON lines: commands on stdin, events on stdout. Without stdin
/// (started in the background) the demo goes on running on its timers.
async fn demo_lines(handle: demo::DemoHandle) -> ExitCode {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    let demo::DemoHandle {
        address,
        commands,
        mut events,
        ..
    } = handle;
    let mut stdout = tokio::io::stdout();
    let mut write = async |value: serde_json::Value| {
        let mut line = value.to_string().into_bytes();
        line.push(b'\n');
        stdout.write_all(&line).await.and(stdout.flush().await)
    };
    let listening = serde_json::json!({"event": "listening", "address": address.to_string()});
    if write(listening).await.is_err() {
        return ExitCode::FAILURE;
    }
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    let mut stdin_open = true;
    loop {
        tokio::select! {
            line = lines.next_line(), if stdin_open => match line {
                Ok(Some(line)) if line.trim().is_empty() => {}
                Ok(Some(line)) => match serde_json::from_str::<demo::DemoCommand>(&line) {
                    Ok(command) => {
                        let _ = commands.send(command);
                    }
                    Err(e) => {
                        let error = serde_json::json!({"event": "error", "message": format!("{line}: {e}")});
                        if write(error).await.is_err() {
                            return ExitCode::FAILURE;
                        }
                    }
                },
                Ok(None) | Err(_) => stdin_open = false,
            },
            event = events.recv() => match event {
                Some(event) => {
                    let value = serde_json::to_value(&event).unwrap_or_default();
                    if write(value).await.is_err() {
                        return ExitCode::FAILURE;
                    }
                }
                None => return ExitCode::SUCCESS,
            },
        }
    }
}

async fn agent(path: PathBuf) -> ExitCode {
    let settings = match Config::load(&path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let (handle, events) = match engine::launch(settings).await {
        Ok(started) => started,
        Err(e @ engine::LaunchError::Password(_)) => {
            eprintln!("config error: {e}");
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let input = tokio::io::BufReader::new(tokio::io::stdin());
    match headless::serve(handle, events, input, tokio::io::stdout()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("stdout: {e}");
            ExitCode::FAILURE
        }
    }
}

/// How long the browser sign-in waits for the user.
const SIGN_IN_TIMEOUT: Duration = Duration::from_secs(300);

/// The settings of a file whose `[teams]` is enabled, or the exit code that says why not.
fn teams_settings(
    path: &std::path::Path,
) -> Result<(parley_runtime::config::Settings, TeamsSettings), ExitCode> {
    let settings = Config::load(path).map_err(|e| {
        eprintln!("{e}");
        ExitCode::from(2)
    })?;
    let Some(teams) = settings.teams.clone() else {
        eprintln!("{}: [teams] is not enabled", path.display());
        return Err(ExitCode::from(2));
    };
    Ok((settings, teams))
}

fn teams_sign_out(path: PathBuf) -> ExitCode {
    let teams = match teams_settings(&path) {
        Ok((_, teams)) => teams,
        Err(code) => return code,
    };
    match parley_runtime::teams::forget_sign_in(&teams, None) {
        Ok(true) => {
            println!("signed out of Microsoft Teams; the stored sign-in is removed");
            ExitCode::SUCCESS
        }
        Ok(false) => {
            eprintln!("teams.refresh_token names an environment variable: unset it yourself");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

async fn teams_sign_in(path: PathBuf, device_code: bool) -> ExitCode {
    use parley_runtime::signin;
    let (settings, teams) = match teams_settings(&path) {
        Ok(found) => found,
        Err(code) => return code,
    };
    let ca = settings.tls_ca_file.as_deref();
    let token = if device_code {
        signin::with_device_code(&teams.graph, ca, |code| {
            eprintln!("{}", code.message);
        })
        .await
    } else {
        signin::with_browser(
            &teams.graph,
            ca,
            |url| {
                eprintln!("Open this address in a browser to sign in to Microsoft Teams:\n{url}");
                if let Err(e) = signin::open_in_browser(url) {
                    eprintln!("(the browser could not be started: {e})");
                }
            },
            SIGN_IN_TIMEOUT,
        )
        .await
    };
    let token = match token {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    match secrets::store_rotated(&teams.refresh_token, &teams.keyring_user(), &token) {
        Ok(true) => {
            println!("signed in to Microsoft Teams; the sign-in is kept for presence sync");
            ExitCode::SUCCESS
        }
        Ok(false) => {
            eprintln!(
                "signed in, but teams.refresh_token names an environment variable, which cannot be written: use keyring = true or a file"
            );
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

fn store_password(path: PathBuf) -> ExitCode {
    let settings = match Config::load(&path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let mut line = String::new();
    if std::io::stdin().read_line(&mut line).is_err()
        || line.trim_end_matches(['\r', '\n']).is_empty()
    {
        eprintln!("give the password on stdin");
        return ExitCode::from(2);
    }
    let password = Secret::new(line.trim_end_matches(['\r', '\n']).to_owned());
    let user = settings.keyring_user();
    match secrets::store_password(&user, &password) {
        Ok(()) => {
            println!("stored the password for {user} in the OS keychain");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
