//! The admin's rules for the pods policies plan, as `aim-engine run` flags (Helm values
//! `policyChecks.*`): the operator's own ServiceAccount, which no planned pod may use, the
//! ServiceAccounts planned pods may use, and the registries their images may come from.

use crate::policy::{AccountPattern, PodRules};

/// Flags of `aim-engine run` for the pod checks.
#[derive(clap::Args)]
pub struct PodRulesArgs {
    /// The operator's own ServiceAccount (in the operator's namespace). No pod a policy plans may
    /// run as it. The Helm chart sets it from the pod's `spec.serviceAccountName`.
    #[arg(
        long,
        env = "AIM_OPERATOR_SERVICE_ACCOUNT",
        default_value = "aim-engine"
    )]
    operator_service_account: String,
    /// ServiceAccounts pods planned by policies may run as: `name` (any namespace) or
    /// `namespace/name`, `*` matching anything (repeat the flag or separate with commas).
    #[arg(
        long,
        env = "AIM_ALLOWED_SERVICE_ACCOUNTS",
        value_delimiter = ',',
        default_value = "*"
    )]
    allowed_service_accounts: Vec<AccountPattern>,
    /// Registries (`host[:port]`, `*` matching anything) images of pods planned by policies may
    /// come from; any registry when absent.
    #[arg(long, env = "AIM_ALLOWED_IMAGE_REGISTRIES", value_delimiter = ',')]
    allowed_image_registries: Vec<String>,
}

impl PodRulesArgs {
    /// The rules the flags describe.
    pub fn rules(&self) -> PodRules {
        PodRules {
            operator_service_account: Some(self.operator_service_account.clone()),
            allowed_service_accounts: self.allowed_service_accounts.clone(),
            allowed_registries: self
                .allowed_image_registries
                .iter()
                .map(|registry| registry.trim().to_ascii_lowercase())
                .filter(|registry| !registry.is_empty())
                .collect(),
        }
    }
}
