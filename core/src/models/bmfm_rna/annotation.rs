//! Turning label-head probabilities into annotations: the predicted class per cell and the
//! `cell_id,predicted_type,confidence` CSV that the CLI writes and the browser page offers.

use std::fmt::Write as _;

/// The CSV's header line.
pub const CSV_HEADER: &str = "cell_id,predicted_type,confidence";

/// Index and value of the largest probability (the first on ties).
pub fn argmax(values: &[f32]) -> (u32, f32) {
    let mut best = (0u32, f32::NAN);
    for (i, &v) in values.iter().enumerate() {
        if best.1.is_nan() || v > best.1 {
            best = (i as u32, v);
        }
    }
    best
}

/// The annotation CSV (RFC 4180 quoting where a field needs it; `\n` line ends).
pub fn annotations_csv<'a>(
    cell_ids: &[String],
    types: impl Iterator<Item = &'a str>,
    confidence: &[f32],
) -> String {
    let mut out = String::with_capacity(32 * (cell_ids.len() + 1));
    out.push_str(CSV_HEADER);
    out.push('\n');
    for ((id, kind), p) in cell_ids.iter().zip(types).zip(confidence) {
        let _ = writeln!(out, "{},{},{p:.4}", csv_field(id), csv_field(kind));
    }
    out
}

pub fn csv_field(field: &str) -> std::borrow::Cow<'_, str> {
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\"")).into()
    } else {
        field.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_only_when_needed() {
        let csv = annotations_csv(
            &["AAAC-1".into(), "a,b".into()],
            ["B cell", "say \"hi\""].into_iter(),
            &[0.123_45, 1.0],
        );
        assert_eq!(
            csv,
            "cell_id,predicted_type,confidence\nAAAC-1,B cell,0.1235\n\"a,b\",\"say \"\"hi\"\"\",1.0000\n"
        );
    }

    #[test]
    fn argmax_takes_the_first_of_ties() {
        assert_eq!(argmax(&[0.2, 0.4, 0.4]), (1, 0.4));
        assert!(argmax(&[]).1.is_nan());
    }
}
