//! Header access by name, case-insensitively (providers write `X-TipoRicevuta`,
//! `X-Tiporicevuta`, `x-ricevuta`, ...), and the small value parsers PEC needs.

use mail_parser::{Address, Header, HeaderValue};

/// The first header called `name` (any case).
pub(crate) fn find<'a, 'x>(headers: &'a [Header<'x>], name: &str) -> Option<&'a Header<'x>> {
    headers
        .iter()
        .find(|header| header.name.as_str().eq_ignore_ascii_case(name))
}

/// The text of the first header called `name` (any case), whitespace-collapsed; `None`
/// when absent. An empty header gives `Some("")`.
pub(crate) fn text(headers: &[Header<'_>], name: &str) -> Option<String> {
    let header = find(headers, name)?;
    Some(match &header.value {
        HeaderValue::Text(text) => collapse(text),
        HeaderValue::TextList(list) => collapse(&list.join(" ")),
        HeaderValue::Address(address) => address
            .iter()
            .filter_map(|addr| addr.address.as_deref())
            .collect::<Vec<_>>()
            .join(", "),
        _ => String::new(),
    })
}

/// A Message-ID-like header value without angle brackets or whitespace.
pub(crate) fn message_id(headers: &[Header<'_>], name: &str) -> Option<String> {
    let header = find(headers, name)?;
    let raw = match &header.value {
        HeaderValue::Text(text) => text.to_string(),
        HeaderValue::TextList(list) => list.first().map(|id| id.to_string())?,
        _ => return None,
    };
    crate::daticert::strip_angle_brackets(&raw)
}

fn collapse(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The sender address written in an envelope's `From` as `"Per conto di: sender@dom"`.
/// Reads the parsed display names first, then the raw header text (for unquoted forms the
/// address parser splits into a group).
pub(crate) fn per_conto_di(headers: &[Header<'_>], raw: &[u8]) -> Option<String> {
    let header = find(headers, "From")?;
    if let HeaderValue::Address(address) = &header.value {
        let names: Vec<&str> = match address {
            Address::List(list) => list.iter().filter_map(|a| a.name.as_deref()).collect(),
            Address::Group(groups) => groups
                .iter()
                .flat_map(|g| {
                    g.name
                        .as_deref()
                        .into_iter()
                        .chain(g.addresses.iter().filter_map(|a| a.name.as_deref()))
                })
                .collect(),
        };
        if let Some(found) = names.iter().find_map(|name| after_per_conto_di(name)) {
            return Some(found);
        }
    }
    let start = usize::try_from(header.offset_start).ok()?;
    let end = usize::try_from(header.offset_end).ok()?;
    let bytes = raw.get(start..end)?;
    after_per_conto_di(&String::from_utf8_lossy(bytes))
}

fn after_per_conto_di(text: &str) -> Option<String> {
    const MARKER: &str = "per conto di:";
    let lower = text.to_ascii_lowercase();
    let at = lower.find(MARKER)?;
    let rest = text.get(at + MARKER.len()..)?.trim_start();
    let rest = rest.trim_start_matches(['"', '<', '\'']);
    let address: String = rest
        .chars()
        .take_while(|c| !c.is_whitespace() && !matches!(c, '"' | '<' | '>' | ',' | '\''))
        .collect();
    address.contains('@').then_some(address)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_conto_di_reads_quoted_and_unquoted_forms() {
        assert_eq!(
            after_per_conto_di("Per conto di: a@b.it").as_deref(),
            Some("a@b.it")
        );
        assert_eq!(
            after_per_conto_di("\"PER CONTO DI: a@b.it\" <posta-certificata@x.it>").as_deref(),
            Some("a@b.it")
        );
        assert_eq!(after_per_conto_di("Mario Rossi"), None);
    }
}
