//! A decimal number held exactly: an integer mantissa and a count of decimal places.
//!
//! Salesforce sends currency, percent and double values as JSON numbers or, in Bulk CSV, as
//! text. Holding them as `f64` would make `0.1 + 0.2` differ from `0.3` and turn a re-read
//! into a false "updated" event; holding them as a normalised decimal makes `1500`,
//! `1500.0`, `1.5E3` and `"1500.00"` one value.

use std::fmt;

/// The largest number of decimal places kept; Salesforce fields have at most 18 digits in
/// all, so anything finer is noise from a float that should be rounded away.
const MAX_SCALE: u32 = 30;

/// An exact decimal, normalised so that equal numbers have equal representations: no
/// trailing zeros after the point, and zero is never negative.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Decimal {
    mantissa: i128,
    scale: u32,
}

impl Decimal {
    /// Zero.
    pub const ZERO: Self = Self {
        mantissa: 0,
        scale: 0,
    };

    /// The decimal `mantissa × 10^-scale`, normalised.
    pub fn new(mantissa: i128, scale: u32) -> Self {
        Self { mantissa, scale }.normalised()
    }

    /// An integer.
    pub fn from_int(value: i64) -> Self {
        Self::new(i128::from(value), 0)
    }

    /// Parses decimal text: an optional sign, digits with an optional point, and an optional
    /// exponent (`-12.50`, `1.5E3`, `1e-7`). Returns `None` for anything else, or for a value
    /// too large to hold exactly.
    pub fn parse(text: &str) -> Option<Self> {
        let (number, exponent) = match text.find(['e', 'E']) {
            Some(at) => (&text[..at], text[at + 1..].parse::<i32>().ok()?),
            None => (text, 0),
        };
        let (negative, unsigned) = split_sign(number);
        let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.len() + fraction.len() == 0 || !all_digits(whole) || !all_digits(fraction) {
            return None;
        }
        let digits = format!("{whole}{fraction}");
        let significant = digits.trim_start_matches('0');
        // Too many digits for an i128 is too large to hold exactly: refuse, never wrap.
        let mut mantissa: i128 = if significant.is_empty() {
            0
        } else {
            significant.parse().ok()?
        };
        if negative {
            mantissa = -mantissa;
        }
        let scale = i64::try_from(fraction.len()).ok()? - i64::from(exponent);
        Self::scaled(mantissa, scale)
    }

    /// Builds `mantissa × 10^-scale` for a possibly negative scale, which multiplies out.
    fn scaled(mantissa: i128, scale: i64) -> Option<Self> {
        if scale >= 0 {
            return Some(Self::new(mantissa, u32::try_from(scale).ok()?).capped());
        }
        let factor = 10i128.checked_pow(u32::try_from(-scale).ok()?)?;
        mantissa.checked_mul(factor).map(|m| Self::new(m, 0))
    }

    /// Rounds away what no Salesforce field can hold, so a value's size stays bounded.
    fn capped(self) -> Self {
        self.round_to(MAX_SCALE)
    }

    /// Rounds to at most `places` decimal places, half away from zero, which is how
    /// Salesforce rounds a value to a field's scale when it stores it.
    pub fn round_to(self, places: u32) -> Self {
        if self.scale <= places {
            return self;
        }
        let Some(divisor) = 10i128.checked_pow(self.scale - places) else {
            return Self::ZERO;
        };
        let (quotient, remainder) = (self.mantissa / divisor, self.mantissa % divisor);
        let carry = if remainder.unsigned_abs() * 2 >= divisor.unsigned_abs() {
            self.mantissa.signum()
        } else {
            0
        };
        Self::new(quotient + carry, places)
    }

    /// The value as an `i64`, when it is a whole number that fits.
    pub fn to_i64(self) -> Option<i64> {
        if self.scale == 0 {
            i64::try_from(self.mantissa).ok()
        } else {
            None
        }
    }

