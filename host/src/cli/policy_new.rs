//! `aim-engine policy new --lang rust|js|python --world W DIR`: a ready policy project, and
//! `aim-engine policy wit [DIR]`: the WIT package this binary speaks.
//!
//! Everything a project needs comes from the binary, so an author needs nothing but aim-engine
//! and the language's toolchain: the WIT (and the documents' JSON Schema), pinned toolchain
//! manifests, a build script, the source of a working policy for the chosen world, one
//! self-contained fixture with routing enabled and its golden output. A Rust project gets a copy
//! of the `aim-policy` SDK crate (the SDK is not published, and a copy always matches the
//! contract of the binary that wrote it); JavaScript and Python projects get a small helper
//! module with the same conveniences.
//!
//! Every world's example does the same things in every language, so one golden per world serves
//! all three: route paths by team (`paths`), the Ready template with the fewest GPUs
//! (`selection`), the team label on what a service runs (`planner`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};

/// Arguments of `aim-engine policy new`.
#[derive(clap::Args)]
pub struct NewArgs {
    /// The language of the project.
    #[arg(long, value_enum)]
    lang: Lang,
    /// What the policy implements: route paths, template selection, planning, or all three.
    #[arg(long, value_enum, default_value = "policy")]
    world: World,
    /// The directory to create; its name is the policy's name unless `--name` is given.
    dir: PathBuf,
    /// The policy's name (lowercase letters, digits and `-`).
    #[arg(long)]
    name: Option<String>,
}

/// Arguments of `aim-engine policy wit`.
#[derive(clap::Args)]
pub struct WitArgs {
    /// The directory to write the `*.wit` files (and `schema/`) into.
    #[arg(default_value = "wit")]
    dir: PathBuf,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Lang {
    Rust,
    Js,
    Python,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum World {
    PathsPolicy,
    SelectionPolicy,
    PlannerPolicy,
    Policy,
}

/// One interface a world exports: its source fragment per language, and how each names it.
struct Interface {
    rust: &'static str,
    js: &'static str,
    python: &'static str,
    rust_trait: &'static str,
    js_name: &'static str,
    python_name: &'static str,
    /// One sentence for the project's header comment.
    summary: &'static str,
}

const PATHS: Interface = Interface {
    rust: include_str!("../../templates/rust/paths.rs"),
    js: include_str!("../../templates/js/paths.js"),
    python: include_str!("../../templates/python/paths.py"),
    rust_trait: "PathsPolicy",
    js_name: "'paths'",
    python_name: "types.PolicyInterface.PATHS",
    summary: "Route paths: a service labelled `example.com/team: <team>` is served under \
              `/teams/<team>/<namespace>/<name>`; one with a path template keeps it; one with \
              neither is refused with reason `NoTeam`, which its RoutingReady condition shows.",
};

const SELECTION: Interface = Interface {
    rust: include_str!("../../templates/rust/selection.rs"),
    js: include_str!("../../templates/js/selection.js"),
    python: include_str!("../../templates/python/selection.py"),
    rust_trait: "SelectionPolicy",
    js_name: "'selection'",
    python_name: "types.PolicyInterface.SELECTION",
    summary: "Template selection: the Ready template needing the fewest GPUs among those the \
              cluster's GPUs can run; the default policy decides ties, overrides and the rest.",
};

const PLANNER: Interface = Interface {
    rust: include_str!("../../templates/rust/planner.rs"),
    js: include_str!("../../templates/js/planner.js"),
    python: include_str!("../../templates/python/planner.py"),
    rust_trait: "PlannerPolicy",
    js_name: "'planner'",
    python_name: "types.PolicyInterface.PLANNER",
    summary: "Planning: the default plan, with the team label copied onto the InferenceService \
              and the HTTPRoute, and a `NoTeam` Warning Event for a service without one.",
};

impl World {
    fn name(self) -> &'static str {
        match self {
            World::PathsPolicy => "paths-policy",
            World::SelectionPolicy => "selection-policy",
            World::PlannerPolicy => "planner-policy",
            World::Policy => "policy",
        }
    }

    fn interfaces(self) -> Vec<&'static Interface> {
        match self {
            World::PathsPolicy => vec![&PATHS],
            World::SelectionPolicy => vec![&SELECTION],
            World::PlannerPolicy => vec![&PLANNER],
            World::Policy => vec![&PATHS, &SELECTION, &PLANNER],
        }
    }

