//! paht-load: submits reports to the intake service at fixed rates (open loop, latency from
//! each request's due time) or as fast as possible (closed loop), and measures the database
//! alone at the same concurrency (`paht-load baseline`); `paht-load workflow` drives whole
//! flows across intake, routing, processing and publication; `paht-load table` lays runs side
//! by side. See docs/benchmarks.md and scripts/load.

mod args;
mod baseline;
mod cpu;
mod driver;
mod flow;
mod flow_summary;
mod metrics;
mod retry;
mod schedule;
mod summary;
mod table;
mod workload;

use clap::Parser;

use crate::args::{Cli, Command};
use crate::summary::Summary;

fn print(summary: &Summary, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string(summary)?);
    } else {
        print!("{}", summary.text());
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Baseline(args)) => print(&baseline::run(&args)?, args.json),
        Some(Command::Submit(args)) => submit(&args),
        Some(Command::Table(args)) => table::run(&args),
        Some(Command::Workflow(args)) => workflow(&args),
        None => submit(&cli.submit),
    }
}

fn submit(args: &args::SubmitArgs) -> anyhow::Result<()> {
    // Worker threads follow the CPUs this process may use, so `taskset -c 1` gives one.
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let summary = runtime.block_on(driver::run(args))?;
    print(&summary, args.json)
}

fn workflow(args: &args::WorkflowArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let summary = runtime.block_on(flow::run(args))?;
    if args.json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        print!("{}", summary.text());
    }
    Ok(())
}
