//! The read-only policy of dameng_exporter for SQL it did not write (custom metrics, site
//! plugins): one place that decides whether a request may run, used by dmexp-config (custom
//! metrics at load, `--check-config`, `--test-custom-metrics`), by the plugin host (every
//! plugin query) and by the read-only pool of dmexp-core (the PostgreSQL re-assertion).
//!
//! # The defence, layer by layer
//!
//! 1. **Tokens** ([`check_read_only`]). The text is tokenised with [`DmDialect`] and audited
//!    for everything that engines read differently, because a second statement the parser
//!    does not see but the database does is the classic way past a validator: a `;` followed
//!    by anything but comments, a `/*` inside a block comment (PostgreSQL nests comments, DM
//!    and SQLite do not), a backslash before a quote inside a string (an escape for some
//!    engines and settings, a plain character for others), dollar-quoted, `q'[…]'`,
//!    `E'…'`-style and other non-standard string literals, and bind-parameter placeholders
//!    (custom metrics have none). A single trailing `;` is accepted and removed: DBAs end
//!    statements with it.
//! 2. **Statement** ([`check_read_only`]). The text is parsed; there must be exactly one
//!    statement, it must be a query (`SELECT`, `WITH … SELECT`, set operations of those), and
//!    nothing inside it may modify data or take locks: no `INSERT`/`UPDATE`/`DELETE`/`MERGE`
//!    in a `WITH` clause (PostgreSQL's data-modifying CTEs), no `SELECT … INTO`, no
//!    `FOR UPDATE`/`FOR SHARE`.
//! 3. **Functions with lasting effects** ([`check_read_only`]). A call anywhere in the query
//!    (select list, `WHERE`, subquery, `FROM f(…)`) of a function that PostgreSQL lets
//!    through a read-only transaction although its effect outlives the query is refused,
//!    with the reason: large objects (`lo_*`), advisory locks (`pg_advisory*`,
//!    `pg_try_advisory*`), `pg_notify`, XID consumers (`txid_current`,
//!    `pg_current_xact_id`), sequences (`nextval`, `setval`), `set_config` of
//!    `transaction_read_only` / `default_transaction_read_only` (or of a name the text does
//!    not show), `dblink*`, and server administration (`pg_stat_reset*`,
//!    `pg_terminate_backend`, `pg_reload_conf`, replication slots, …). The list and the
//!    reasons are in the crate's `deny` module.
//! 4. **The read-only connection** (dmexp-core `pool`). Whatever a parser cannot see — a
//!    function with side effects called inside a view or a user function — runs on a
//!    connection made read-only for its engine: DM8 enforces `SQL_ATTR_ACCESS_MODE` in the
//!    server for every statement (verified through `V$SESSIONS.RDONLY`), SQLite has
//!    `PRAGMA query_only`, PostgreSQL `SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY`.
//!    On PostgreSQL a function can turn that session default off for the *next* query, so
//!    the pool re-runs the statement around every query [`calls_only_known_functions`] cannot
//!    clear, and after it.
//!
//! # Residual limitation (PostgreSQL only)
//!
//! Only the text is seen. A function called where the text does not show it — in a view's
//! definition, through PostgreSQL's attribute notation (`t.f` for `f(t)`), or a user-created
//! overload of a built-in's name — is neither refused by layer 3 nor seen by the pool's
//! re-assertion. A view calling `lo_create` or `pg_advisory_lock` therefore has its effect,
//! and a view that turns `default_transaction_read_only` off leaves the session read-write
//! for the next query that calls only known built-ins, which a second such view can use to
//! write. This is PostgreSQL only (the test and emulation engine): on DM8 read-only is
//! enforced by the server for every statement, whatever the statement calls.
//!
//! ```
//! assert_eq!(dmexp_sqlguard::check_read_only("SELECT STATUS$ FROM V$INSTANCE;\n").unwrap(),
//!            "SELECT STATUS$ FROM V$INSTANCE");
//! let e = dmexp_sqlguard::check_read_only("SELECT 1 FROM DUAL; DROP TABLE T").unwrap_err();
//! assert!(e.message.starts_with("more than one statement"));
//! let e = dmexp_sqlguard::check_read_only("SELECT lo_create(0)").unwrap_err();
//! assert!(e.message.starts_with("calls lo_create: large-object functions"));
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::fmt;
use std::ops::ControlFlow;

