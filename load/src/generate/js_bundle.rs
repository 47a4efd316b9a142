//! The browser application JavaScript errors come from: original modules, the minified bundle
//! a build would produce from them, its sourcemap (with the original sources embedded and a
//! debug id), all generated deterministically from the seed.
//!
//! The functions form a ring of calls across modules: each checks a condition and throws, or
//! calls the next. A JavaScript error is a walk along the ring: every frame but the last is at
//! a call site, the last at the `new` of the thrown error — the positions a browser reports —
//! and [`Bundle::chain`] says which original file, line, column and function each frame must
//! resolve to. A test resolves every frame through the sourcemap with the `sourcemap` crate.

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sourcemap::SourceMapBuilder;
use std::fmt::Write;
use uuid::Uuid;

/// Where the minified bundle is served from.
pub const BUNDLE_ORIGIN: &str = "https://shop.example.com";

const MODULES: &[&str] = &[
    "src/app/router.ts",
    "src/api/client.ts",
    "src/store/cart.ts",
    "src/store/checkout.ts",
    "src/components/ProductGrid.tsx",
    "src/components/CartSummary.tsx",
    "src/components/CheckoutForm.tsx",
    "src/lib/money.ts",
    "src/lib/validation.ts",
    "src/lib/analytics.ts",
];

const VERBS: &[&str] = &[
    "load", "render", "compute", "apply", "validate", "format", "fetch", "update", "resolve",
    "track", "parse", "build",
];
const NOUNS: &[&str] = &[
    "Cart",
    "Totals",
    "Discount",
    "Address",
    "Price",
    "Products",
    "Session",
    "Order",
    "Payment",
    "Shipping",
    "Inventory",
    "Coupon",
];

/// Browser errors the functions throw: type and message.
pub const ERRORS: &[(&str, &str)] = &[
    (
        "TypeError",
        "Cannot read properties of undefined (reading 'price')",
    ),
    ("TypeError", "items.map is not a function"),
    ("RangeError", "Invalid array length"),
    ("ReferenceError", "currency is not defined"),
    ("Error", "Request failed with status code 502"),
    (
        "SyntaxError",
        "Unexpected token '<', \"<!DOCTYPE \" is not valid JSON",
    ),
];

/// Where a frame must land in the original sources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Original {
    /// The original file.
    pub source: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
    /// The enclosing function's original name.
    pub function: String,
}

/// One frame of a JavaScript error: in the minified bundle, and where it must resolve to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsFrame {
    /// The minified function name, as the browser reports it.
    pub minified_function: String,
    /// 1-based line in the bundle.
    pub line: u32,
    /// 1-based column in the bundle.
    pub column: u32,
    /// Where it resolves to.
    pub original: Original,
}

struct Function {
    name: String,
    minified: String,
    module: usize,
    error: usize,
    /// 1-based original line of the declaration.
    line: u32,
    /// 1-based bundle column of the call to the next function.
    call_col: u32,
    /// 1-based bundle column of `new` in the throw.
    throw_col: u32,
}

/// The generated application.
#[derive(Debug, Clone)]
pub struct Bundle {
    /// The debug id shared by the bundle and its sourcemap.
    pub debug_id: Uuid,
    /// The bundle's file name.
    pub file_name: String,
    /// The minified bundle.
    pub minified: String,
    /// The sourcemap, JSON.
    pub sourcemap: Vec<u8>,
    /// The original modules: path and text.
    pub sources: Vec<(String, String)>,
    frames: Vec<(String, u32, u32, Original, Original)>,
}

impl Bundle {
    /// The bundle of `seed`.
    pub fn generate(seed: u64) -> Bundle {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x0b0d_1e00_5eed_0001);
        let mut names: Vec<String> = VERBS
            .iter()
            .flat_map(|v| NOUNS.iter().map(move |n| format!("{v}{n}")))
            .collect();
        names.shuffle(&mut rng);
        let count = MODULES.len() * 4;
        let mut functions: Vec<Function> = (0..count)
            .map(|i| Function {
                name: names[i].clone(),
                minified: minified_name(i),
                module: i / 4,
                error: rng.random_range(0..ERRORS.len()),
                line: 0,
                call_col: 0,
                throw_col: 0,
            })
            .collect();
        let sources = write_sources(&mut functions);
        let (minified, map) = write_bundle(&mut functions, &sources);
        let debug_id = Uuid::from_u64_pair(rng.random(), rng.random());
        let file_name = format!("main.{:08x}.min.js", rng.random::<u32>());
        let mut map = map;
        map.set_file(Some(file_name.clone()));
        let mut sm = map.into_sourcemap();
        sm.set_debug_id(Some(debug_id.into()));
        let mut sourcemap = Vec::new();
        // Writing into a Vec cannot fail.
        let _ = sm.to_writer(&mut sourcemap);
        let frames = (0..count)
            .map(|i| {
                let f = &functions[i];
                let next = &functions[(i + 1) % count];
                let at = |line, column| Original {
                    source: MODULES[f.module].into(),
                    line,
                    column,
                    function: f.name.clone(),
                };
                let _ = next;
                (
                    f.minified.clone(),
                    f.call_col,
                    f.throw_col,
                    at(f.line + 5, 10),
                    at(f.line + 3, 11),
                )
            })
            .collect();
        Bundle {
            debug_id,
            minified: format!(
                "{minified}\n//# debugId={debug_id}\n//# sourceMappingURL={file_name}.map\n"
            ),
            file_name,
            sourcemap,
            sources,
            frames,
        }
    }

    /// The bundle's URL, as frames carry it.
    pub fn url(&self) -> String {
        format!("{BUNDLE_ORIGIN}/static/js/{}", self.file_name)
    }

    /// The call chain starting at function `start`, `depth` frames long, outermost first:
    /// the last frame throws. Returns the error thrown and the frames.
    pub fn chain(
        &self,
        start: usize,
        depth: usize,
    ) -> ((&'static str, &'static str), Vec<JsFrame>) {
        let n = self.frames.len();
        let depth = depth.clamp(1, n);
        let frames: Vec<JsFrame> = (0..depth)
            .map(|k| {
                let (minified, call_col, throw_col, call, throw) = &self.frames[(start + k) % n];
                let last = k + 1 == depth;
                JsFrame {
                    minified_function: minified.clone(),
                    line: 1,
                    column: if last { *throw_col } else { *call_col },
                    original: if last { throw.clone() } else { call.clone() },
                }
            })
            .collect();
        let thrower = (start + depth - 1) % n;
        let error = error_of(&self.sources, &self.frames[thrower].4);
        (error, frames)
    }

    /// Where a frame at `line`:`column` of the minified bundle must resolve to, if a frame of
    /// this bundle can be there (what a fidelity check expects Sentry to show).
    pub fn original_at(&self, line: u32, column: u32) -> Option<&Original> {
        if line != 1 {
            return None;
        }
        self.frames
            .iter()
            .find_map(|(_, call_col, throw_col, call, throw)| {
                if *call_col == column {
                    Some(call)
                } else if *throw_col == column {
                    Some(throw)
                } else {
                    None
                }
            })
    }

    /// How many functions the ring has (the deepest stack a chain can have).
    pub fn functions(&self) -> usize {
        self.frames.len()
    }
}

