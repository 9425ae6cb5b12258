//! Storage sizes: Kubernetes quantities to bytes and back, for sizing model volumes. Arithmetic is
//! integral so `0.5Gi` is exactly 512Mi and sizes never drift by rounding.

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

const GIB: u128 = 1 << 30;

/// Bytes of a quantity such as `512Mi`, `0.5Gi`, `10G` or `1e9`; `None` when it isn't one.
pub fn bytes_of(quantity: &Quantity) -> Option<u128> {
    let text = quantity.0.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(split);
    let (multiplier, divisor) = multiplier(suffix)?;
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    let digits: u128 = format!("{whole}{fraction}").parse().ok()?;
    let scale = 10u128.checked_pow(u32::try_from(fraction.len()).ok()?)?;
    let numerator = digits.checked_mul(multiplier)?;
    let denominator = scale.checked_mul(divisor)?;
    Some(numerator.div_ceil(denominator))
}

/// `(multiplier, divisor)` of a suffix.
fn multiplier(suffix: &str) -> Option<(u128, u128)> {
    let binary = |power: u32| Some((1u128 << (10 * power), 1));
    let decimal = |power: u32| Some((10u128.pow(3 * power), 1));
    match suffix {
        "" => Some((1, 1)),
        "Ki" => binary(1),
        "Mi" => binary(2),
        "Gi" => binary(3),
        "Ti" => binary(4),
        "Pi" => binary(5),
        "Ei" => binary(6),
        "m" => Some((1, 1000)),
        "k" => decimal(1),
        "M" => decimal(2),
        "G" => decimal(3),
        "T" => decimal(4),
        "P" => decimal(5),
        "E" => decimal(6),
        exponent => {
            let power: u32 = exponent.strip_prefix(['e', 'E'])?.parse().ok()?;
            Some((10u128.checked_pow(power)?, 1))
        }
    }
}

/// `bytes` plus `headroom_percent`, rounded up to whole GiB, as a quantity like `2Gi`. A size past
/// what `u128` holds (a quantity such as `1e38` with headroom) saturates instead of overflowing.
pub fn gibibytes_rounded_up(bytes: u128, headroom_percent: i32) -> Quantity {
    let percent = 100 + u128::from(headroom_percent.max(0).unsigned_abs());
    let with_headroom = bytes.saturating_mul(percent).div_ceil(100);
    Quantity(format!("{}Gi", with_headroom.div_ceil(GIB).max(1)))
}

/// A size in (possibly fractional) GiB as an exact binary quantity: `0.5` → `512Mi`.
pub fn from_gibibytes(gib: f64) -> Quantity {
    let bytes = (gib * GIB as f64).round().max(0.0) as u128;
    for (suffix, unit) in [
        ("Ti", 1u128 << 40),
        ("Gi", GIB),
        ("Mi", 1 << 20),
        ("Ki", 1 << 10),
    ] {
        if bytes >= unit && bytes.is_multiple_of(unit) {
            return Quantity(format!("{}{suffix}", bytes / unit));
        }
    }
    Quantity(bytes.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(text: &str) -> Quantity {
        Quantity(text.to_owned())
    }

    #[test]
    fn binary_decimal_and_fractional_quantities_parse_to_bytes() {
        assert_eq!(bytes_of(&q("512Mi")), Some(512 << 20));
        assert_eq!(bytes_of(&q("0.5Gi")), Some(512 << 20));
        assert_eq!(bytes_of(&q("10G")), Some(10_000_000_000));
        assert_eq!(bytes_of(&q("1e3")), Some(1000));
        assert_eq!(bytes_of(&q("abc")), None);
        assert_eq!(bytes_of(&q("")), None);
    }

    #[test]
    fn headroom_is_added_and_rounded_up_to_whole_gibibytes() {
        assert_eq!(gibibytes_rounded_up(512 << 20, 10), q("1Gi"));
        assert_eq!(gibibytes_rounded_up(512 << 20, 200), q("2Gi"));
        assert_eq!(gibibytes_rounded_up(10 << 30, 10), q("11Gi"));
    }

    #[test]
    fn a_size_too_large_for_its_headroom_saturates_instead_of_overflowing() {
        let huge = bytes_of(&q("1e38")).unwrap();
        let size = gibibytes_rounded_up(huge, i32::MAX);
        assert_eq!(
            size,
            q(&format!("{}Gi", u128::MAX.div_ceil(100).div_ceil(GIB)))
        );
        assert_eq!(gibibytes_rounded_up(u128::MAX, 0), size);
    }

    #[test]
    fn fractional_gibibytes_become_exact_binary_quantities() {
        assert_eq!(from_gibibytes(0.5), q("512Mi"));
        assert_eq!(from_gibibytes(16.0), q("16Gi"));
    }
}
