//! The walk over the parsed query (layers 2 and 3 of the crate docs): nested statements, row
//! locks, `SELECT … INTO` and calls of refused functions ([`crate::deny`]).

use std::ops::ControlFlow;

use sqlparser::ast::{Expr, ObjectName, Query, Select, Statement, TableFactor, Visitor};

use crate::{article, deny, SqlProblem};

/// Walks the parsed query: any nested statement, row lock, `SELECT … INTO` or refused
/// function call is refused.
#[derive(Debug, Default)]
pub(crate) struct ReadOnlyCheck {
    statements: usize,
}

/// The problem of calling `name` with `args`, placed at the name.
fn denied_call(name: &ObjectName, args: &[sqlparser::ast::FunctionArg]) -> ControlFlow<SqlProblem> {
    let Some(ident) = deny::last_ident(name) else { return ControlFlow::Continue(()) };
    match deny::problem(ident, args) {
        Some(message) => {
            let start = ident.span.start;
            ControlFlow::Break(SqlProblem::new(message).at(start.line, start.column))
        }
        None => ControlFlow::Continue(()),
    }
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

    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<SqlProblem> {
        match expr {
            Expr::Function(f) => denied_call(&f.name, deny::call_args(&f.args)),
            _ => ControlFlow::Continue(()),
        }
    }

    fn pre_visit_table_factor(&mut self, table_factor: &TableFactor) -> ControlFlow<SqlProblem> {
        match table_factor {
            TableFactor::Table { name, args: Some(args), .. } => denied_call(name, &args.args),
            TableFactor::Function { name, args, .. } => denied_call(name, args),
            _ => ControlFlow::Continue(()),
        }
    }
}
