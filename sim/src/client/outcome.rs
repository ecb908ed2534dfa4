//! From an RPC result to a history completion (spec §1.8): Maelstrom's `with-errors`
//! wrapper, the error-code table, and the no-wrapper workloads where every error or
//! timeout is an exception and so `info`.

use super::schema::{validate, ReplySchema};
use super::RpcResult;
use serde_json::{json, Value};

/// How a workload maps errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorMode {
    /// Maelstrom's `with-errors`: definite codes and idempotent ops fail, the rest info.
    WithErrors,
    /// No wrapper (g-set, g-counter, pn-counter): every error and timeout is info.
    NoWrapper,
}

/// An operation's ending, ready for the history.
#[derive(Debug, Clone, PartialEq)]
pub enum Completion {
    /// Succeeded with this value.
    Ok(Value),
    /// Definitely did not happen.
    Fail {
        /// Value recorded (usually the invocation's).
        value: Value,
        /// What went wrong.
        error: Value,
    },
    /// May or may not have happened.
    Info {
        /// Value recorded.
        value: Value,
        /// What went wrong.
        error: Value,
        /// Set when Maelstrom would record an unhandled exception (malformed reply, or an
        /// error/timeout in a no-wrapper workload).
        exception: Option<String>,
    },
}

/// Name and definiteness of an error code (Maelstrom's errors.edn).
pub fn error_name(code: Option<i64>) -> (&'static str, bool) {
    match code {
        Some(0) => ("timeout", false),
        Some(1) => ("node-not-found", true),
        Some(10) => ("not-supported", true),
        Some(11) => ("temporarily-unavailable", true),
        Some(12) => ("malformed-request", true),
        Some(13) => ("crash", false),
        Some(14) => ("abort", true),
        Some(20) => ("key-does-not-exist", true),
        Some(21) => ("key-already-exists", true),
        Some(22) => ("precondition-failed", true),
        Some(30) => ("txn-conflict", true),
        _ => ("unknown", false),
    }
}

/// Maps an RPC result to a completion. `ok` turns a schema-valid reply into the ok value.
pub fn complete(
    result: RpcResult,
    mode: ErrorMode,
    idempotent: bool,
    invoke_value: &Value,
    schema: &ReplySchema,
    ok: impl FnOnce(&Value) -> Value,
) -> Completion {
    match result {
        RpcResult::Reply(body) => match validate(schema, &body) {
            Ok(()) => Completion::Ok(ok(&body)),
            Err(why) => Completion::Info {
                value: invoke_value.clone(),
                error: json!(["malformed-reply", why]),
                exception: Some(format!("malformed reply: {why}")),
            },
        },
        RpcResult::Error { code, text, .. } => {
            let (name, definite) = error_name(code);
            let code_v = code.map(Value::from).unwrap_or(Value::Null);
            let error = json!([code_v, name, text]);
            let exception = format!("error reply {}: {name} {text:?}", code_v);
            unsuccessful(mode, definite || idempotent, invoke_value, error, exception)
        }
        RpcResult::Timeout(hint) => {
            let error = match hint {
                Some(h) => json!(["net-timeout", h]),
                None => json!(["net-timeout"]),
            };
            let exception = "client timed out waiting for a reply".to_string();
            unsuccessful(mode, idempotent, invoke_value, error, exception)
        }
    }
}

/// The completion of an operation that got an error or no reply. With Maelstrom's
/// `with-errors` wrapper it fails when `surely_not_done` (a definite error or an
/// idempotent operation) and is info otherwise; without a wrapper it is always info,
/// recorded with `exception`.
fn unsuccessful(
    mode: ErrorMode,
    surely_not_done: bool,
    invoke_value: &Value,
    error: Value,
    exception: String,
) -> Completion {
    match mode {
        ErrorMode::NoWrapper => Completion::Info {
            value: invoke_value.clone(),
            error,
            exception: Some(exception),
        },
        ErrorMode::WithErrors if surely_not_done => Completion::Fail {
            value: invoke_value.clone(),
            error,
        },
        ErrorMode::WithErrors => Completion::Info {
            value: invoke_value.clone(),
            error,
            exception: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::super::schema::Shape;
    use super::*;

    const S: ReplySchema = ReplySchema {
        reply_type: "read_ok",
        fields: &[("value", Shape::Int)],
    };

    fn err(code: i64) -> RpcResult {
        RpcResult::Error {
            code: Some(code),
            text: "t".into(),
            body: json!({}),
        }
    }

    fn kind(c: &Completion) -> &'static str {
        match c {
            Completion::Ok(_) => "ok",
            Completion::Fail { .. } => "fail",
            Completion::Info { .. } => "info",
        }
    }

    #[test]
    fn code_table_matches_maelstrom() {
        for c in [1, 10, 11, 12, 14, 20, 21, 22, 30] {
            assert!(error_name(Some(c)).1, "{c} is definite");
        }
        for c in [0, 13, 1000, 5, -1] {
            assert!(!error_name(Some(c)).1, "{c} is indefinite");
        }
        assert!(!error_name(None).1);
        assert_eq!(error_name(Some(22)).0, "precondition-failed");
    }

    #[test]
    fn with_errors_maps_by_definiteness_and_idempotence() {
        let v = json!(null);
        let m = ErrorMode::WithErrors;
        let c = |r, idem| complete(r, m, idem, &v, &S, |b| b["value"].clone());
        assert_eq!(kind(&c(err(11), false)), "fail");
        assert_eq!(kind(&c(err(13), false)), "info");
        assert_eq!(kind(&c(err(1000), false)), "info");
        assert_eq!(kind(&c(err(13), true)), "fail");
        assert_eq!(kind(&c(RpcResult::Timeout(None), false)), "info");
        assert_eq!(kind(&c(RpcResult::Timeout(None), true)), "fail");
        match c(err(13), false) {
            Completion::Info {
                exception, error, ..
            } => {
                assert!(exception.is_none());
                assert_eq!(error, json!([13, "crash", "t"]));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn no_wrapper_turns_everything_into_info_exceptions() {
        let v = json!(3);
        for r in [err(11), err(13), RpcResult::Timeout(None)] {
            let c = complete(r, ErrorMode::NoWrapper, true, &v, &S, |b| {
                b["value"].clone()
            });
            match c {
                Completion::Info {
                    exception, value, ..
                } => {
                    assert!(exception.is_some());
                    assert_eq!(value, json!(3));
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn malformed_replies_are_info_with_an_exception_naming_the_field() {
        let r = RpcResult::Reply(json!({"type":"read_ok","value":1,"in_reply_to":1,"extra":2}));
        match complete(r, ErrorMode::WithErrors, true, &json!(null), &S, |b| {
            b["value"].clone()
        }) {
            Completion::Info {
                exception: Some(e), ..
            } => assert!(e.contains("`extra`")),
            other => panic!("{other:?}"),
        }
        let r = RpcResult::Reply(json!({"type":"read_ok","value":1,"in_reply_to":1}));
        assert_eq!(
            complete(r, ErrorMode::WithErrors, true, &json!(null), &S, |b| b
                ["value"]
                .clone()),
            Completion::Ok(json!(1))
        );
    }
}
