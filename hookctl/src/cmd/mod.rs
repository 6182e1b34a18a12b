//! One module per subcommand: `run(args, &mut Client) -> anyhow::Result<ExitCode>`.

pub mod events;
pub mod reload;
pub mod status;
pub mod stop;
