//! Proves that a custom metric's `request` is exactly one read-only query before it is run.
//!
//! Two layers, both with sqlparser (a maintained SQL parser):
//!
//! 1. **Tokens.** The text is tokenised with [`DmDialect`] and audited for everything that
//!    engines read differently, because a second statement the parser does not see but the
//!    database does is the classic way past a validator: a `;` followed by anything but
//!    comments, a `/*` inside a block comment (PostgreSQL nests comments, DM and SQLite do
//!    not), a backslash before a quote inside a string (an escape for some engines and
//!    settings, a plain character for others), dollar-quoted, `q'[…]'`, `E'…'`-style and
//!    other non-standard string literals, and bind-parameter placeholders (custom metrics
//!    have none). A single trailing `;` is accepted and removed: DBAs end statements with it.
//! 2. **Statement.** The text is parsed; there must be exactly one statement, it must be a
//!    query (`SELECT`, `WITH … SELECT`, set operations of those), and nothing inside it may
//!    modify data or take locks: no `INSERT`/`UPDATE`/`DELETE`/`MERGE` in a `WITH` clause
//!    (PostgreSQL's data-modifying CTEs), no `SELECT … INTO`, no `FOR UPDATE`/`FOR SHARE`.
//!
//! What a parser cannot see — a function with side effects such as `nextval` or a procedure
//! called from a `SELECT` — is stopped by the read-only connection the queries run on
//! (dmexp-core `pool`), the second layer of the defence. [`calls_only_known_functions`]
//! tells that layer which requests call nothing but side-effect-free PostgreSQL built-ins,
//! so it can skip re-asserting read-only mode around them.

use std::any::TypeId;
use std::ops::ControlFlow;

use sqlparser::ast::{
    BinaryOperator, DataType, Expr, Ident, ObjectName, ObjectNamePart, Query, Select, Statement,
    TableFactor, Visit, Visitor,
};
use sqlparser::dialect::{Dialect, OracleDialect, Precedence};
use sqlparser::keywords::Keyword;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::{Token, TokenWithSpan, Tokenizer, Whitespace};

/// Nesting depth the parser accepts (sqlparser's default is 50): deep enough for any
/// monitoring query, shallow enough that hostile input cannot exhaust the stack.
const RECURSION_LIMIT: usize = 64;

/// Why a request was refused, with the 1-based line/column inside the request when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SqlProblem {
    pub(crate) message: String,
    pub(crate) line: Option<usize>,
    pub(crate) column: Option<usize>,
}

impl SqlProblem {
    fn new(message: impl Into<String>) -> Self {
        SqlProblem { message: message.into(), line: None, column: None }
    }

    fn at(mut self, line: u64, column: u64) -> Self {
        if line > 0 {
            self.line = usize::try_from(line).ok();
            self.column = usize::try_from(column).ok().filter(|c| *c > 0);
        }
        self
    }

    fn at_token(self, t: &TokenWithSpan) -> Self {
        self.at(t.span.start.line, t.span.start.column)
    }
}

/// DM8's SQL as far as a validator needs it: Oracle's dialect (DM is largely
/// Oracle-compatible: `V$X`/`STATUS$`/`EVENT#` identifiers, `(+)` outer joins, `CONNECT BY`,
/// `/*+ hints */`), plus MySQL-style `LIMIT m, n` (DM has it), minus Oracle's `q'[…]'`
/// strings (not known to be DM syntax: reading them as strings could hide a statement).
/// `dialect()` reports OracleDialect so the parser's Oracle-specific rules apply.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct DmDialect;

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

/// What to do when the parser cannot read a request that may be valid DM SQL.
const PARSER_FIX: &str = "only a request the exporter can prove to be one read-only query is \
     run; if this is valid DM SQL, write the part at that position in standard SQL, or create \
     a view in the database (CREATE VIEW MON.MY_METRIC AS <the query>) and use \
     request = \"SELECT * FROM MON.MY_METRIC\"";

