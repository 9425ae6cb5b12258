//! [`crate::export!`]: turns a type implementing the policy traits into the component's exports.
//!
//! The component always exports every interface of the `policy` world; the ones not listed in
//! `export!` answer `unsupported`, and the metadata claims only the listed ones, so the host
//! never calls the others. Each export first installs a panic hook that prints the panic's
//! message and place in one line, which the host shows with the `PolicyTrapped` failure.

use crate::bindings::exports::aim::policy::metadata::PolicyInfo;
use crate::documents::ServiceObservation;
use crate::{PlannerPolicy, Policy, PolicyError, PolicyInterface};

/// Exports `$policy` as an aim:policy@0.1.0 component implementing the listed traits, e.g.
/// `aim_policy::export!(MyPolicy: PathsPolicy, PlannerPolicy);`. Use it once, in the crate
/// root of a `cdylib` built for `wasm32-wasip2`.
#[macro_export]
macro_rules! export {
    ($policy:ident : $($interface:ident),+ $(,)?) => {
        #[doc(hidden)]
        pub struct __AimPolicyComponent;

        impl $crate::bindings::exports::aim::policy::metadata::Guest for __AimPolicyComponent {
            fn info() -> $crate::PolicyInfo {
                $crate::__private::info::<$policy>(::std::vec![
                    $($crate::__private::interface!($interface)),+
                ])
            }
        }

        $crate::__private::paths!($policy [$($interface)+]);
        $crate::__private::selection!($policy [$($interface)+]);
        $crate::__private::planner!($policy [$($interface)+]);

        $crate::bindings::export!(__AimPolicyComponent with_types_in $crate::bindings);
    };
}

/// Support for [`export!`]; not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use super::{info, plan_service, run};
    pub use crate::{__aim_interface as interface, __aim_paths as paths};
    pub use crate::{__aim_planner as planner, __aim_selection as selection};
}

