//! Built-in PostgreSQL functions known to change neither data nor session state, and the
//! walk that decides whether a query calls only those ([`crate::calls_only_known_functions`]).

use std::ops::ControlFlow;

use sqlparser::ast::{
    BinaryOperator, DataType, Expr, Ident, ObjectName, ObjectNamePart, TableFactor, Visitor,
};

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
pub(crate) struct KnownFunctionsOnly;

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