    /// The golden output of the fixture for this world's example, `{{name}}` for the policy.
    fn golden(self) -> &'static str {
        match self {
            World::PathsPolicy => {
                include_str!("../../templates/fixture/paths-policy.expected.yaml")
            }
            World::SelectionPolicy => {
                include_str!("../../templates/fixture/selection-policy.expected.yaml")
            }
            World::PlannerPolicy => {
                include_str!("../../templates/fixture/planner-policy.expected.yaml")
            }
            World::Policy => include_str!("../../templates/fixture/policy.expected.yaml"),
        }
    }
}

/// The `aim:policy` package: the WIT files and the JSON Schema of the documents.
const WIT: [(&str, &str); 13] = [
    ("defaults.wit", include_str!("../../../wit/defaults.wit")),
    ("metadata.wit", include_str!("../../../wit/metadata.wit")),
    ("paths.wit", include_str!("../../../wit/paths.wit")),
    ("planner.wit", include_str!("../../../wit/planner.wit")),
    ("selection.wit", include_str!("../../../wit/selection.wit")),
    ("types.wit", include_str!("../../../wit/types.wit")),
    ("worlds.wit", include_str!("../../../wit/worlds.wit")),
    (
        "schema/service-observation.schema.json",
        include_str!("../../../wit/schema/service-observation.schema.json"),
    ),
    (
        "schema/template-observation.schema.json",
        include_str!("../../../wit/schema/template-observation.schema.json"),
    ),
    (
        "schema/model-observation.schema.json",
        include_str!("../../../wit/schema/model-observation.schema.json"),
    ),
    (
        "schema/template-cache-observation.schema.json",
        include_str!("../../../wit/schema/template-cache-observation.schema.json"),
    ),
    (
        "schema/model-cache-observation.schema.json",
        include_str!("../../../wit/schema/model-cache-observation.schema.json"),
    ),
    (
        "schema/plan.schema.json",
        include_str!("../../../wit/schema/plan.schema.json"),
    ),
];

/// The Rust SDK, copied into every Rust project as `aim-policy/`.
const SDK: [(&str, &str); 8] = [
    (
        "aim-policy/Cargo.toml",
        include_str!("../../../sdk/Cargo.toml"),
    ),
    (
        "aim-policy/src/lib.rs",
        include_str!("../../../sdk/src/lib.rs"),
    ),
    (
        "aim-policy/src/bindings.rs",
        include_str!("../../../sdk/src/bindings.rs"),
    ),
    (
        "aim-policy/src/defaults.rs",
        include_str!("../../../sdk/src/defaults.rs"),
    ),
    (
        "aim-policy/src/documents.rs",
        include_str!("../../../sdk/src/documents.rs"),
    ),
    (
        "aim-policy/src/export.rs",
        include_str!("../../../sdk/src/export.rs"),
    ),
    (
        "aim-policy/src/names.rs",
        include_str!("../../../sdk/src/names.rs"),
    ),
    (
        "aim-policy/src/policy.rs",
        include_str!("../../../sdk/src/policy.rs"),
    ),
];

/// The fixture of every project: the custom-policy example.
const FIXTURE: &str = include_str!("../../../examples/06-custom-policy.yaml");
const README: &str = include_str!("../../templates/README.md");

/// A file of the project: path, contents, executable.
type File = (String, String, bool);

pub fn run_new(args: &NewArgs) -> anyhow::Result<ExitCode> {
    let name = match &args.name {
        Some(name) => name.clone(),
        None => args
            .dir
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned(),
    };
    if let Err(problem) = check_name(&name) {
        eprintln!("error: {problem}");
        return Ok(ExitCode::from(2));
    }
    if args.dir.exists() && std::fs::read_dir(&args.dir)?.next().is_some() {
        eprintln!(
            "error: {} exists and is not empty; choose a new directory",
            args.dir.display()
        );
        return Ok(ExitCode::from(2));
    }
    let files = project(args.lang, args.world, &name);
    write(&args.dir, &files)?;
    let dir = args.dir.display();
    println!(
        "created {dir}: a {} policy `{name}` for the world {}",
        lang_name(args.lang),
        args.world.name()
    );
    println!();
    println!("  cd {dir}");
    println!("  ./build.sh                                          # builds policy.wasm");
    println!(
        "  aim-engine policy test policy.wasm fixtures/        # compares with fixtures/*.expected.yaml"
    );
    println!("  aim-engine render -f fixtures/ --policy policy.wasm --diff-default");
    println!("  aim-engine policy bench policy.wasm --fixture fixtures/example.yaml");
    println!();
    println!("README.md says what each file is for.");
    Ok(ExitCode::SUCCESS)
}

