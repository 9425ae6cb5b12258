//! GPU model names as node labels and templates spell them, reduced to one comparable form, so
//! `Instinct MI300X`, `mi300x` and AMD device id `74a1` all compare equal.

/// Words that name a vendor or product line rather than a model.
const NOT_A_MODEL: [&str; 5] = ["AMD", "NVIDIA", "TESLA", "RTX", "INSTINCT"];

/// The comparable form: the first token that looks like a model (letters, then a digit, then
/// letters or digits), uppercased; e.g. `A100-SXM4-40GB` → `A100`, `MI300X (rev 2)` → `MI300X`.
/// Without such a token the whole trimmed, uppercased input is returned.
pub fn normalize_gpu_model(raw: &str) -> String {
    let cleaned = raw.trim().replace('_', "-").to_uppercase();
    cleaned
        .split(['-', ' ', '/', ':'])
        .find(|token| looks_like_model(token) && !NOT_A_MODEL.contains(token))
        .map_or_else(|| cleaned.clone(), str::to_string)
}

/// `^[A-Z]*[0-9]+[A-Z0-9]*$`, which is what the reference pattern's optional prefixes reduce to.
fn looks_like_model(token: &str) -> bool {
    let rest = token.trim_start_matches(|c: char| c.is_ascii_uppercase());
    rest.starts_with(|c: char| c.is_ascii_digit())
        && rest
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

/// The AMD model for a PCI device id (`amd.com/gpu.device-id`), `0x` prefix optional;
/// unknown ids become `AMD-<ID>`.
pub fn amd_model_from_device_id(device_id: &str) -> String {
    let id = device_id.trim().to_lowercase();
    let id = id.strip_prefix("0x").unwrap_or(&id);
    let model = match id {
        "738c" | "738e" => "MI100",
        "7408" | "740c" => "MI250X",
        "740f" | "7410" => "MI210",
        "74a0" => "MI300A",
        "74a1" | "74a9" | "74b5" | "74bd" => "MI300X",
        "74a2" | "74a8" | "74b6" => "MI308X",
        "74a5" | "74b9" => "MI325X",
        "75a0" | "75b0" => "MI350X",
        "75a3" | "75b3" => "MI355X",
        "7460" | "7461" => "V710",
        "7448" | "744a" => "W7900",
        "7449" | "745e" => "W7800",
        "73a2" => "W6900X",
        "73a3" => "W6800",
        "73ab" => "W6800X",
        "73a1" | "73ae" => "V620",
        "7550" => "RX9070",
        "744c" => "RX7900",
        "73af" => "RX6900",
        "73bf" => "RX6800",
        _ => return format!("AMD-{}", id.to_uppercase()),
    };
    model.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vendor_words_and_suffixes_are_dropped() {
        assert_eq!(normalize_gpu_model("A100-SXM4-40GB"), "A100");
        assert_eq!(normalize_gpu_model("MI300X (rev 2)"), "MI300X");
        assert_eq!(normalize_gpu_model("Instinct MI300X"), "MI300X");
        assert_eq!(normalize_gpu_model(" mi325x "), "MI325X");
        assert_eq!(normalize_gpu_model("NVIDIA_H100_80GB_HBM3"), "H100");
    }

    #[test]
    fn a_name_without_a_model_token_is_kept_uppercased() {
        assert_eq!(normalize_gpu_model("instinct"), "INSTINCT");
    }

    #[test]
    fn device_ids_map_to_models() {
        assert_eq!(amd_model_from_device_id("74a1"), "MI300X");
        assert_eq!(amd_model_from_device_id("0x74A5"), "MI325X");
        assert_eq!(amd_model_from_device_id("dead"), "AMD-DEAD");
    }
}