use sqlparser::ast::{Statement, Visit};
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::{Token, TokenWithSpan, Tokenizer};

mod deny;
mod dialect;
mod known;
mod statement;
mod tokens;

pub use dialect::DmDialect;

use known::KnownFunctionsOnly;
use statement::ReadOnlyCheck;
use tokens::{audit_tokens, cut_at};

/// Nesting depth the parser accepts (sqlparser's default is 50): deep enough for any
/// monitoring query, shallow enough that hostile input cannot exhaust the stack.
const RECURSION_LIMIT: usize = 64;

/// Why a request was refused, with the 1-based line/column inside the request when known.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SqlProblem {
    /// What is wrong and how to fix it.
    pub message: String,
    /// 1-based line inside the request.
    pub line: Option<usize>,
    /// 1-based column inside the request (characters).
    pub column: Option<usize>,
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

/// The message, then ` (line L, column C)` when the position is known.
impl fmt::Display for SqlProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (Some(l), Some(c)) => write!(f, "{} (line {l}, column {c})", self.message),
            (Some(l), None) => write!(f, "{} (line {l})", self.message),
            _ => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for SqlProblem {}

/// What to do when the parser cannot read a request that may be valid DM SQL.
const PARSER_FIX: &str = "only a request the exporter can prove to be one read-only query is \
     run; if this is valid DM SQL, write the part at that position in standard SQL, or create \
     a view in the database (CREATE VIEW MON.MY_METRIC AS <the query>) and use \
     request = \"SELECT * FROM MON.MY_METRIC\"";

/// Proves that `sql` is exactly one read-only query (layers 1 to 3 of the crate docs) and
/// returns the text to execute: the request itself, without a trailing `;` and surrounding
/// whitespace. Otherwise says why it is refused, with the position inside `sql` when known.
pub fn check_read_only(sql: &str) -> Result<String, SqlProblem> {
    parse_request(sql).map(|(text, _)| text)
}

/// True when `sql` passes [`check_read_only`] and every function it calls is a PostgreSQL
/// built-in known to change neither data nor session state (`COUNT`, `SUM`, `COALESCE`,
/// `UPPER`, `TO_CHAR`, `NOW`, `current_setting`, …; names unqualified or qualified with
/// `pg_catalog`, case-insensitive unless quoted). Anything else — an unknown, user or DM-only
/// function, another schema, a user-defined operator, a cast to a user-defined type, a table
/// function or table expression not known, SQL that does not parse — gives false. `CAST`,
/// `EXTRACT` and `CASE` are expressions, not calls.
///
/// The read-only pool of dmexp-core uses it on PostgreSQL to skip re-asserting read-only
/// mode around such queries. Only the text is seen: a function called inside a view,
/// through PostgreSQL's attribute notation (`t.f` for `f(t)`) or as a user-created overload
/// of a known name is not (see the crate docs, "Residual limitation").
///
/// ```
/// assert!(dmexp_sqlguard::calls_only_known_functions("SELECT COUNT(*) AS n FROM V$SESSIONS"));
/// assert!(!dmexp_sqlguard::calls_only_known_functions("SELECT my_func(1)"));
/// ```
pub fn calls_only_known_functions(sql: &str) -> bool {
    match parse_request(sql) {
        Ok((_, statement)) => statement.visit(&mut KnownFunctionsOnly).is_continue(),
        Err(_) => false,
    }
}

/// [`check_read_only`], also returning the parsed statement.
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
    let mut check = ReadOnlyCheck::default();
    if let ControlFlow::Break(problem) = statement.visit(&mut check) {
        return Err(problem);
    }
    Ok((text, statement))
}

fn not_a_query(first: &str) -> SqlProblem {
    SqlProblem::new(format!(
        "the request is {} statement; only a SELECT or WITH query is allowed (custom metrics \
         and plugins only read)",
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

#[cfg(test)]
mod tests;