pub fn run_wit(args: &WitArgs) -> anyhow::Result<ExitCode> {
    let files: Vec<File> = WIT
        .iter()
        .map(|(path, text)| ((*path).to_owned(), (*text).to_owned(), false))
        .collect();
    write(&args.dir, &files)?;
    println!(
        "wrote aim:policy@0.1.0 ({} WIT files, {} JSON Schemas) to {}",
        files.iter().filter(|(p, _, _)| p.ends_with(".wit")).count(),
        files
            .iter()
            .filter(|(p, _, _)| p.ends_with(".json"))
            .count(),
        args.dir.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// A name every toolchain accepts: a Cargo package, an npm package, a policy name.
fn check_name(name: &str) -> Result<(), String> {
    let valid = name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-')
        && name.len() <= 63;
    if valid {
        Ok(())
    } else {
        Err(format!(
            "`{name}` cannot name a policy: use lowercase letters, digits and `-`, starting with a \
             letter (give --name, or name the directory so)"
        ))
    }
}

fn lang_name(lang: Lang) -> &'static str {
    match lang {
        Lang::Rust => "Rust",
        Lang::Js => "JavaScript",
        Lang::Python => "Python",
    }
}

/// Every file of the project.
fn project(lang: Lang, world: World, name: &str) -> Vec<File> {
    let interfaces = world.interfaces();
    let vars = Vars {
        name,
        world: world.name(),
        type_name: &camel_case(name),
        crate_name: &name.replace('-', "_"),
    };
    let plain = |path: &str, text: &str| (path.to_owned(), vars.fill(text), false);
    let script = |path: &str, text: &str| (path.to_owned(), vars.fill(text), true);
    let mut files = match lang {
        Lang::Rust => {
            let mut source = include_str!("../../templates/rust/head.rs").to_owned();
            for interface in &interfaces {
                source.push_str(interface.rust);
            }
            let traits: Vec<&str> = interfaces.iter().map(|i| i.rust_trait).collect();
            source.push_str(&format!(
                "\naim_policy::export!({{{{type}}}}: {});\n",
                traits.join(", ")
            ));
            let summary = comment(&interfaces, "//! * ", "//!   ");
            // Only the paths and planner examples use the label.
            let team_label = if world == World::SelectionPolicy {
                ""
            } else {
                "\n/// The label naming the team that owns a service.\nconst TEAM_LABEL: &str = \"example.com/team\";\n"
            };
            let mut files = vec![
                plain(
                    "Cargo.toml",
                    include_str!("../../templates/rust/Cargo.toml"),
                ),
                plain(
                    "Cargo.lock",
                    include_str!("../../templates/rust/Cargo.lock"),
                ),
                plain(
                    "rust-toolchain.toml",
                    include_str!("../../templates/rust/rust-toolchain.toml"),
                ),
                script("build.sh", include_str!("../../templates/rust/build.sh")),
                plain(".gitignore", include_str!("../../templates/rust/gitignore")),
                plain(
                    "src/lib.rs",
                    &source
                        .replace("{{summary}}", &summary)
                        .replace("{{team_label}}", team_label),
                ),
            ];
            files.extend(
                SDK.iter()
                    .map(|(path, text)| ((*path).to_owned(), (*text).to_owned(), false)),
            );
            files
        }
        Lang::Js => {
            let mut source = include_str!("../../templates/js/head.js").to_owned();
            for interface in &interfaces {
                source.push_str(interface.js);
            }
            let names: Vec<&str> = interfaces.iter().map(|i| i.js_name).collect();
            let source = source
                .replace("{{summary}}", &comment(&interfaces, "// * ", "//   "))
                .replace("{{interfaces}}", &names.join(", "));
            vec![
                plain(
                    "package.json",
                    include_str!("../../templates/js/package.json"),
                ),
                plain(
                    "package-lock.json",
                    include_str!("../../templates/js/package-lock.json"),
                ),
                script("build.sh", include_str!("../../templates/js/build.sh")),
                plain(".gitignore", include_str!("../../templates/js/gitignore")),
                plain("policy.js", &source),
                plain(
                    "aim-policy.js",
                    include_str!("../../templates/js/aim-policy.js"),
                ),
            ]
        }
        Lang::Python => {
            let mut source = include_str!("../../templates/python/head.py").to_owned();
            for interface in &interfaces {
                source.push_str(interface.python);
            }
            let names: Vec<&str> = interfaces.iter().map(|i| i.python_name).collect();
            let source = source
                .replace("{{summary}}", &comment(&interfaces, "* ", "  "))
                .replace("{{interfaces}}", &names.join(", "));
            vec![
                plain(
                    "requirements.txt",
                    include_str!("../../templates/python/requirements.txt"),
                ),
                script("build.sh", include_str!("../../templates/python/build.sh")),
                plain(
                    ".gitignore",
                    include_str!("../../templates/python/gitignore"),
                ),
                plain("src/policy.py", &source),
                plain(
                    "src/aim_policy.py",
                    include_str!("../../templates/python/aim_policy.py"),
                ),
            ]
        }
    };
    files.push(plain("README.md", README));
    files.push(plain("fixtures/example.yaml", FIXTURE));
    files.push(plain("fixtures/example.expected.yaml", world.golden()));
    files.extend(
        WIT.iter()
            .map(|(path, text)| (format!("wit/{path}"), (*text).to_owned(), false)),
    );
    files
}

/// The interfaces' summaries as a comment: `first` before each, `rest` on continuation lines,
/// wrapped at 100 columns.
fn comment(interfaces: &[&Interface], first: &str, rest: &str) -> String {
    let mut lines = Vec::new();
    for interface in interfaces {
        let mut line = first.to_owned();
        for word in interface.summary.split_whitespace() {
            if line.len() + word.len() + 1 > 100 && line.trim() != first.trim() {
                lines.push(line);
                line = rest.to_owned();
            }
            if !line.ends_with(' ') {
                line.push(' ');
            }
            line.push_str(word);
        }
        lines.push(line);
    }
    lines.join("\n")
}

/// `my-policy` → `MyPolicy`.
fn camel_case(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// The values `{{...}}` placeholders take.
struct Vars<'a> {
    name: &'a str,
    world: &'a str,
    type_name: &'a str,
    crate_name: &'a str,
}

impl Vars<'_> {
    fn fill(&self, text: &str) -> String {
        text.replace("{{name}}", self.name)
            .replace("{{world}}", self.world)
            .replace("{{type}}", self.type_name)
            .replace("{{crate}}", self.crate_name)
    }
}

