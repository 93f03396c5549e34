//! Functions refused anywhere in a request (layer 3 of the crate docs): calls whose effect
//! outlives the query although PostgreSQL allows them in a read-only transaction (RELIABILITY
//! finding L13), or that reach outside the read-only connection.
//!
//! Names are matched on the last part of the called name, lower-cased, whatever the schema
//! or quoting (`pg_catalog.LO_CREATE`, `"lo_create"`, `public.lo_create` are all refused: a
//! refused look-alike is on the safe side). None of these names is a DM8 built-in.

use sqlparser::ast::{
    Expr, FunctionArg, FunctionArgExpr, FunctionArguments, Ident, ObjectName, ObjectNamePart, Value,
};

/// One class of refused functions: exact names, name prefixes, and the reason shown.
struct Class {
    names: &'static [&'static str],
    prefixes: &'static [&'static str],
    reason: &'static str,
}

/// The deny list. `set_config` is decided apart ([`set_config_problem`]): only the read-only
/// settings (or a name the text does not show) are refused.
const CLASSES: &[Class] = &[
    Class {
        names: &["loread", "lowrite"],
        prefixes: &["lo_"],
        reason: "large-object functions create, change, export or read large objects, and \
                 PostgreSQL lets them change data even in a read-only transaction",
    },
    Class {
        names: &[],
        prefixes: &["pg_advisory", "pg_try_advisory"],
        reason: "an advisory lock can outlive the query (a session lock stays with the pooled \
                 connection), and PostgreSQL allows it in a read-only transaction",
    },
    Class {
        names: &["pg_notify"],
        prefixes: &[],
        reason: "it sends a notification to other sessions, which PostgreSQL allows in a \
                 read-only transaction",
    },
    Class {
        names: &["txid_current", "pg_current_xact_id"],
        prefixes: &[],
        reason: "it assigns a transaction ID (consumed for good, towards wraparound), which \
                 PostgreSQL allows in a read-only transaction",
    },
    Class {
        names: &["nextval", "setval"],
        prefixes: &[],
        reason: "it changes a sequence, and a sequence change is never rolled back",
    },
    Class {
        names: &[],
        prefixes: &["dblink"],
        reason: "it runs SQL over another connection, outside this connection's read-only mode",
    },
    Class {
        names: &[
            "pg_cancel_backend",
            "pg_terminate_backend",
            "pg_reload_conf",
            "pg_rotate_logfile",
            "pg_switch_wal",
            "pg_switch_xlog",
            "pg_create_restore_point",
            "pg_promote",
            "pg_wal_replay_pause",
            "pg_wal_replay_resume",
            "pg_backup_start",
            "pg_backup_stop",
            "pg_start_backup",
            "pg_stop_backup",
            "pg_create_physical_replication_slot",
            "pg_create_logical_replication_slot",
            "pg_drop_replication_slot",
            "pg_copy_physical_replication_slot",
            "pg_copy_logical_replication_slot",
            "pg_replication_slot_advance",
            "pg_logical_emit_message",
        ],
        prefixes: &[
            "pg_stat_reset",
            "pg_stat_statements_reset",
            "pg_replication_origin_",
            "pg_file_",
        ],
        reason: "it changes server state beyond the query (other sessions, statistics, WAL, \
                 replication, configuration or server files)",
    },
];

/// Settings whose change can take a session out of read-only mode.
const READ_ONLY_SETTINGS: &[&str] = &["transaction_read_only", "default_transaction_read_only"];

/// The last identifier of a called name (`pg_catalog.lo_create` → `lo_create`).
pub(crate) fn last_ident(name: &ObjectName) -> Option<&Ident> {
    match name.0.last() {
        Some(ObjectNamePart::Identifier(i)) => Some(i),
        _ => None,
    }
}

/// Why a call of `name` with `args` is refused, if it is: `calls NAME: REASON; …`.
pub(crate) fn problem(name: &Ident, args: &[FunctionArg]) -> Option<String> {
    let lower = name.value.to_ascii_lowercase();
    let reason = if lower == "set_config" {
        set_config_problem(args)?
    } else {
        CLASSES
            .iter()
            .find(|c| {
                c.names.contains(&lower.as_str()) || c.prefixes.iter().any(|p| lower.starts_with(p))
            })?
            .reason
    };
    Some(format!(
        "calls {lower}: {reason}; custom metrics and plugins only read, so the request is refused \
         (remove the call)"
    ))
}

/// `set_config(name, …)` is refused when `name` is a read-only setting, or not a string
/// literal (the text does not show which setting it changes).
fn set_config_problem(args: &[FunctionArg]) -> Option<&'static str> {
    let first = match args.first() {
        Some(FunctionArg::Unnamed(FunctionArgExpr::Expr(e))) => Some(e),
        _ => None,
    };
    match first {
        Some(Expr::Value(v)) => match &v.value {
            Value::SingleQuotedString(s)
                if !READ_ONLY_SETTINGS.contains(&s.trim().to_ascii_lowercase().as_str()) =>
            {
                None
            }
            Value::SingleQuotedString(_) => Some(
                "it switches the session out of read-only mode (transaction_read_only, \
                 default_transaction_read_only)",
            ),
            _ => Some(SET_CONFIG_UNSEEN),
        },
        _ => Some(SET_CONFIG_UNSEEN),
    }
}

const SET_CONFIG_UNSEEN: &str = "the setting it changes is not a string literal, so it may be \
     transaction_read_only or default_transaction_read_only (which switch the session out of \
     read-only mode); name the setting as a literal";

/// The plain argument list of a function call (empty for `CURRENT_TIMESTAMP`-style calls
/// and subquery arguments, which the walk visits on its own).
pub(crate) fn call_args(args: &FunctionArguments) -> &[FunctionArg] {
    match args {
        FunctionArguments::List(l) => &l.args,
        FunctionArguments::None | FunctionArguments::Subquery(_) => &[],
    }
}