/// Checks `sql` and returns the text to execute: the request itself, without a trailing
/// `;` and surrounding whitespace.
pub(crate) fn check_request(sql: &str) -> Result<String, SqlProblem> {
    parse_request(sql).map(|(text, _)| text)
}

/// [`check_request`], also returning the parsed statement.
fn parse_request(sql: &str) -> Result<(String, Statement), SqlProblem> {
    // Windows line ends become \n (a lone \r is refused inside comments below); a BOM
    // pasted from an editor is dropped.
    let normalized = sql.replace("\r\n", "\n");
    let sql = normalized.trim_start_matches('\u{feff}');
    if sql.contains('\0') {
        return Err(SqlProblem::new("the request contains a NUL character; remove it"));
    }
    let dialect = DmDialect;
    let tokens = Tokenizer::new(&dialect, sql).tokenize_with_location().map_err(|e| {
        SqlProblem::new(format!("the SQL cannot be read: {}", e.message))
            .at(e.location.line, e.location.column)
    })?;
    let end = audit_tokens(&tokens)?;
    let first = first_keyword(&tokens);
    if !matches!(first.as_str(), "SELECT" | "WITH" | "(") {
        return Err(not_a_query(&first));
    }
    let text = match end {
        Some(semicolon) => cut_at(sql, &tokens[semicolon]),
        None => sql,
    }
    .trim()
    .to_owned();
    let statements = Parser::new(&dialect)
        .with_recursion_limit(RECURSION_LIMIT)
        .try_with_sql(&text)
        .and_then(|mut p| p.parse_statements())
        .map_err(|e| parse_problem(&e))?;
    let [statement] = <[Statement; 1]>::try_from(statements).map_err(|statements| {
        SqlProblem::new(format!(
            "the request holds {} statements; give exactly one SELECT or WITH query",
            statements.len()
        ))
    })?;
    let Statement::Query(_) = statement else {
        return Err(not_a_query(&first));
    };
    let mut check = ReadOnlyCheck { statements: 0 };
    if let ControlFlow::Break(problem) = statement.visit(&mut check) {
        return Err(problem);
    }
    Ok((text, statement))
}

fn not_a_query(first: &str) -> SqlProblem {
    SqlProblem::new(format!(
        "the request is {} statement; only a SELECT or WITH query is allowed (custom metrics \
         only read)",
        article(first)
    ))
}

/// "a DELETE", "an INSERT", "an empty".
fn article(word: &str) -> String {
    let an = word.starts_with(['A', 'E', 'I', 'O', 'U']);
    format!("{} {word}", if an { "an" } else { "a" })
}

/// The first word of the request, upper-cased (for messages).
fn first_keyword(tokens: &[TokenWithSpan]) -> String {
    tokens
        .iter()
        .find(|t| !matches!(t.token, Token::Whitespace(_)))
        .map_or_else(|| "empty".to_owned(), |t| t.token.to_string().to_uppercase())
}

fn parse_problem(e: &ParserError) -> SqlProblem {
    let raw = match e {
        ParserError::TokenizerError(m) | ParserError::ParserError(m) => m.clone(),
        ParserError::RecursionLimitExceeded => {
            return SqlProblem::new(format!(
                "the request nests deeper than {RECURSION_LIMIT} levels; simplify it or put it \
                 in a view"
            ))
        }
    };
    // sqlparser appends " at Line: L, Column: C"; keep the position apart.
    let (message, pos) = match raw.rsplit_once(" at Line: ") {
        Some((m, p)) => (m.to_owned(), Some(p.to_owned())),
        None => (raw, None),
    };
    let mut problem = SqlProblem::new(format!(
        "the SQL parser cannot read the request ({message}); {PARSER_FIX}"
    ));
    if let Some((l, c)) = pos.as_deref().and_then(|p| p.split_once(", Column: ")) {
        if let (Ok(l), Ok(c)) = (l.trim().parse::<u64>(), c.trim().parse::<u64>()) {
            problem = problem.at(l, c);
        }
    }
    problem
}