    /// How many significant digits the mantissa has (zero has one).
    pub fn significant_digits(self) -> usize {
        self.mantissa
            .unsigned_abs()
            .checked_ilog10()
            .map_or(1, |log| log as usize + 1)
    }

    /// Strips trailing zeros after the point, so equal numbers are represented alike.
    fn normalised(mut self) -> Self {
        while self.scale > 0 && self.mantissa % 10 == 0 {
            self.mantissa /= 10;
            self.scale -= 1;
        }
        if self.mantissa == 0 {
            self.scale = 0;
        }
        self
    }
}

fn split_sign(text: &str) -> (bool, &str) {
    match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    }
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.mantissa.unsigned_abs().to_string();
        let sign = if self.mantissa < 0 { "-" } else { "" };
        let scale = self.scale as usize;
        if scale == 0 {
            return write!(f, "{sign}{digits}");
        }
        let padded = format!("{digits:0>width$}", width = scale + 1);
        let (whole, fraction) = padded.split_at(padded.len() - scale);
        write!(f, "{sign}{whole}.{fraction}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn dec(text: &str) -> Decimal {
        Decimal::parse(text).unwrap_or_else(|| panic!("{text:?} did not parse"))
    }

    #[test]
    fn one_number_written_many_ways_is_one_decimal() {
        for text in [
            "1500", "1500.0", "1500.00", "1.5E3", "1.5e+3", "+1500", "15000e-1",
        ] {
            assert_eq!(dec(text), Decimal::from_int(1500), "{text}");
        }
    }

    #[test]
    fn decimals_add_up_exactly_where_floats_do_not() {
        assert_eq!(
            dec("0.3"),
            Decimal::new(1, 1)
                .round_to(2)
                .add_for_test(Decimal::new(2, 1))
        );
        assert_ne!(0.1_f64 + 0.2, 0.3);
    }

    #[test]
    fn rounding_goes_half_away_from_zero() {
        assert_eq!(dec("2.345").round_to(2), dec("2.35"));
        assert_eq!(dec("-2.345").round_to(2), dec("-2.35"));
        assert_eq!(dec("2.344").round_to(2), dec("2.34"));
        assert_eq!(dec("0.004").round_to(2), Decimal::ZERO);
    }

    #[test]
    fn negative_zero_is_zero() {
        assert_eq!(dec("-0.00"), Decimal::ZERO);
        assert_eq!(dec("-0.00").to_string(), "0");
    }

    #[test]
    fn decimals_display_without_trailing_zeros() {
        assert_eq!(dec("0.050").to_string(), "0.05");
        assert_eq!(dec("-12.50").to_string(), "-12.5");
        assert_eq!(dec("1e-7").to_string(), "0.0000001");
    }

    #[test]
    fn text_that_is_not_a_number_is_rejected() {
        for text in ["", ".", "-", "1.2.3", "1,5", "abc", "1e", "1e999", "NaN"] {
            assert_eq!(Decimal::parse(text), None, "{text:?}");
        }
    }

    impl Decimal {
        fn add_for_test(self, other: Self) -> Self {
            let scale = self.scale.max(other.scale);
            let lift = |d: Self| d.mantissa * 10i128.pow(scale - d.scale);
            Self::new(lift(self) + lift(other), scale)
        }
    }

    proptest! {
        #[test]
        fn display_then_parse_gives_back_the_same_decimal(m in any::<i64>(), s in 0u32..20) {
            let value = Decimal::new(i128::from(m), s);
            prop_assert_eq!(Decimal::parse(&value.to_string()), Some(value));
        }

        #[test]
        fn appending_zeros_after_the_point_changes_nothing(m in any::<i64>(), zeros in 0usize..6) {
            let text = format!("{m}.{}", "0".repeat(zeros.max(1)));
            prop_assert_eq!(Decimal::parse(&text), Some(Decimal::from_int(m)));
        }
    }
}
