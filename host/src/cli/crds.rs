//! `aim-engine crds`: prints the CRDs of every AIM kind as one multi-document YAML stream, or
//! writes one file per CRD — the files committed under `deploy/crds/`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;

/// Arguments of `aim-engine crds`.
#[derive(clap::Args)]
pub struct Args {
    /// Write `<plural>.<group>.yaml` files into this directory instead of printing.
    #[arg(long, value_name = "DIR")]
    output_dir: Option<PathBuf>,
}

/// Prints or writes every CRD.
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let files = render_files()?;
    match &args.output_dir {
        Some(dir) => write_files(dir, &files)?,
        None => {
            for (_, yaml) in &files {
                print!("---\n{yaml}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Every CRD as `(file name, YAML)`, in the order of [`aim_api::crds::all`].
pub fn render_files() -> anyhow::Result<Vec<(String, String)>> {
    aim_api::crds::all().iter().map(render_file).collect()
}

fn render_file(crd: &CustomResourceDefinition) -> anyhow::Result<(String, String)> {
    let name = crd
        .metadata
        .name
        .as_deref()
        .context("a CRD without a name")?;
    let yaml = serde_yaml::to_string(crd).with_context(|| format!("serializing CRD {name}"))?;
    Ok((format!("{name}.yaml"), yaml))
}

fn write_files(dir: &Path, files: &[(String, String)]) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for (name, yaml) in files {
        let path = dir.join(name);
        std::fs::write(&path, yaml).with_context(|| format!("writing {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}
