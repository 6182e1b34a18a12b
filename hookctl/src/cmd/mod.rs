//! One module per subcommand: `run(args, &mut Client) -> anyhow::Result<ExitCode>`.

pub mod allow;
pub mod check;
pub mod completions;
pub mod doctor;
pub mod events;
pub mod explain;
pub mod filters;
pub mod http;
pub mod import;
pub mod init;
pub mod install;
pub mod reload;
pub mod restart;
pub mod rules;
pub mod runs;
pub mod service;
pub mod sessions;
pub mod sink;
pub mod sink_init;
pub mod stats;
pub mod status;
pub mod statusline;
pub mod stop;
pub mod test;
pub mod trust;
pub mod ui;
