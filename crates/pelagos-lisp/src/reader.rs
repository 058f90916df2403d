//! The reader: source text to values, every pair stamped with its position.
//!
//! Nesting is kept on an explicit stack (never the Rust stack) and bounded by a limit, so
//! a million `(` give "depth exceeded". Numbers out of the i64/f64 range, invalid UTF-8,
//! unterminated strings and stray or missing parens are positioned errors.

use crate::error::{Error, ErrorKind, Result};
use crate::heap;
use crate::pos::Pos;
use crate::symbol::{self, Symbol};
use crate::value::Value;

/// Read every datum of `bytes`, checking that they are UTF-8 first.
pub fn read_bytes(
    bytes: &[u8],
    file: u32,
    max_nesting: usize,
    max_heap: usize,
) -> Result<Vec<Value>> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Reader::new(s, file, max_nesting, max_heap).read_all(),
        Err(e) => {
            let good = &bytes[..e.valid_up_to()];
            let valid = std::str::from_utf8(good).unwrap_or_default();
            let line = valid.matches('\n').count() as u32 + 1;
            let col = valid.rsplit('\n').next().map_or(0, |l| l.chars().count()) as u32 + 1;
            Err(
                Error::new(ErrorKind::Read("invalid utf-8 in source".into())).at(Pos {
                    file,
                    line,
                    col,
                }),
            )
        }
    }
}

/// Read every datum of `src`.
pub fn read_str(src: &str, file: u32, max_nesting: usize, max_heap: usize) -> Result<Vec<Value>> {
    Reader::new(src, file, max_nesting, max_heap).read_all()
}

enum Open {
    List {
        items: Vec<(Value, Pos)>,
        tail: Option<Value>,
        dot: bool,
        pos: Pos,
        close: u8,
    },
    Quote(Symbol, Pos),
    Skip,
}

/// A reader over one source text.
pub struct Reader<'a> {
    src: &'a [u8],
    i: usize,
    line: u32,
    col: u32,
    file: u32,
    max_nesting: usize,
    max_heap: usize,
    /// Data read but not yet built into pairs (list items, finished top-level data):
    /// they are not on the language heap yet, so the heap budget check adds them.
    held: usize,
}

/// Bytes charged per held datum (the value and its position in a vector).
const HELD_BYTES: usize = 48;

fn err(msg: impl Into<String>, pos: Pos) -> Error {
    Error::new(ErrorKind::Read(msg.into())).at(pos)
}

fn is_delim(b: u8) -> bool {
    b.is_ascii_whitespace() || b"()[]\";'`,".contains(&b)
}

impl<'a> Reader<'a> {
    /// A reader over `src`, attributing positions to file index `file`.
    pub fn new(src: &'a str, file: u32, max_nesting: usize, max_heap: usize) -> Self {
        // A byte-order mark is not part of the program.
        let start = if src.starts_with('\u{feff}') { 3 } else { 0 };
        Reader {
            src: src.as_bytes(),
            i: start,
            line: 1,
            col: 1,
            file,
            max_nesting,
            max_heap,
            held: 0,
        }
    }

    /// Fail once the data read so far would exceed the heap budget.
    fn check_heap(&self, pos: Pos) -> Result<()> {
        let held = self.held.saturating_mul(HELD_BYTES);
        if heap::live_bytes().saturating_add(held) > self.max_heap {
            return Err(Error::new(ErrorKind::Alloc).at(pos));
        }
        Ok(())
    }