/// The text before `token` (a `;`), found through the token's line and column.
fn cut_at<'a>(sql: &'a str, token: &TokenWithSpan) -> &'a str {
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
fn audit_tokens(tokens: &[TokenWithSpan]) -> Result<Option<usize>, SqlProblem> {
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

/// Walks the parsed query: any nested statement, row lock or `SELECT … INTO` is refused.
struct ReadOnlyCheck {
    statements: usize,
}

impl Visitor for ReadOnlyCheck {
    type Break = SqlProblem;

    fn pre_visit_statement(&mut self, statement: &Statement) -> ControlFlow<SqlProblem> {
        self.statements += 1;
        if self.statements > 1 {
            let what = statement.to_string();
            let what = what.split_whitespace().next().unwrap_or("a").to_uppercase();
            return ControlFlow::Break(SqlProblem::new(format!(
                "the query contains {} statement (a data-modifying WITH clause or subquery); \
                 custom metrics only read",
                article(&what)
            )));
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<SqlProblem> {
        if let Some(lock) = query.locks.first() {
            return ControlFlow::Break(SqlProblem::new(format!(
                "`{lock}` locks rows; remove it (a monitoring query must not lock)"
            )));
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_select(&mut self, select: &Select) -> ControlFlow<SqlProblem> {
        if select.into.is_some() {
            return ControlFlow::Break(SqlProblem::new(
                "SELECT … INTO writes its result into a table or variable; remove the INTO clause",
            ));
        }
        ControlFlow::Continue(())
    }
}

/// Built-in functions of PostgreSQL (in `pg_catalog` since at least PostgreSQL 12) that
/// neither change data nor session state, by lower-case name: the only function calls after
/// which a read-only PostgreSQL connection is still known to be read-only. The read-only
/// re-assertion exists only on PostgreSQL (DM8 enforces read-only on the server), so DM- or
/// Oracle-only names (`NVL`, `DECODE` with DM's arguments, `DATEDIFF`, `PAGE`) are absent on
/// purpose: on PostgreSQL a function of that name is one somebody created, and can do anything.
const KNOWN_FUNCTIONS: &[&str] = &[
    // aggregates
    "array_agg",
    "avg",
    "bit_and",
    "bit_or",
    "bool_and",
    "bool_or",
    "corr",
    "count",
    "covar_pop",
    "covar_samp",
    "every",
    "max",
    "min",
    "mode",
    "percentile_cont",
    "percentile_disc",
    "stddev",
    "stddev_pop",
    "stddev_samp",
    "string_agg",
    "sum",
    "var_pop",
    "var_samp",
    "variance",
    // window functions
    "cume_dist",
    "dense_rank",
    "first_value",
    "lag",
    "last_value",
    "lead",
    "nth_value",
    "ntile",
    "percent_rank",
    "rank",
    "row_number",
    // conditional
    "coalesce",
    "greatest",
    "least",
    "nullif",
    // text
    "ascii",
    "bit_length",
    "btrim",
    "char_length",
    "character_length",
    "chr",
    "concat",
    "concat_ws",
    "format",
    "initcap",
    "left",
    "length",
    "lower",
    "lpad",
    "ltrim",
    "md5",
    "octet_length",
    "position",
    "quote_ident",
    "quote_literal",
    "regexp_match",
    "regexp_replace",
    "repeat",
    "replace",
    "reverse",
    "right",
    "rpad",
    "rtrim",
    "split_part",
    "strpos",
    "substr",
    "substring",
    "to_hex",
    "translate",
    "trim",
    "upper",
    // numbers
    "abs",
    "cbrt",
    "ceil",
    "ceiling",
    "degrees",
    "div",
    "exp",
    "floor",
    "ln",
    "log",
    "mod",
    "pi",
    "power",
    "radians",
    "round",
    "sign",
    "sqrt",
    "trunc",
    "width_bucket",
    // formatting and conversion
    "to_char",
    "to_date",
    "to_number",
    "to_timestamp",
    // date and time
    "age",
    "clock_timestamp",
    "current_date",
    "current_time",
    "current_timestamp",
    "date_part",
    "date_trunc",
    "extract",
    "localtime",
    "localtimestamp",
    "now",
    "statement_timestamp",
    "transaction_timestamp",
    // session and server information (reads only)
    "current_database",
    "current_schema",
    "current_setting",
    "current_user",
    "pg_backend_pid",
    "pg_conf_load_time",
    "pg_is_in_recovery",
    "pg_postmaster_start_time",
    "session_user",
    "version",
    // sizes and WAL positions (reads only)
    "pg_current_wal_lsn",
    "pg_database_size",
    "pg_indexes_size",
    "pg_last_wal_receive_lsn",
    "pg_last_wal_replay_lsn",
    "pg_last_xact_replay_timestamp",
    "pg_relation_size",
    "pg_size_pretty",
    "pg_table_size",
    "pg_total_relation_size",
    "pg_wal_lsn_diff",
    // set-returning
    "generate_series",
    "unnest",
];

/// True when `sql` passes [`check_request`] and every function it calls is a PostgreSQL
/// built-in known to change neither data nor session state ([`KNOWN_FUNCTIONS`]; names
/// unqualified or qualified with `pg_catalog`, case-insensitive unless quoted). Anything
/// else — an unknown or user function, another schema, a user-defined operator, a cast to a
/// user-defined type, a table function or table expression not known, SQL that does not
/// parse — gives false.
///
/// Only the text is seen: a function called inside a view, through PostgreSQL's attribute
/// notation (`t.f` for `f(t)`) or as a user-created overload of a known name is not.
pub(crate) fn calls_only_known_functions(sql: &str) -> bool {
    match parse_request(sql) {
        Ok((_, statement)) => statement.visit(&mut KnownFunctionsOnly).is_continue(),
        Err(_) => false,
    }
}

/// Whether an unqualified function name is in [`KNOWN_FUNCTIONS`]. A quoted name is taken
/// literally (PostgreSQL's built-ins are lower case: `"COUNT"` is somebody's function).
fn is_known_function(name: &Ident) -> bool {
    let lower = name.value.to_ascii_lowercase();
    if name.quote_style.is_some() && lower != name.value {
        return false;
    }
    KNOWN_FUNCTIONS.contains(&lower.as_str())
}

/// Whether a (possibly `pg_catalog`-qualified) function name is known.
fn is_known_function_name(name: &ObjectName) -> bool {
    fn ident(part: &ObjectNamePart) -> Option<&Ident> {
        match part {
            ObjectNamePart::Identifier(i) => Some(i),
            ObjectNamePart::Function(_) => None,
        }
    }
    match name.0.as_slice() {
        [f] => ident(f).is_some_and(is_known_function),
        [schema, f] => {
            ident(schema).is_some_and(|s| {
                s.value.eq_ignore_ascii_case("pg_catalog")
                    && (s.quote_style.is_none() || s.value == "pg_catalog")
            }) && ident(f).is_some_and(is_known_function)
        }
        _ => false,
    }
}

/// A type that may come with user code (input or cast functions): any not built into the
/// parser's type model.
fn is_user_type(data_type: &DataType) -> bool {
    matches!(data_type, DataType::Custom(..))
}

/// Stops at the first function call, operator, cast or table factor not known to be free of
/// side effects.
struct KnownFunctionsOnly;

impl Visitor for KnownFunctionsOnly {
    type Break = ();

    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
        let known = match expr {
            Expr::Function(f) => is_known_function_name(&f.name),
            Expr::BinaryOp { op, .. } => {
                !matches!(op, BinaryOperator::Custom(_) | BinaryOperator::PGCustomBinaryOperator(_))
            }
            Expr::Cast { data_type, .. } => !is_user_type(data_type),
            Expr::Convert { data_type, .. } => !data_type.as_ref().is_some_and(is_user_type),
            Expr::TypedString(t) => !is_user_type(&t.data_type),
            _ => true,
        };
        if known {
            ControlFlow::Continue(())
        } else {
            ControlFlow::Break(())
        }
    }

    fn pre_visit_table_factor(&mut self, table_factor: &TableFactor) -> ControlFlow<()> {
        let known = match table_factor {
            TableFactor::Table { name, args, sample, .. } => {
                sample.is_none() && (args.is_none() || is_known_function_name(name))
            }
            TableFactor::Function { name, .. } => is_known_function_name(name),
            TableFactor::Derived { sample, .. } => sample.is_none(),
            TableFactor::NestedJoin { .. } | TableFactor::UNNEST { .. } => true,
            _ => false,
        };
        if known {
            ControlFlow::Continue(())
        } else {
            ControlFlow::Break(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(sql: &str) -> String {
        check_request(sql).unwrap_or_else(|e| panic!("{sql:?} refused: {e:?}"))
    }

    fn err(sql: &str) -> SqlProblem {
        match check_request(sql) {
            Ok(t) => panic!("{sql:?} accepted as {t:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn dm_queries_are_accepted() {
        for q in [
            "SELECT STATUS$, MODE$ FROM V$INSTANCE",
            "SELECT /*+DM_EXPORTER*/ STATUS$ FROM SYS.V$INSTANCE",
            "select count(*) from v$sessions where state = 'ACTIVE'",
            "SELECT TOP 10 SESS_ID FROM V$SESSIONS",
            "SELECT * FROM V$SESSIONS LIMIT 10",
            "SELECT * FROM V$SESSIONS LIMIT 5, 10",
            "SELECT * FROM V$SESSIONS LIMIT 10 OFFSET 5",
            "SELECT * FROM V$SESSIONS WHERE ROWNUM <= 10",
            "SELECT TO_CHAR(SYSDATE, 'YYYY-MM-DD') FROM DUAL",
            "SELECT DATEDIFF(SQL_TSI_DAY, START_TIME, SYSDATE) FROM V$INSTANCE",
            "SELECT NVL(a, 0), DECODE(b, 1, 'x', 'y') FROM t",
            "SELECT a.x FROM a, b WHERE a.id = b.id(+)",
            "SELECT \"EVENT#\", EVENT# FROM V$SYSTEM_EVENT",
            "WITH x AS (SELECT 1 AS a FROM DUAL) SELECT a FROM x",
            "SELECT NAME, TO_CHAR(TOTAL_SIZE*PAGE()/1024/1024) AS total_size_mb FROM SYS.V$TABLESPACE",
            "SELECT LEVEL FROM DUAL CONNECT BY LEVEL <= 3",
            "SELECT SF_GET_SESSION_SQL(SESS_ID) FROM V$SESSIONS",
            "SELECT 区域, SUM(金额) AS 总额 FROM 销售明细 GROUP BY 区域",
            "SELECT a || b FROM t",
            "SELECT x FROM t MINUS SELECT x FROM u",
            "SELECT x FROM t UNION ALL SELECT y FROM u",
            "SELECT x FROM t FETCH FIRST 10 ROWS ONLY",
            "SELECT CASE WHEN STATUS$ = 'OPEN' THEN 1 ELSE 0 END status FROM V$INSTANCE",
            "SELECT x FROM t WHERE d > SYSDATE - 1/24",
            "SELECT x FROM t WHERE d > DATE '2026-01-01'",
            "SELECT 'C:\\dm\\bak\\' AS p FROM DUAL",
            "SELECT 'it''s; not -- a /* comment' AS s FROM DUAL",
            "SELECT 1 FROM DUAL -- a comment; with a semicolon",
            "(SELECT 1 AS one FROM DUAL)",
            "SELECT (SELECT COUNT(*) FROM V$TRXWAIT) AS waits FROM DUAL",
        ] {
            ok(q);
        }
    }

    #[test]
    fn trailing_semicolon_is_removed() {
        assert_eq!(ok("SELECT 1 FROM DUAL;"), "SELECT 1 FROM DUAL");
        assert_eq!(ok("  SELECT 1 FROM DUAL ;  -- done\n"), "SELECT 1 FROM DUAL");
        assert_eq!(ok("SELECT '中;文' AS x FROM DUAL;\n"), "SELECT '中;文' AS x FROM DUAL");
        assert_eq!(ok("SELECT 1\nFROM DUAL\n;\n/* end */"), "SELECT 1\nFROM DUAL");
        assert_eq!(ok("SELECT 1 -- c\r\nFROM DUAL;\r\n"), "SELECT 1 -- c\nFROM DUAL");
        assert_eq!(ok("\u{feff}SELECT 1 FROM DUAL"), "SELECT 1 FROM DUAL");
    }

    #[test]
    fn malicious_and_wrong_requests_are_refused() {
        let cases: &[(&str, &str)] = &[
            ("SELECT 1 FROM DUAL; DELETE FROM t", "more than one statement"),
            ("SELECT 1 FROM DUAL;; ", "more than one statement"),
            ("SELECT 1 FROM DUAL; -- x\n DROP TABLE t", "more than one statement"),
            ("SELECT 1 FROM DUAL /* ; */; UPDATE t SET a = 1", "more than one statement"),
            ("SELECT 1 FROM DUAL --\n; DELETE FROM t", "more than one statement"),
            ("SELECT 'a'';' FROM DUAL; TRUNCATE TABLE t", "more than one statement"),
            ("SELECT 'x\\'; DELETE FROM t; --' FROM DUAL", "more than one statement"),
            ("SELECT 'x\\''; DELETE FROM t; --' AS a FROM DUAL", "backslash before a quote"),
            ("/* /* */ SELECT 1 AS x, '*/ DELETE FROM t --' AS y FROM DUAL", "nested comments"),
            ("SELECT $$; DELETE FROM t; $$ AS x FROM DUAL", "dollar-quoted"),
            ("SELECT $tag$; DELETE FROM t; $tag$ AS x FROM DUAL", "dollar-quoted"),
            ("SELECT q'[ ' ; DELETE FROM t; -- ]' AS x FROM DUAL", "more than one statement"),
            ("SELECT x FROM t WHERE y = ?", "bind parameter"),
            ("SELECT x FROM t WHERE y = $1", "bind parameter"),
            ("DELETE FROM t", "is a DELETE statement"),
            ("delete from t where 1 = 1", "is a DELETE statement"),
            ("UPDATE t SET a = 1", "is an UPDATE statement"),
            ("INSERT INTO t VALUES (1)", "is an INSERT statement"),
            ("DROP TABLE t", "is a DROP statement"),
            ("TRUNCATE TABLE t", "is a TRUNCATE statement"),
            (
                "MERGE INTO t USING u ON (t.a = u.a) WHEN MATCHED THEN UPDATE SET t.b = u.b",
                "is a MERGE statement",
            ),
            ("CALL SP_SET_PARA_VALUE(1, 'X', 1)", "is a CALL statement"),
            ("EXEC SP_SET_PARA_VALUE(1, 'X', 1)", "is an EXEC statement"),
            ("EXECUTE IMMEDIATE 'DROP TABLE t'", "is an EXECUTE statement"),
            ("GRANT DBA TO u", "is a GRANT statement"),
            ("CREATE TABLE t (a INT)", "is a CREATE statement"),
            ("ALTER SYSTEM SWITCH LOGFILE", "is an ALTER statement"),
            ("BEGIN DELETE FROM t; END;", "more than one statement"),
            (
                "WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d",
                "contains a DELETE statement",
            ),
            (
                "WITH d AS (INSERT INTO t VALUES (1) RETURNING a) SELECT a FROM d",
                "contains an INSERT statement",
            ),
            (
                "WITH d AS (UPDATE t SET a = 1 RETURNING a) SELECT a FROM d",
                "contains an UPDATE statement",
            ),
            ("SELECT a INTO b FROM t", "INTO"),
            ("SELECT a FROM t FOR UPDATE", "FOR UPDATE"),
            ("SELECT a FROM t FOR UPDATE NOWAIT", "FOR UPDATE"),
            ("SELECT a FROM t FOR SHARE", "FOR SHARE"),
            ("SELECT * FROM (SELECT a FROM t FOR UPDATE) s", "FOR UPDATE"),
            ("", "empty"),
            ("  -- just a comment\n", "empty"),
            (";", "starts with `;`"),
            ("SELECT 'unterminated FROM DUAL", "cannot be read"),
            ("SELECT FROM WHERE", "cannot read the request"),
            ("SELECT 1\0 FROM DUAL", "NUL"),
            ("SELECT E'\\'; DELETE FROM t; --' AS x", "more than one statement"),
            ("SELECT 1 AS x FROM DUAL -- c\r; DELETE FROM t", "carriage return"),
            ("SELECT 1 AS x FROM DUAL -- c\u{2028}; DELETE FROM t", "carriage return"),
            ("SELECT 1 AS x FROM DUAL -- c\u{c}; DELETE FROM t", "carriage return"),
            ("SELECT \"a\\\"; DELETE FROM t; --\" FROM DUAL", "more than one statement"),
            ("WITH x AS (SELECT 1 AS a FROM DUAL) DELETE FROM t", "contains a DELETE statement"),
            (
                "WITH x AS (SELECT 1 AS a FROM DUAL) INSERT INTO t SELECT a FROM x",
                "contains an INSERT",
            ),
            ("WITH x AS (SELECT 1 AS a FROM DUAL) UPDATE t SET a = 1", "contains an UPDATE"),
            ("SELECT * FROM (DELETE FROM t RETURNING *) s", "contains a DELETE statement"),
            (
                "SELECT (WITH d AS (DELETE FROM t RETURNING 1) SELECT 1) FROM DUAL",
                "contains a DELETE",
            ),
            ("(DELETE FROM t)", "contains a DELETE statement"),
            ("SELECT [a;DELETE FROM t;--] FROM DUAL", "more than one statement"),
            ("SELECT `a;b` FROM DUAL", "more than one statement"),
            ("SELECT 1 FROM DUAL；DELETE FROM t", "cannot read"),
            ("SELECT 1 FROM DUAL\n/", "cannot read"),
            ("TABLE t", "is a TABLE statement"),
            ("VALUES (1)", "is a VALUES statement"),
            ("SELECT x FROM t FOR NO KEY UPDATE", "cannot read"),
        ];
        for (sql, want) in cases {
            let e = err(sql);
            assert!(e.message.contains(want), "{sql:?}: {:?} does not say {want:?}", e.message);
        }
    }

    #[test]
    fn positions_point_into_the_request() {
        let e = err("SELECT 1\nFROM DUAL;\nDELETE FROM t");
        assert_eq!((e.line, e.column), (Some(2), Some(10)));
        let e = err("SELECT a,\n  FROM t");
        assert_eq!(e.line, Some(2));
        assert!(e.message.contains("CREATE VIEW"), "{}", e.message);
    }

    #[test]
    fn known_functions_only() {
        for q in [
            "SELECT COUNT(*) AS n FROM V$SESSIONS GROUP BY STATE",
            "SELECT STATE AS state, COUNT(*) AS sessions FROM V$SESSIONS GROUP BY STATE",
            "SELECT upper(name), coalesce(x,0) FROM t",
            "SELECT CAST(ID AS VARCHAR(10)) AS pool_id, NAME AS pool FROM V$BUFFERPOOL",
            "SELECT STATUS$, MODE$ FROM V$INSTANCE",
            "SELECT 1 AS x FROM DUAL;",
            "SELECT CASE WHEN current_setting('transaction_read_only') = 'on' THEN 1 ELSE 0 END AS f",
            "SELECT EXTRACT(EPOCH FROM now() - pg_postmaster_start_time()) AS up",
            "SELECT pg_catalog.count(*) AS n FROM t",
            "SELECT \"count\"(*) AS n FROM t",
            "SELECT Sum(a), MAX(b), avg(c), stddev(d) FROM t HAVING MIN(a) > 0",
            "SELECT TRIM(name), SUBSTRING(name FROM 1 FOR 3), ROUND(x, 2) FROM t",
            "SELECT to_char(CURRENT_TIMESTAMP, 'YYYY') AS y",
            "SELECT row_number() OVER (PARTITION BY a ORDER BY b) AS r FROM t",
            "SELECT (SELECT COUNT(*) FROM V$TRXWAIT) AS waits FROM DUAL",
            "WITH x AS (SELECT lower(a) AS a FROM t) SELECT COUNT(a) FROM x",
            "SELECT g FROM generate_series(1, 3) AS g",
            "SELECT a FROM t WHERE EXISTS (SELECT 1 FROM u WHERE length(u.b) > 2)",
            "SELECT x FROM t UNION ALL SELECT greatest(y, 0) FROM u",
            "SELECT x FROM t WHERE d > DATE '2026-01-01'",
        ] {
            assert!(calls_only_known_functions(q), "{q}");
        }
        for q in [
            "SELECT nextval('s')",
            "SELECT set_config('a','b',false)",
            "SELECT my_func(1)",
            "SELECT CASE WHEN set_config('default_transaction_read_only', 'off', false) = 'off' THEN 1 ELSE 0 END AS done",
            // nested anywhere
            "SELECT upper(my_func(x)) FROM t",
            "SELECT CASE WHEN x = 1 THEN my_func(x) ELSE 0 END AS v FROM t",
            "SELECT CASE my_func(x) WHEN 1 THEN 1 END AS v FROM t",
            "SELECT (SELECT COUNT(*) FROM u WHERE set_config('a','b',false) = 'b') AS v FROM t",
            "SELECT * FROM (SELECT nextval('s') AS v) s",
            "WITH a AS (SELECT f() AS v) SELECT COUNT(v) FROM a",
            "SELECT a FROM t WHERE EXISTS (SELECT 1 FROM u WHERE f(u.b) > 2)",
            "SELECT a FROM t WHERE a IN (SELECT f(b) FROM u)",
            "SELECT a FROM t JOIN u ON f(t.a) = u.a",
            "SELECT a FROM t ORDER BY f(a)",
            "SELECT a, COUNT(*) FROM t GROUP BY a HAVING f(a) > 0",
            "SELECT x FROM t UNION ALL SELECT f(y) FROM u",
            "SELECT COUNT(*) FILTER (WHERE f(a) > 0) AS n FROM t",
            "SELECT CAST(f(a) AS INTEGER) AS n FROM t",
            // qualified, quoted or DM-only names
            "SELECT public.count(x) FROM t",
            "SELECT SYS.COUNT(x) FROM t",
            "SELECT a.b.count(x) FROM t",
            "SELECT \"COUNT\"(*) AS n FROM t",
            "SELECT NVL(a, 0) FROM t",
            "SELECT DATEDIFF(SQL_TSI_DAY, START_TIME, SYSDATE) FROM V$INSTANCE",
            "SELECT NAME, TO_CHAR(TOTAL_SIZE*PAGE()/1024/1024) AS mb FROM SYS.V$TABLESPACE",
            // table functions, user types
            "SELECT 1 AS x FROM pg_sleep(4)",
            "SELECT * FROM my_srf(1)",
            "SELECT CAST(a AS my_type) FROM t",
            // refused or unparseable
            "SELECT FROM WHERE",
            "",
            "DELETE FROM t",
            "SELECT 1 FROM DUAL; SELECT set_config('a','b',false)",
            "SELECT $$x$$ AS x",
            "/* /* */ SELECT 1 AS x, '*/ SELECT set_config(''a'',''b'',false) --' AS y FROM DUAL",
            "SELECT 'unterminated",
        ] {
            assert!(!calls_only_known_functions(q), "{q}");
        }
    }

    #[test]
    fn deep_nesting_is_refused_without_overflow() {
        let deep = format!("SELECT {}1{} FROM DUAL", "(".repeat(5000), ")".repeat(5000));
        assert!(err(&deep).message.contains("nests deeper"));
    }
}
