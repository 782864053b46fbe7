//! One streaming pass over a YAML document's events, for what serde_yaml does not offer: limits
//! checked while reading, and the position of every value in one pass.
//!
//! serde_yaml reads a whole document into a list of events before it deserializes anything,
//! and libyaml's scanner spends time proportional to the flow nesting depth on every token, so
//! a 200 KB file of nested brackets used to keep `validate` busy for minutes. This pass pulls
//! events one at a time from the same parser (unsafe-libyaml, the one serde_yaml uses, so the
//! positions are the ones serde_yaml reports) and stops at the first limit crossed: the work
//! done is bounded by the limits, never by what the file would have gone on to say.

use std::collections::BTreeMap;
use std::mem::MaybeUninit;
use std::ops::ControlFlow;

/// One event of the document, with what this module needs of it.
pub(super) enum Event<'a> {
    /// A scalar (its text).
    Scalar(&'a [u8]),
    /// `*alias`.
    Alias,
    /// The start of a sequence.
    SeqStart,
    /// The start of a mapping.
    MapStart,
    /// The end of the innermost sequence or mapping.
    End,
    /// The start of a document (the first, or a second one after `---`).
    DocStart,
}

/// Pulls the stream's events from `text` and hands each to `f` with its 0-based line and
/// column, until `f` breaks, the stream ends, or the parser fails (a syntax error is left for
/// serde_yaml to report in its own words: `walk` then just stops).
pub(super) fn walk<B>(text: &str, f: impl FnMut(Event<'_>, usize, usize) -> ControlFlow<B>) -> Option<B> {
    walk_reporting(text, &mut None, f)
}

/// [`walk`], also saying where the parser failed, if it did.
fn walk_reporting<B>(
    text: &str,
    parse_error: &mut Option<(usize, usize)>,
    mut f: impl FnMut(Event<'_>, usize, usize) -> ControlFlow<B>,
) -> Option<B> {
    let mut parser = Box::new(MaybeUninit::<unsafe_libyaml::yaml_parser_t>::uninit());
    let p = parser.as_mut_ptr();
    // SAFETY: `p` points at a heap allocation that outlives every use below and is never moved;
    // `text` outlives the parser, which reads from it. Each event is deleted after use and the
    // parser is deleted before returning, on every path.
    unsafe {
        if unsafe_libyaml::yaml_parser_initialize(p).fail {
            return None;
        }
        unsafe_libyaml::yaml_parser_set_encoding(p, unsafe_libyaml::YAML_UTF8_ENCODING);
        unsafe_libyaml::yaml_parser_set_input_string(p, text.as_ptr(), text.len() as u64);
        let mut out = None;
        let mut failed_at = None;
        let mut last_end = (0, 0);
        loop {
            let mut event = MaybeUninit::<unsafe_libyaml::yaml_event_t>::uninit();
            let e = event.as_mut_ptr();
            if unsafe_libyaml::yaml_parser_parse(p, e).fail {
                // libyaml keeps the problem's own mark private: the problem lies past the end
                // of the last event that parsed.
                failed_at = Some(last_end);
                break;
            }
            let line = (*e).start_mark.line as usize;
            let column = (*e).start_mark.column as usize;
            last_end = ((*e).end_mark.line as usize, (*e).end_mark.column as usize);
            let ev = match (*e).type_ {
                unsafe_libyaml::YAML_SCALAR_EVENT => {
                    let s = (*e).data.scalar;
                    Some(Event::Scalar(std::slice::from_raw_parts(s.value, s.length as usize)))
                }
                unsafe_libyaml::YAML_ALIAS_EVENT => Some(Event::Alias),
                unsafe_libyaml::YAML_SEQUENCE_START_EVENT => Some(Event::SeqStart),
                unsafe_libyaml::YAML_MAPPING_START_EVENT => Some(Event::MapStart),
                unsafe_libyaml::YAML_SEQUENCE_END_EVENT | unsafe_libyaml::YAML_MAPPING_END_EVENT => Some(Event::End),
                unsafe_libyaml::YAML_DOCUMENT_START_EVENT => Some(Event::DocStart),
                unsafe_libyaml::YAML_STREAM_END_EVENT => {
                    unsafe_libyaml::yaml_event_delete(e);
                    break;
                }
                _ => None,
            };
            let flow = ev.map(|ev| f(ev, line, column));
            unsafe_libyaml::yaml_event_delete(e);
            if let Some(ControlFlow::Break(b)) = flow {
                out = Some(b);
                break;
            }
        }
        unsafe_libyaml::yaml_parser_delete(p);
        if let Some(at) = failed_at {
            *parse_error = Some(at);
        }
        out
    }
}

/// Where a document that serde_yaml refused without a position goes wrong: the end of the last
/// event libyaml parsed before it failed (0-based line and column). A second document that
/// parses never gets here: [`check_limits`] refuses it first.
pub(super) fn trouble(text: &str) -> Option<(usize, usize)> {
    let mut failed = None;
    walk_reporting::<()>(text, &mut failed, |_, _, _| ControlFlow::Continue(()));
    failed
}

/// Where every value of a document starts, by path: built in one pass so that any number of
/// diagnostics cost one read of the file, not one each.
#[derive(Clone, Debug, Default)]
pub struct Index {
    /// Node 0 is the document's root.
    nodes: Vec<Node>,
}

#[derive(Clone, Debug)]
struct Node {
    /// 1-based line and column.
    at: (usize, usize),
    /// Children of a mapping by key (the first of equal keys, as serde_yaml reads them), or
    /// of a sequence by position.
    kids: Kids,
}

#[derive(Clone, Debug)]
enum Kids {
    Leaf,
    Map(BTreeMap<String, usize>),
    Seq(Vec<usize>),
}

/// Where a new node goes in its parent.
enum Slot {
    /// The root.
    Root,
    /// A mapping's key (its text, if it is a scalar: complex keys are not addressable).
    Key,
    /// A mapping's value under this key (`None`: under a complex key).
    Value(Option<String>),
    /// A sequence's next item.
    Item,
}

impl Index {
    /// Indexes the first document of `text` (as far as it parses).
    pub fn build(text: &str) -> Index {
        let mut nodes: Vec<Node> = Vec::new();
        // Open collections: the node, and for mappings the key awaiting its value.
        let mut open: Vec<(usize, Option<Option<String>>)> = Vec::new();
        // Depth of a complex key's subtree being skipped (it has no path).
        let mut skipping = 0usize;
        walk::<()>(text, |ev, line, column| {
            if skipping > 0 {
                match ev {
                    Event::SeqStart | Event::MapStart => skipping += 1,
                    Event::End => skipping -= 1,
                    _ => {}
                }
                if skipping == 0 {
                    // The complex key is done: its value follows, under no path.
                    if let Some((_, pending)) = open.last_mut() {
                        *pending = Some(None);
                    }
                }
                return ControlFlow::Continue(());
            }
            match ev {
                Event::End => {
                    open.pop();
                    return ControlFlow::Continue(());
                }
                // The first document is the file (serde_yaml refuses a second).
                Event::DocStart if nodes.is_empty() => return ControlFlow::Continue(()),
                Event::DocStart => return ControlFlow::Break(()),
                _ => {}
            }
            let slot = match open.last_mut() {
                None if nodes.is_empty() => Slot::Root,
                None => return ControlFlow::Break(()),
                Some((parent, pending)) => match &nodes[*parent].kids {
                    Kids::Seq(_) => Slot::Item,
                    _ => match pending.take() {
                        Some(key) => Slot::Value(key),
                        None => Slot::Key,
                    },
                },
            };
            if let Slot::Key = slot {
                let pending = &mut open.last_mut().expect("a key has a mapping").1;
                match ev {
                    Event::Scalar(s) => *pending = Some(Some(String::from_utf8_lossy(s).into_owned())),
                    Event::Alias => *pending = Some(None),
                    _ => skipping = 1,
                }
                return ControlFlow::Continue(());
            }
            let id = nodes.len();
            let kids = match ev {
                Event::SeqStart => Kids::Seq(Vec::new()),
                Event::MapStart => Kids::Map(BTreeMap::new()),
                _ => Kids::Leaf,
            };
            let collection = !matches!(kids, Kids::Leaf);
            nodes.push(Node { at: (line + 1, column + 1), kids });
            if let Some((parent, _)) = open.last() {
                match (&mut nodes[*parent].kids, slot) {
                    (Kids::Seq(items), Slot::Item) => items.push(id),
                    (Kids::Map(keys), Slot::Value(Some(k))) => {
                        keys.entry(k).or_insert(id);
                    }
                    _ => {}
                }
            }
            if collection {
                open.push((id, None));
            }
            ControlFlow::Continue(())
        });
        Index { nodes }
    }

    /// The 1-based line and column where the value at `path` starts, if it exists.
    pub fn locate(&self, path: &[capsize_sim::PathSeg]) -> Option<(usize, usize)> {
        let mut at = 0;
        self.nodes.first()?;
        for seg in path {
            at = match (&self.nodes[at].kids, seg) {
                (Kids::Map(keys), capsize_sim::PathSeg::Key(k)) => *keys.get(k)?,
                (Kids::Seq(items), capsize_sim::PathSeg::Index(i)) => *items.get(*i)?,
                _ => return None,
            };
        }
        Some(self.nodes[at].at)
    }
}

/// Deepest nesting of collections a capsize file may have. The deepest shipped file nests 8
/// levels; serde_yaml itself stops at 128, but only after reading the whole document.
pub const MAX_DEPTH: usize = 64;

/// Most values (scalars, aliases and collections) a capsize file may hold: past the limits
/// validation enforces (100,000 faults, 100,000 traffic points of two values each), and small
/// enough that the parsed document stays within a few hundred MB.
pub const MAX_VALUES: usize = 1_000_000;

/// Checks the document against [`MAX_DEPTH`] and [`MAX_VALUES`] while reading it: the 0-based
/// place and the problem of the first value past a limit.
pub(super) fn check_limits(text: &str) -> Result<(), (usize, usize, String)> {
    let mut depth = 0usize;
    let mut values = 0usize;
    let mut documents = 0usize;
    let refused = walk(text, |ev, line, column| {
        match ev {
            Event::DocStart => {
                documents += 1;
                if documents > 1 {
                    return ControlFlow::Break((
                        line,
                        column,
                        "a second YAML document starts here; a capsize file is one document".to_string(),
                    ));
                }
                return ControlFlow::Continue(());
            }
            Event::End => {
                depth = depth.saturating_sub(1);
                return ControlFlow::Continue(());
            }
            Event::SeqStart | Event::MapStart => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return ControlFlow::Break((
                        line,
                        column,
                        format!("values nest deeper than {MAX_DEPTH} levels here; capsize files nest a few"),
                    ));
                }
            }
            Event::Scalar(_) | Event::Alias => {}
        }
        values += 1;
        if values > MAX_VALUES {
            return ControlFlow::Break((line, column, format!("the file holds more than {MAX_VALUES} values")));
        }
        ControlFlow::Continue(())
    });
    match refused {
        Some(r) => Err(r),
        None => Ok(()),
    }
}