    fn pos(&self) -> Pos {
        Pos {
            file: self.file,
            line: self.line,
            col: self.col,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.src.get(self.i).copied()
    }

    fn bump(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.i += 1;
        if b == b'\n' {
            self.line += 1;
            self.col = 1;
        } else if b & 0xC0 != 0x80 {
            self.col += 1;
        }
        Some(b)
    }

    /// Read all data until the end of input.
    pub fn read_all(&mut self) -> Result<Vec<Value>> {
        let mut out = Vec::new();
        while let Some(v) = self.next_datum()? {
            out.push(v);
            self.held += 1;
            if self.held & 0x3FF == 0 {
                self.check_heap(self.pos())?;
            }
        }
        Ok(out)
    }

    fn skip_atmosphere(&mut self) -> Result<()> {
        loop {
            match self.peek() {
                Some(b) if b.is_ascii_whitespace() => {
                    self.bump();
                }
                // `;` comments, and a `#!` interpreter line at the very start.
                Some(b';') | Some(b'#')
                    if self.peek() == Some(b';')
                        || (self.line == 1
                            && self.col == 1
                            && self.src.get(self.i + 1) == Some(&b'!')) =>
                {
                    while let Some(b) = self.bump() {
                        if b == b'\n' {
                            break;
                        }
                    }
                }
                Some(b'#') if self.src.get(self.i + 1) == Some(&b'|') => {
                    let start = self.pos();
                    self.bump();
                    self.bump();
                    let mut depth = 1usize;
                    while depth > 0 {
                        match self.bump() {
                            None => return Err(err("unterminated block comment", start)),
                            Some(b'|') if self.peek() == Some(b'#') => {
                                self.bump();
                                depth -= 1;
                            }
                            Some(b'#') if self.peek() == Some(b'|') => {
                                self.bump();
                                depth += 1;
                            }
                            _ => {}
                        }
                    }
                }
                _ => return Ok(()),
            }
        }
    }

    /// Read the next datum, or `None` at the end of input.
    pub fn next_datum(&mut self) -> Result<Option<Value>> {
        let mut stack: Vec<Open> = Vec::new();
        loop {
            self.skip_atmosphere()?;
            let pos = self.pos();
            let Some(b) = self.peek() else {
                return match stack.iter().rev().find_map(|o| match o {
                    Open::List { pos, .. } => Some(*pos),
                    _ => None,
                }) {
                    Some(p) => Err(err("unclosed '(': missing ')' before end of input", p)),
                    None if stack.is_empty() => Ok(None),
                    None => Err(err("unexpected end of input after quote", pos)),
                };
            };
            let datum = match b {
                b'(' | b'[' => {
                    self.check_depth(stack.len(), pos)?;
                    self.bump();
                    stack.push(Open::List {
                        items: Vec::new(),
                        tail: None,
                        dot: false,
                        pos,
                        close: if b == b'(' { b')' } else { b']' },
                    });
                    continue;
                }
                b')' | b']' => {
                    self.bump();
                    self.close_list(&mut stack, b, pos)?
                }
                b'\'' | b'`' | b',' => {
                    self.check_depth(stack.len(), pos)?;
                    self.bump();
                    let sym = match b {
                        b'\'' => symbol::QUOTE,
                        b'`' => symbol::QUASIQUOTE,
                        _ if self.peek() == Some(b'@') => {
                            self.bump();
                            symbol::UNQUOTE_SPLICING
                        }
                        _ => symbol::UNQUOTE,
                    };
                    stack.push(Open::Quote(sym, pos));
                    continue;
                }
                b'#' if self.src.get(self.i + 1) == Some(&b';') => {
                    self.check_depth(stack.len(), pos)?;
                    self.bump();
                    self.bump();
                    stack.push(Open::Skip);
                    continue;
                }
                b'"' => self.read_string(pos)?,
                b'|' => Value::Sym(Symbol::new(&self.read_delimited(b'|', pos)?)),
                b'.' if self.src.get(self.i + 1).is_none_or(|&n| is_delim(n)) => {
                    self.bump();
                    match stack.last_mut() {
                        Some(Open::List { items, dot, .. }) if !items.is_empty() && !*dot => {
                            *dot = true;
                            continue;
                        }
                        _ => return Err(err("unexpected '.'", pos)),
                    }
                }
                _ => self.read_atom(pos)?,
            };
            if let Some(v) = self.emit(&mut stack, datum, pos)? {
                return Ok(Some(v));
            }
        }
    }

    fn check_depth(&self, depth: usize, pos: Pos) -> Result<()> {
        if depth >= self.max_nesting {
            return Err(Error::new(ErrorKind::Depth).at(pos));
        }
        self.check_heap(pos)
    }

    /// Hand a finished datum to the innermost open construct; `Some` when it is top-level.
    fn emit(
        &mut self,
        stack: &mut Vec<Open>,
        mut datum: Value,
        mut pos: Pos,
    ) -> Result<Option<Value>> {
        loop {
            match stack.last_mut() {
                None => return Ok(Some(datum)),
                Some(Open::Quote(sym, qpos)) => {
                    let (sym, qpos) = (*sym, *qpos);
                    stack.pop();
                    let inner = Value::cons_at(datum, Value::Nil, pos);
                    datum = Value::cons_at(Value::Sym(sym), inner, qpos);
                    pos = qpos;
                }
                Some(Open::Skip) => {
                    // `#;` drops the datum; reading goes on with the next one.
                    stack.pop();
                    return Ok(None);
                }
                Some(Open::List {
                    items, tail, dot, ..
                }) => {
                    self.held += 1;
                    if self.held & 0x3FF == 0 {
                        self.check_heap(pos)?;
                    }
                    if *dot {
                        if tail.is_some() {
                            return Err(err("more than one datum after '.'", pos));
                        }
                        *tail = Some(datum);
                    } else {
                        items.push((datum, pos));
                    }
                    return Ok(None);
                }
            }
        }
    }

    fn close_list(&mut self, stack: &mut Vec<Open>, b: u8, pos: Pos) -> Result<Value> {
        match stack.pop() {
            Some(Open::List {
                items,
                tail,
                dot,
                pos: lpos,
                close,
            }) => {
                if b != close {
                    return Err(err(
                        format!(
                            "mismatched '{}': the list opened at {}:{} needs '{}'",
                            b as char, lpos.line, lpos.col, close as char
                        ),
                        pos,
                    ));
                }
                if dot && tail.is_none() {
                    return Err(err("missing datum after '.'", pos));
                }
                let mut acc = tail.unwrap_or(Value::Nil);
                let n = items.len();
                self.held = self.held.saturating_sub(n + usize::from(dot));
                for (k, (v, p)) in items.into_iter().rev().enumerate() {
                    let cell_pos = if k + 1 == n { lpos } else { p };
                    acc = Value::cons_at(v, acc, cell_pos);
                }
                Ok(acc)
            }
            Some(_) => Err(err(format!("unexpected '{}' after quote", b as char), pos)),
            None => Err(err(
                format!("unexpected '{}' with no open list", b as char),
                pos,
            )),
        }
    }

    fn read_string(&mut self, start: Pos) -> Result<Value> {
        let text = self.read_delimited(b'"', start)?;
        Ok(Value::string(text))
    }

    /// Read `"..."` or `|...|` content with escapes; the opening delimiter is next.
    fn read_delimited(&mut self, delim: u8, start: Pos) -> Result<String> {
        self.bump();
        let mut buf: Vec<u8> = Vec::new();
        loop {
            if buf.len() & 0xFFFF == 0
                && heap::live_bytes().saturating_add(buf.len()) > self.max_heap
            {
                return Err(Error::new(ErrorKind::Alloc).at(start));
            }
            let epos = self.pos();
            match self.bump() {
                None => {
                    let what = if delim == b'"' { "string" } else { "|symbol|" };
                    return Err(err(format!("unterminated {what}"), start));
                }
                Some(b) if b == delim => break,
                Some(b'\\') => {
                    let c = match self.bump() {
                        Some(b'n') => '\n',
                        Some(b't') => '\t',
                        Some(b'r') => '\r',
                        Some(b'0') => '\0',
                        Some(b'a') => '\x07',
                        Some(b'\\') => '\\',
                        Some(b'"') => '"',
                        Some(b'|') => '|',
                        Some(b'x') => self.read_hex_escape(epos)?,
                        Some(b'\n') => {
                            while matches!(self.peek(), Some(b' ' | b'\t')) {
                                self.bump();
                            }
                            continue;
                        }
                        None => return Err(err("unterminated string", start)),
                        Some(o) => {
                            return Err(err(format!("unknown escape '\\{}'", char::from(o)), epos))
                        }
                    };
                    let mut tmp = [0u8; 4];
                    buf.extend_from_slice(c.encode_utf8(&mut tmp).as_bytes());
                }
                Some(b) => buf.push(b),
            }
        }
        // The input is valid UTF-8 and escapes add whole characters.
        String::from_utf8(buf).map_err(|_| err("invalid utf-8 in string", start))
    }

    fn read_hex_escape(&mut self, pos: Pos) -> Result<char> {
        let mut code: u32 = 0;
        let mut digits = 0;
        loop {
            match self.bump() {
                Some(b';') if digits > 0 => break,
                Some(b) if (b as char).is_ascii_hexdigit() && digits < 6 => {
                    code = code * 16 + (b as char).to_digit(16).unwrap_or(0);
                    digits += 1;
                }
                _ => return Err(err("bad \\x escape: expected hex digits and ';'", pos)),
            }
        }
        char::from_u32(code).ok_or_else(|| err("\\x escape is not a unicode scalar value", pos))
    }

    fn read_atom(&mut self, pos: Pos) -> Result<Value> {
        let start = self.i;
        while let Some(b) = self.peek() {
            if is_delim(b) {
                break;
            }
            self.bump();
        }
        let tok = std::str::from_utf8(&self.src[start..self.i]).unwrap_or_default();
        if let Some(n) = parse_number(tok) {
            return n.map_err(|m| err(m, pos));
        }
        if let Some(rest) = tok.strip_prefix('#') {
            return match rest {
                "t" | "true" => Ok(Value::Bool(true)),
                "f" | "false" => Ok(Value::Bool(false)),
                _ => Err(err(format!("unknown syntax '{}'", clip(tok)), pos)),
            };
        }
        if let Some(kw) = tok.strip_prefix(':') {
            if kw.is_empty() {
                return Err(err("empty keyword ':'", pos));
            }
            return Ok(Value::Keyword(Symbol::new(kw)));
        }
        Ok(Value::Sym(Symbol::new(tok)))
    }
}

fn clip(s: &str) -> String {
    if s.chars().count() > 40 {
        format!("{}...", s.chars().take(40).collect::<String>())
    } else {
        s.to_string()
    }
}

/// `Some(is_float)` when the token has the shape of a number.
fn numeric_shape(s: &str) -> Option<bool> {
    let b = s.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'+' | b'-')) {
        i += 1;
    }
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let mut digits = i - int_start;
    let mut float = false;
    if i < b.len() && b[i] == b'.' {
        float = true;
        i += 1;
        let f = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        digits += i - f;
    }
    if digits == 0 {
        return None;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        float = true;
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        let e = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == e {
            return None;
        }
    }
    (i == b.len()).then_some(float)
}

/// Parse a numeric token: `None` if it is not a number, `Some(Err)` if out of range.
pub fn parse_number(tok: &str) -> Option<std::result::Result<Value, String>> {
    match tok {
        "+inf.0" => return Some(Ok(Value::Float(f64::INFINITY))),
        "-inf.0" => return Some(Ok(Value::Float(f64::NEG_INFINITY))),
        "+nan.0" | "-nan.0" => return Some(Ok(Value::Float(f64::NAN))),
        _ => {}
    }
    let float = numeric_shape(tok)?;
    if float {
        match tok.parse::<f64>() {
            Ok(f) if f.is_finite() => Some(Ok(Value::Float(f))),
            _ => Some(Err(format!("float literal out of range: {}", clip(tok)))),
        }
    } else {
        match tok.parse::<i64>() {
            Ok(i) => Some(Ok(Value::Int(i))),
            Err(_) => Some(Err(format!(
                "integer literal out of range (64-bit): {}",
                clip(tok)
            ))),
        }
    }
}

#[cfg(test)]
mod tests;