#[doc(hidden)]
#[macro_export]
macro_rules! __aim_interface {
    (PathsPolicy) => {
        $crate::PolicyInterface::Paths
    };
    (SelectionPolicy) => {
        $crate::PolicyInterface::Selection
    };
    (PlannerPolicy) => {
        $crate::PolicyInterface::Planner
    };
    ($other:ident) => {
        ::std::compile_error!(::std::concat!(
            "`",
            ::std::stringify!($other),
            "` is not a policy trait: list PathsPolicy, SelectionPolicy or PlannerPolicy"
        ))
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __aim_paths {
    ($policy:ident [PathsPolicy $($rest:ident)*]) => {
        impl $crate::bindings::exports::aim::policy::paths::Guest for __AimPolicyComponent {
            fn render_path(request: $crate::PathRequest) -> ::std::result::Result<::std::string::String, $crate::PolicyError> {
                $crate::__private::run(|| <$policy as $crate::PathsPolicy>::render_path(request))
            }
        }
    };
    ($policy:ident [$other:ident $($rest:ident)*]) => {
        $crate::__private::paths!($policy [$($rest)*]);
    };
    ($policy:ident []) => {
        impl $crate::bindings::exports::aim::policy::paths::Guest for __AimPolicyComponent {
            fn render_path(_: $crate::PathRequest) -> ::std::result::Result<::std::string::String, $crate::PolicyError> {
                ::std::result::Result::Err($crate::PolicyError::Unsupported)
            }
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __aim_selection {
    ($policy:ident [SelectionPolicy $($rest:ident)*]) => {
        impl $crate::bindings::exports::aim::policy::selection::Guest for __AimPolicyComponent {
            fn select_template(request: $crate::SelectionRequest) -> ::std::result::Result<$crate::Selection, $crate::PolicyError> {
                $crate::__private::run(|| <$policy as $crate::SelectionPolicy>::select_template(request))
            }
        }
    };
    ($policy:ident [$other:ident $($rest:ident)*]) => {
        $crate::__private::selection!($policy [$($rest)*]);
    };
    ($policy:ident []) => {
        impl $crate::bindings::exports::aim::policy::selection::Guest for __AimPolicyComponent {
            fn select_template(_: $crate::SelectionRequest) -> ::std::result::Result<$crate::Selection, $crate::PolicyError> {
                ::std::result::Result::Err($crate::PolicyError::Unsupported)
            }
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __aim_planner {
    ($policy:ident [PlannerPolicy $($rest:ident)*]) => {
        impl $crate::bindings::exports::aim::policy::planner::Guest for __AimPolicyComponent {
            fn plan_service(observation: ::std::string::String) -> ::std::result::Result<::std::string::String, $crate::PolicyError> {
                $crate::__private::run(|| $crate::__private::plan_service::<$policy>(&observation))
            }
            fn plan_template(observation: ::std::string::String) -> ::std::result::Result<::std::string::String, $crate::PolicyError> {
                $crate::__private::run(|| <$policy as $crate::PlannerPolicy>::plan_template(&observation))
            }
            fn plan_model(observation: ::std::string::String) -> ::std::result::Result<::std::string::String, $crate::PolicyError> {
                $crate::__private::run(|| <$policy as $crate::PlannerPolicy>::plan_model(&observation))
            }
            fn plan_template_cache(observation: ::std::string::String) -> ::std::result::Result<::std::string::String, $crate::PolicyError> {
                $crate::__private::run(|| <$policy as $crate::PlannerPolicy>::plan_template_cache(&observation))
            }
            fn plan_model_cache(observation: ::std::string::String) -> ::std::result::Result<::std::string::String, $crate::PolicyError> {
                $crate::__private::run(|| <$policy as $crate::PlannerPolicy>::plan_model_cache(&observation))
            }
        }
    };
    ($policy:ident [$other:ident $($rest:ident)*]) => {
        $crate::__private::planner!($policy [$($rest)*]);
    };
    ($policy:ident []) => {
        impl $crate::bindings::exports::aim::policy::planner::Guest for __AimPolicyComponent {
            fn plan_service(_: ::std::string::String) -> ::std::result::Result<::std::string::String, $crate::PolicyError> {
                ::std::result::Result::Err($crate::PolicyError::Unsupported)
            }
            fn plan_template(_: ::std::string::String) -> ::std::result::Result<::std::string::String, $crate::PolicyError> {
                ::std::result::Result::Err($crate::PolicyError::Unsupported)
            }
            fn plan_model(_: ::std::string::String) -> ::std::result::Result<::std::string::String, $crate::PolicyError> {
                ::std::result::Result::Err($crate::PolicyError::Unsupported)
            }
            fn plan_template_cache(_: ::std::string::String) -> ::std::result::Result<::std::string::String, $crate::PolicyError> {
                ::std::result::Result::Err($crate::PolicyError::Unsupported)
            }
            fn plan_model_cache(_: ::std::string::String) -> ::std::result::Result<::std::string::String, $crate::PolicyError> {
                ::std::result::Result::Err($crate::PolicyError::Unsupported)
            }
        }
    };
}

/// The metadata of `P`, claiming `implements`.
pub fn info<P: Policy>(implements: Vec<PolicyInterface>) -> PolicyInfo {
    PolicyInfo {
        name: P::NAME.to_owned(),
        version: P::VERSION.to_owned(),
        implements,
    }
}

/// Runs one export with the one-line panic hook installed (each call runs in a fresh instance,
/// so the hook is installed per call).
pub fn run<T>(call: impl FnOnce() -> Result<T, PolicyError>) -> Result<T, PolicyError> {
    std::panic::set_hook(Box::new(|panic| {
        let message = panic
            .payload()
            .downcast_ref::<&str>()
            .map(|message| (*message).to_owned())
            .or_else(|| panic.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "(no message)".to_owned());
        match panic.location() {
            Some(at) => eprintln!("policy panicked at {}:{}: {message}", at.file(), at.line()),
            None => eprintln!("policy panicked: {message}"),
        }
    }));
    call()
}

/// `plan-service` through the typed documents.
pub fn plan_service<P: PlannerPolicy>(observation: &str) -> Result<String, PolicyError> {
    let observation = ServiceObservation::parse(observation).map_err(|error| {
        crate::invalid_input(format!("the observation could not be read: {error}"))
    })?;
    let plan = P::plan_service(observation)?;
    serde_json::to_string(&plan)
        .map_err(|error| crate::invalid_input(format!("the plan could not be written: {error}")))
}
