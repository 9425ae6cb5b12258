//! Kubernetes quantities: storage sizes to bytes and back, for sizing model volumes, and exact
//! comparison, for keeping container requests within limits. Arithmetic is integral so `0.5Gi` is
//! exactly 512Mi and nothing drifts by rounding.

use std::cmp::Ordering;

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

const GIB: u128 = 1 << 30;

/// Bytes of a quantity such as `512Mi`, `0.5Gi`, `10G` or `1e9`; `None` when it isn't one.
pub fn bytes_of(quantity: &Quantity) -> Option<u128> {
    let (numerator, denominator) = fraction_of(quantity)?;
    Some(numerator.div_ceil(denominator))
}

/// How two quantities compare (`500m` < `1` < `1Ki` = `1024`), exactly; `None` when either is not
/// a non-negative quantity this parser reads.
pub fn compare(a: &Quantity, b: &Quantity) -> Option<Ordering> {
    let (a_numerator, a_denominator) = fraction_of(a)?;
    let (b_numerator, b_denominator) = fraction_of(b)?;
    // a/b against c/d is a·d against c·b; the products need 256 bits.
    Some(wide_product(a_numerator, b_denominator).cmp(&wide_product(b_numerator, a_denominator)))
}

/// The value of a quantity as `numerator / denominator`.
fn fraction_of(quantity: &Quantity) -> Option<(u128, u128)> {
    let text = quantity.0.trim();
    let text = text.strip_prefix('+').unwrap_or(text);
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
    Some((numerator, denominator))
}

/// `a × b` as (high, low) 128-bit halves, which compare as the full 256-bit number.
fn wide_product(a: u128, b: u128) -> (u128, u128) {
    const LOW: u128 = u64::MAX as u128;
    let (a_high, a_low) = (a >> 64, a & LOW);
    let (b_high, b_low) = (b >> 64, b & LOW);
    let low_low = a_low * b_low;
    let high_low = a_high * b_low;
    let low_high = a_low * b_high;
    let high_high = a_high * b_high;
    let middle = (low_low >> 64) + (high_low & LOW) + (low_high & LOW);
    let low = (middle << 64) | (low_low & LOW);
    let high = high_high + (high_low >> 64) + (low_high >> 64) + (middle >> 64);
    (high, low)
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
            let exponent = exponent.strip_prefix(['e', 'E'])?;
            match exponent.strip_prefix('-') {
                Some(negative) => Some((1, 10u128.checked_pow(negative.parse().ok()?)?)),
                None => {
                    let power: u32 = exponent
                        .strip_prefix('+')
                        .unwrap_or(exponent)
                        .parse()
                        .ok()?;
                    Some((10u128.checked_pow(power)?, 1))
                }
            }
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
    fn quantities_compare_exactly_across_suffixes() {
        let order = |a: &str, b: &str| compare(&q(a), &q(b));
        assert_eq!(order("500m", "1"), Some(Ordering::Less));
        assert_eq!(order("1Ki", "1024"), Some(Ordering::Equal));
        assert_eq!(order("1k", "1Ki"), Some(Ordering::Less));
        assert_eq!(order("48Gi", "64Gi"), Some(Ordering::Less));
        assert_eq!(order("6", "8"), Some(Ordering::Less));
        assert_eq!(order("0.5Gi", "512Mi"), Some(Ordering::Equal));
        assert_eq!(order("1e3", "1k"), Some(Ordering::Equal));
        assert_eq!(order("1e-3", "1m"), Some(Ordering::Equal));
        assert_eq!(order("+2", "2"), Some(Ordering::Equal));
        assert_eq!(order("99999Ei", "1e30"), Some(Ordering::Less));
        assert_eq!(order("1m", "1e-4"), Some(Ordering::Greater));
        assert_eq!(order("-1", "1"), None);
        assert_eq!(order("lots", "1"), None);
    }

    #[test]
    fn comparison_needs_more_than_128_bits_and_stays_exact() {
        // Numerators and denominators fit in u128, their cross products do not.
        let max = q("340282366920938463463374607431768211455m");
        let below = q("340282366920938463463374607431768211454m");
        assert_eq!(compare(&max, &below), Some(Ordering::Greater));
        assert_eq!(compare(&below, &max), Some(Ordering::Less));
        assert_eq!(compare(&max, &max), Some(Ordering::Equal));
        assert_eq!(
            compare(&q("1e38"), &q("99999999999999999999999999999999999999m")),
            Some(Ordering::Greater)
        );
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
