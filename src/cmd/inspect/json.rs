//! `kexdump inspect --json`: the findings as one JSON object, schema
//! `kexdump.inspect/1`, documented field by field in docs/analysis.md (a
//! test holds the two together). Addresses and register values are hex
//! strings ("0xffffffff81000000"): JSON numbers lose precision above 2^53.
//! A section that failed is null, and `errors` says why, by section name.

use kexdump_engine::analysis::inspect::{Inspection, Section};
use kexdump_engine::analysis::stack::Frame;
use kexdump_engine::capture_dir::time::iso8601;
use serde_json::{json, Map, Value};

pub const SCHEMA: &str = "kexdump.inspect/1";

fn hex(v: u64) -> Value {
    Value::String(format!("{v:#x}"))
}

/// `source(frame)` gives `file:line` when a vmlinux was given.
pub fn to_json(ins: &Inspection, dump_path: &str, source: &dyn Fn(&Frame) -> Option<String>) -> Value {
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
            "source": source(fr),
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
        "symbol_source": section("symbol_source", ins.symbol_source.clone().map(|s| json!({
            "kind": s.kind,
            "path": s.path,
            "symbols": s.symbols,
            "detail": s.detail,
        }))),
        "symbol_notes": ins.symbol_notes,
        "kallsyms": section("kallsyms", ins.kallsyms.clone().map(|k| json!({
            "symbols": k.symbols,
            "absolute_percpu": k.absolute_percpu,
            "encoding": k.encoding,
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

#[cfg(test)]
mod tests {
    use super::*;
    use kexdump_engine::analysis::{inspect, view_of_vmcore, InspectOptions};
    use kexdump_engine::input::Input;
    use kexdump_engine::Vmcore;
    use std::collections::BTreeSet;

    /// Objects whose keys are data (register names, section names), not
    /// schema fields.
    const MAPS: [&str; 2] = ["cpus[].registers", "errors"];

    /// Every field path: `a.b`, array elements as `a[]`; arrays of scalars
    /// and the MAPS are leaves.
    fn paths(v: &Value, prefix: &str, out: &mut BTreeSet<String>) {
        match v {
            Value::Object(m) if !MAPS.contains(&prefix) => {
                for (k, x) in m {
                    let p = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                    out.insert(p.clone());
                    paths(x, &p, out);
                }
            }
            Value::Array(a) => {
                for x in a.iter().filter(|x| x.is_object()) {
                    paths(x, &format!("{prefix}[]"), out);
                }
            }
            _ => {}
        }
    }

    /// The first-column names of the schema table in docs/analysis.md.
    fn documented() -> BTreeSet<String> {
        let doc = include_str!("../../../docs/analysis.md");
        let table = doc.split("## `--json`").nth(1).expect("JSON section").split("\n## ").next().unwrap();
        table.lines().filter_map(|l| l.strip_prefix("| `")?.split_once('`').map(|(f, _)| f.to_owned())).collect()
    }

    #[test]
    fn output_has_exactly_the_documented_fields() {
        let v = kexdump_testgen::SynthVmcore::new();
        let vm = Vmcore::from_input(Input::from_bytes(v.build())).unwrap();
        let view = view_of_vmcore(&vm);
        let opts = InspectOptions {
            log_lines: 5,
            dump_path: "vmcore".into(),
            vmlinux: None,
            symbol_files: Vec::new(),
            search_root: None,
        };
        let ins = inspect(&view, &opts);
        let j = to_json(&ins, "vmcore", &|_| Some("kernel/panic.c:1".into()));
        assert_eq!(j["schema"], SCHEMA);
        assert_eq!(j["errors"], json!({}), "every section present on the synthetic dump");
        assert_eq!(j["call_chain"]["frames"][2]["function"], "sysrq_handle_crash");
        assert_eq!(j["cpus"][0]["registers"]["rip"], format!("{:#x}", v.cpu_regs()[0].1));
        assert_eq!(j["kallsyms"]["text"][0][0], format!("{:#x}", v.stext()));
        let mut got = BTreeSet::new();
        paths(&j, "", &mut got);
        let doc = documented();
        assert_eq!(
            got.symmetric_difference(&doc).collect::<Vec<_>>(),
            Vec::<&String>::new(),
            "fields in the output but not in docs/analysis.md, or the reverse"
        );
        // a failed section: null plus its error
        let text = super::super::text::render_text(&ins, "vmcore", &|_| None, None);
        assert!(text.contains("sysrq_handle_crash+0x16/0x100"), "{text}");
        let bad = kexdump_testgen::SynthVmcore::new().vmcoreinfo_edit(|kv| kv.retain(|(k, _)| k != "CRASHTIME"));
        let vm = Vmcore::from_input(Input::from_bytes(bad.build())).unwrap();
        let view = view_of_vmcore(&vm);
        let j = to_json(&inspect(&view, &opts), "vmcore", &|_| None);
        assert_eq!(
            (&j["crash_time"], &j["errors"]["crash_time"]),
            (&Value::Null, &json!("VMCOREINFO has no CRASHTIME"))
        );
    }
}
