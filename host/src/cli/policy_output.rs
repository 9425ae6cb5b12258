//! What policies print, shown to the author. The runtime forwards every line a policy writes to
//! stdout or stderr as a `tracing` event (in the operator they land in its log); the offline
//! commands (`render`, `policy test`, `policy bench`) install this subscriber instead, which keeps
//! the lines of the current thread until the command prints them under the service or case that
//! caused them. With `-v` it also keeps the wasm backtrace of every trap. Warnings of the runtime
//! itself (an unusable precompile cache, say) go straight to stderr.

use std::cell::RefCell;
use std::fmt::Write as _;

use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;
use tracing_subscriber::prelude::*;

const GUEST_TARGET: &str = "aim_engine::policy::guest";
const TRAP_TARGET: &str = "aim_engine::policy::trap";

/// One kept line: what a policy printed, or (with `-v`) a trap's wasm backtrace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputLine {
    pub policy: String,
    /// `stdout`, `stderr`, or `backtrace`.
    pub stream: String,
    pub text: String,
}

thread_local! {
    static KEPT: RefCell<Vec<OutputLine>> = const { RefCell::new(Vec::new()) };
}

/// Installs the subscriber for this process (a no-op if one is already installed).
pub fn install(verbose: bool) {
    let _ = tracing_subscriber::registry()
        .with(Keeper { verbose })
        .try_init();
}

/// The lines kept on this thread since the last call.
pub fn take() -> Vec<OutputLine> {
    KEPT.with(|kept| std::mem::take(&mut *kept.borrow_mut()))
}

/// The lines as text, each prefixed by `indent` and the policy and stream it came from.
pub fn describe(lines: &[OutputLine], indent: &str) -> String {
    let mut out = String::new();
    for line in lines {
        // Output of the metadata call made while loading comes before the name is known.
        let policy = if line.policy.is_empty() {
            "policy"
        } else {
            line.policy.as_str()
        };
        for text in line.text.lines() {
            let _ = writeln!(out, "{indent}{policy} {}: {text}", line.stream);
        }
    }
    out
}

struct Keeper {
    verbose: bool,
}

impl Keeper {
    fn wants(&self, metadata: &Metadata<'_>) -> bool {
        match metadata.target() {
            GUEST_TARGET => true,
            TRAP_TARGET => self.verbose,
            _ => *metadata.level() <= Level::WARN,
        }
    }
}

impl<S: Subscriber> Layer<S> for Keeper {
    fn register_callsite(
        &self,
        metadata: &'static Metadata<'static>,
    ) -> tracing::subscriber::Interest {
        if self.wants(metadata) {
            tracing::subscriber::Interest::always()
        } else {
            tracing::subscriber::Interest::never()
        }
    }

    fn enabled(&self, metadata: &Metadata<'_>, _: Context<'_, S>) -> bool {
        self.wants(metadata)
    }

    /// The most verbose level kept (guest output is INFO, backtraces DEBUG). Said so, the `log`
    /// records of libraries below it (wasmtime's per-instantiation `trace!`) are cut by `log`'s
    /// static level check instead of each reaching this layer, as in `aim-engine run`; without
    /// it, `policy bench` measured that dispatch too (about 3% of a fresh `info` call).
    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(if self.verbose {
            LevelFilter::DEBUG
        } else {
            LevelFilter::INFO
        })
    }

    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let metadata = event.metadata();
        match metadata.target() {
            GUEST_TARGET | TRAP_TARGET => {
                let stream = if metadata.target() == TRAP_TARGET {
                    "backtrace".to_owned()
                } else {
                    fields.stream
                };
                let mut text = fields.message;
                if let Some(dropped) = fields.dropped {
                    text = format!("({dropped} more bytes were dropped: {text})");
                }
                KEPT.with(|kept| {
                    kept.borrow_mut().push(OutputLine {
                        policy: fields.policy,
                        stream,
                        text,
                    });
                });
            }
            _ => eprintln!("warning: {}{}", fields.message, fields.rest),
        }
    }
}

#[derive(Default)]
struct Fields {
    message: String,
    policy: String,
    stream: String,
    dropped: Option<String>,
    /// Every other field, as ` key=value`.
    rest: String,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "policy" => self.policy = value.to_owned(),
            "stream" => self.stream = value.to_owned(),
            _ => self.record_debug(field, &value),
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "message" => self.message = format!("{value:?}"),
            "dropped" => self.dropped = Some(format!("{value:?}")),
            name => {
                let _ = write!(self.rest, " {name}={value:?}");
            }
        }
    }
}
