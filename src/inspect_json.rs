//! `kexdump inspect --json`: the findings as one JSON object, schema
//! `kexdump.inspect/1`, documented field by field in docs/analysis.md (a
//! test holds the two together). Addresses and register values are hex
//! strings ("0xffffffff81000000"): JSON numbers lose precision above 2^53.
//! A section that failed is null, and `errors` says why, by section name.

use kexdump_engine::analysis::inspect::{Inspection, Section};
use kexdump_engine::analysis::stack::Frame;
use kexdump_engine::pid1::record::iso8601;
use serde_json::{json, Map, Value};

pub const SCHEMA: &str = "kexdump.inspect/1";

fn hex(v: u64) -> Value {
    Value::String(format!("{v:#x}"))
}

/// `source(addr)` gives `file:line` when a vmlinux was given.
pub fn to_json(ins: &Inspection, dump_path: &str, source: &dyn Fn(u64) -> Option<String>) -> Value {
    let mut errors = Map::new();
    let mut section = |name: &str, s: Section<Value>| -> Value {
        s.unwrap_or_else(|e| {
            errors.insert(name.to_owned(), Value::String(e));
            Value::Null
        })
    };
    let f = &ins.facts;
    let crashing_note = ins.crashing.as_ref().ok().map(|c| c.note_index);
    let cpus: Vec<Value> = ins
        .cpus
        .iter()
        .enumerate()
        .map(|(i, c)| match c {
            Ok(r) => {
                let regs: Map<String, Value> = r.named().map(|(n, v)| (n.to_owned(), hex(v))).collect();
                let sym = ins.symbols.as_ref().and_then(|k| k.symbolize(r.rip())).map(|s| s.to_string());
                json!({"note": i, "pid": r.pid, "crashing": Some(i) == crashing_note,
                       "rip_symbol": sym, "registers": regs, "error": null})
            }
            Err(e) => json!({"note": i, "pid": null, "crashing": false, "rip_symbol": null,
                             "registers": null, "error": e}),
        })
        .collect();
    let frame = |fr: &Frame| {
        json!({
            "addr": hex(fr.addr),
            "stack_addr": fr.stack_addr.map(hex),
            "symbol": fr.symbol.as_ref().map(|s| s.to_string()),
            "function": fr.symbol.as_ref().map(|s| s.name.clone()),
            "offset": fr.symbol.as_ref().map(|s| s.offset),
            "size": fr.symbol.as_ref().and_then(|s| s.size),
            "source": source(fr.addr),
        })
    };
    let out = json!({
        "schema": SCHEMA,
        "dump": {
            "path": dump_path,
            "format": f.format,
            "compression": f.compression,
            "dump_level": f.dump_level,
            "filtered": f.filtered,
            "filtering": f.filtering,
            "excluded_pages": ins.excluded,
            "complete": f.complete,
            "completeness": f.completeness,
            "bytes": f.file_bytes,
        },
        "kernel": {
            "release": ins.release,
            "version": ins.version,
            "hostname": ins.hostname,
            "machine": ins.machine,
            "kernel_offset": ins.kernel_offset.map(hex),
        },
        "crash_time": section("crash_time", ins.crash_time.clone().map(|t| Value::String(iso8601(t)))),
        "crash_time_unix": ins.crash_time.as_ref().ok().copied(),
        "uptime_seconds": section("uptime_seconds", ins.uptime.clone().map(|u| json!(u))),
        "panic_message": section("panic_message", ins.panic_message.clone().map(Value::String)),
        "crashing_cpu": section("crashing_cpu", ins.crashing.clone().map(|c| json!({
            "note": c.note_index, "reason": c.reason, "certain": c.certain,
        }))),
        "cpus": cpus,
        "call_chain": section("call_chain", ins.chain.clone().map(|c| json!({
            "probable": true,
            "method": "stack scan",
            "rsp": hex(c.rsp),
            "stack_top": hex(c.stack_top),
            "bytes_scanned": c.bytes_scanned,
            "not_after_call": c.not_after_call,
            "stopped": c.stopped,
            "summary": c.summary(),
            "frames": c.frames.iter().map(frame).collect::<Vec<_>>(),
        }))),
        "kallsyms": section("kallsyms", ins.kallsyms.clone().map(|k| json!({
            "symbols": k.symbols,
            "absolute_percpu": k.absolute_percpu,
            "text": k.text.iter().map(|&(s, e)| json!([hex(s), hex(e)])).collect::<Vec<_>>(),
        }))),
        "log_tail": section("log_tail", ins.log_tail.clone().map(|l| json!(l))),
        "next_steps": {
            "distribution": ins.next.distribution,
            "debug_package": ins.next.debug_package,
            "install": ins.next.install,
            "vmlinux": ins.next.vmlinux,
            "crash": ins.next.crash,
            "gdb": ins.next.gdb,
            "drgn": ins.next.drgn,
        },
    });
    let mut out = out;
    out["errors"] = Value::Object(errors);
    out
}