fn write(dir: &Path, files: &[File]) -> anyhow::Result<()> {
    for (path, text, executable) in files {
        let path = dir.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        if *executable {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
                .with_context(|| format!("making {} executable", path.display()))?;
        }
    }
    if files.is_empty() {
        bail!("nothing to write");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_every_toolchain_accepts_pass() {
        assert!(check_name("team-paths").is_ok());
        assert!(check_name("p2").is_ok());
        for bad in ["", "Team", "2fast", "a_b", "trailing-", "a/b"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_rust_project_exports_the_traits_of_its_world() {
        let files = project(Lang::Rust, World::Policy, "team-policy");
        let source = &files
            .iter()
            .find(|f| f.0 == "src/lib.rs")
            .unwrap_or(&files[0])
            .1;
        assert!(source.contains("struct TeamPolicy;"), "{source}");
        assert!(
            source.contains(
                "aim_policy::export!(TeamPolicy: PathsPolicy, SelectionPolicy, PlannerPolicy);"
            ),
            "{source}"
        );
        assert!(!source.contains("{{"), "{source}");
    }

    #[test]
    fn every_project_has_the_wit_a_fixture_and_its_golden() {
        for lang in [Lang::Rust, Lang::Js, Lang::Python] {
            let files = project(lang, World::PathsPolicy, "p");
            for path in [
                "wit/worlds.wit",
                "fixtures/example.yaml",
                "fixtures/example.expected.yaml",
                "build.sh",
                "README.md",
            ] {
                assert!(files.iter().any(|f| f.0 == path), "{path}");
            }
            assert!(
                files.iter().all(|f| !f.1.contains("{{")),
                "a placeholder is left"
            );
        }
    }
}
