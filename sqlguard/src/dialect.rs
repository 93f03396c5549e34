//! [`DmDialect`]: the SQL dialect the prover tokenises and parses with.

use std::any::TypeId;

use sqlparser::dialect::{Dialect, OracleDialect, Precedence};
use sqlparser::keywords::Keyword;
use sqlparser::parser::{Parser, ParserError};

/// DM8's SQL as far as a validator needs it: Oracle's dialect (DM is largely
/// Oracle-compatible: `V$X`/`STATUS$`/`EVENT#` identifiers, `(+)` outer joins, `CONNECT BY`,
/// `/*+ hints */`), plus MySQL-style `LIMIT m, n` (DM has it), minus Oracle's `q'[…]'`
/// strings (not known to be DM syntax: reading them as strings could hide a statement).
/// `dialect()` reports OracleDialect so the parser's Oracle-specific rules apply.
#[derive(Debug, Default, Clone, Copy)]
pub struct DmDialect;

impl Dialect for DmDialect {
    fn dialect(&self) -> TypeId {
        TypeId::of::<OracleDialect>()
    }
    fn identifier_quote_style(&self, identifier: &str) -> Option<char> {
        OracleDialect.identifier_quote_style(identifier)
    }
    fn is_delimited_identifier_start(&self, ch: char) -> bool {
        OracleDialect.is_delimited_identifier_start(ch)
    }
    fn is_identifier_start(&self, ch: char) -> bool {
        OracleDialect.is_identifier_start(ch) || ch == '_'
    }
    fn is_identifier_part(&self, ch: char) -> bool {
        OracleDialect.is_identifier_part(ch)
    }
    fn is_table_factor(&self, kw: &Keyword, parser: &mut Parser<'_>) -> bool {
        OracleDialect.is_table_factor(kw, parser)
    }
    fn supports_outer_join_operator(&self) -> bool {
        OracleDialect.supports_outer_join_operator()
    }
    fn supports_connect_by(&self) -> bool {
        OracleDialect.supports_connect_by()
    }
    fn supports_execute_immediate(&self) -> bool {
        OracleDialect.supports_execute_immediate()
    }
    fn supports_match_recognize(&self) -> bool {
        OracleDialect.supports_match_recognize()
    }
    fn supports_window_function_null_treatment_arg(&self) -> bool {
        OracleDialect.supports_window_function_null_treatment_arg()
    }
    fn supports_boolean_literals(&self) -> bool {
        OracleDialect.supports_boolean_literals()
    }
    fn supports_comment_on(&self) -> bool {
        OracleDialect.supports_comment_on()
    }
    fn supports_create_table_select(&self) -> bool {
        OracleDialect.supports_create_table_select()
    }
    fn supports_set_stmt_without_operator(&self) -> bool {
        OracleDialect.supports_set_stmt_without_operator()
    }
    fn get_next_precedence(&self, parser: &Parser<'_>) -> Option<Result<u8, ParserError>> {
        OracleDialect.get_next_precedence(parser)
    }
    fn prec_value(&self, prec: Precedence) -> u8 {
        OracleDialect.prec_value(prec)
    }
    fn supports_group_by_expr(&self) -> bool {
        OracleDialect.supports_group_by_expr()
    }
    fn get_reserved_keywords_for_select_item_operator(&self) -> &[Keyword] {
        OracleDialect.get_reserved_keywords_for_select_item_operator()
    }
    fn supports_quote_delimited_string(&self) -> bool {
        false
    }
    fn supports_comment_optimizer_hint(&self) -> bool {
        OracleDialect.supports_comment_optimizer_hint()
    }
    fn supports_insert_table_alias(&self) -> bool {
        OracleDialect.supports_insert_table_alias()
    }
    fn supports_insert_table_query(&self) -> bool {
        OracleDialect.supports_insert_table_query()
    }
    fn supports_limit_comma(&self) -> bool {
        true
    }
}