/// The error thrown at `throw`: read back from the original line.
fn error_of(sources: &[(String, String)], throw: &Original) -> (&'static str, &'static str) {
    let text = sources
        .iter()
        .find(|(p, _)| *p == throw.source)
        .and_then(|(_, t)| t.lines().nth(throw.line as usize - 1))
        .unwrap_or_default();
    ERRORS
        .iter()
        .copied()
        .find(|(ty, msg)| text.contains(ty) && text.contains(&msg.replace('"', "\\\"")))
        .unwrap_or(ERRORS[0])
}

fn minified_name(i: usize) -> String {
    let letters = b"abcdefghijklmnopqrstuvwxyz";
    let a = letters[i % 26] as char;
    if i < 26 {
        a.to_string()
    } else {
        format!("{}{a}", letters[i / 26 - 1] as char)
    }
}

/// Each module: imports, then its functions, seven lines each and a blank line.
fn write_sources(functions: &mut [Function]) -> Vec<(String, String)> {
    let count = functions.len();
    let mut sources = Vec::new();
    for (m, path) in MODULES.iter().enumerate() {
        let mut text = String::new();
        let next_module = (m + 1) % MODULES.len();
        let next_first = &functions[(next_module * 4) % count].name;
        let _ = writeln!(
            text,
            "import {{ {next_first} }} from \"./{}\";",
            module_stem(MODULES[next_module])
        );
        text.push('\n');
        let mut line = 3u32;
        for i in m * 4..m * 4 + 4 {
            let next = functions[(i + 1) % count].name.clone();
            let f = &mut functions[i];
            let (ty, msg) = ERRORS[f.error];
            f.line = line;
            let _ = write!(
                text,
                "export function {name}(items, ctx) {{\n  const value = ctx.scale * items.length;\n  if (ctx.fail === \"{name}\") {{\n    throw new {ty}(\"{msg}\");\n  }}\n  return {next}(items, value);\n}}\n\n",
                name = f.name,
                msg = msg.replace('"', "\\\""),
            );
            line += 8;
        }
        sources.push(((*path).to_owned(), text));
    }
    sources
}

fn module_stem(path: &str) -> &str {
    let file = path.rsplit('/').next().unwrap_or(path);
    file.split('.').next().unwrap_or(file)
}

/// The minified bundle (one line) and its sourcemap: a token at each function's start and
/// name, at each `new` of a throw and at each call.
fn write_bundle(
    functions: &mut [Function],
    sources: &[(String, String)],
) -> (String, SourceMapBuilder) {
    let mut b = SourceMapBuilder::new(None);
    for (path, text) in sources {
        let id = b.add_source(path);
        b.set_source_contents(id, Some(text));
    }
    let count = functions.len();
    let mut out = String::from("\"use strict\";");
    for i in 0..count {
        let next_min = functions[(i + 1) % count].minified.clone();
        let next_name = functions[(i + 1) % count].name.clone();
        let f = &mut functions[i];
        let src = MODULES[f.module];
        let (ty, msg) = ERRORS[f.error];
        let l0 = f.line - 1; // 0-based original line
        let col = |s: &String| s.len() as u32;
        b.add(0, col(&out), l0, 0, Some(src), None, false);
        out.push_str("function ");
        b.add(0, col(&out), l0, 16, Some(src), Some(&f.name), false);
        let _ = write!(
            out,
            "{}(n,t){{const e=t.scale*n.length;if(t.fail===\"{}\"){{throw ",
            f.minified, f.name
        );
        b.add(0, col(&out), l0 + 3, 10, Some(src), None, false);
        f.throw_col = col(&out) + 1;
        let _ = write!(out, "new {ty}(\"{}\")}}return ", msg.replace('"', "\\\""));
        b.add(0, col(&out), l0 + 5, 9, Some(src), Some(&next_name), false);
        f.call_col = col(&out) + 1;
        let _ = write!(out, "{next_min}(n,e)}}");
    }
    (out, b)
}
