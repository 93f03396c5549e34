//! The token audit: everything engines read differently, refused before parsing.

use sqlparser::tokenizer::{Token, TokenWithSpan, Whitespace};

use crate::SqlProblem;

/// The text before `token` (a `;`), found through the token's line and column.
pub(crate) fn cut_at<'a>(sql: &'a str, token: &TokenWithSpan) -> &'a str {
    let (line, column) = (token.span.start.line, token.span.start.column);
    let mut offset = 0usize;
    for (i, l) in sql.split_inclusive('\n').enumerate() {
        if (i as u64) + 1 == line {
            let col = usize::try_from(column.saturating_sub(1)).unwrap_or(usize::MAX);
            let within = l.char_indices().nth(col).map_or(l.len(), |(b, _)| b);
            return &sql[..offset + within];
        }
        offset += l.len();
    }
    sql
}

/// Characters some engines end a `--` comment at, besides `\n`.
const LINE_BREAKS: &[char] = &['\r', '\u{b}', '\u{c}', '\u{85}', '\u{2028}', '\u{2029}'];

/// Audits the tokens; returns the index of a trailing `;` when there is one.
pub(crate) fn audit_tokens(tokens: &[TokenWithSpan]) -> Result<Option<usize>, SqlProblem> {
    let mut semicolon: Option<usize> = None;
    let mut significant = false;
    for (i, t) in tokens.iter().enumerate() {
        let code = !matches!(t.token, Token::Whitespace(_) | Token::EOF);
        if let (true, Some(s)) = (code, semicolon) {
            return Err(SqlProblem::new(
                "more than one statement: something follows the `;`; give exactly one SELECT \
                 or WITH query (one trailing `;` is fine)",
            )
            .at_token(&tokens[s]));
        }
        match &t.token {
            Token::SemiColon => {
                if !significant {
                    return Err(SqlProblem::new(
                        "the request starts with `;`; give exactly one SELECT or WITH query",
                    )
                    .at_token(t));
                }
                semicolon = Some(i);
            }
            Token::Whitespace(Whitespace::SingleLineComment { comment, .. })
                if comment.trim_end_matches('\n').contains(LINE_BREAKS) =>
            {
                return Err(SqlProblem::new(
                    "a -- comment contains a carriage return, form feed or Unicode line \
                     separator, which some engines read as the end of the comment (so text \
                     could be a comment for this check and SQL for the database); remove it",
                )
                .at_token(t));
            }
            Token::Whitespace(Whitespace::MultiLineComment(c)) if c.contains("/*") => {
                return Err(SqlProblem::new(
                    "a `/*` inside a /* … */ comment: engines disagree on nested comments (so \
                     text could be a comment for this check and SQL for the database); remove \
                     the inner `/*`",
                )
                .at_token(t));
            }
            Token::SingleQuotedString(s) | Token::NationalStringLiteral(s) if s.contains("\\'") => {
                return Err(SqlProblem::new(
                    "a backslash before a quote inside a string literal: some engines read \\' \
                     as an escaped quote and others do not; write a quote inside a string as ''",
                )
                .at_token(t));
            }
            Token::Placeholder(p) => {
                return Err(SqlProblem::new(format!(
                    "bind parameter `{p}`: custom metric requests run without parameters; put \
                     the value into the SQL"
                ))
                .at_token(t));
            }
            other => {
                if let Some(kind) = unusual_literal(other) {
                    return Err(SqlProblem::new(format!(
                        "{kind} are not accepted (engines read them differently); use a standard \
                         '…' string"
                    ))
                    .at_token(t));
                }
            }
        }
        significant |= code;
    }
    if !significant {
        return Err(SqlProblem::new(
            "the request is empty (or only comments); give one SELECT or WITH query",
        ));
    }
    Ok(semicolon)
}

/// Non-standard literals, named for the message; `None` for anything else.
fn unusual_literal(t: &Token) -> Option<&'static str> {
    Some(match t {
        Token::DollarQuotedString(_) => "dollar-quoted strings ($$…$$)",
        Token::TripleSingleQuotedString(_)
        | Token::TripleDoubleQuotedString(_)
        | Token::TripleSingleQuotedByteStringLiteral(_)
        | Token::TripleDoubleQuotedByteStringLiteral(_)
        | Token::TripleSingleQuotedRawStringLiteral(_)
        | Token::TripleDoubleQuotedRawStringLiteral(_) => "triple-quoted strings",
        Token::SingleQuotedByteStringLiteral(_) | Token::DoubleQuotedByteStringLiteral(_) => {
            "byte-string literals (b'…')"
        }
        Token::SingleQuotedRawStringLiteral(_) | Token::DoubleQuotedRawStringLiteral(_) => {
            "raw-string literals (r'…')"
        }
        Token::QuoteDelimitedStringLiteral(_) | Token::NationalQuoteDelimitedStringLiteral(_) => {
            "quote-delimited strings (q'[…]')"
        }
        Token::EscapedStringLiteral(_) => "escape-string literals (E'…')",
        Token::UnicodeStringLiteral(_) => "unicode-escape strings (U&'…')",
        Token::DoubleQuotedString(_) => "double-quoted strings",
        _ => return None,
    })
}
