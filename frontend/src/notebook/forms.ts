// Colab's forms, read from and written back into a code cell's source. Pure: no DOM, no store.
//
//   # @title Training { display-mode: "form", run: "auto" }
//   # @markdown Pick the **model** and its size:
//   model = "resnet"  # @param ["resnet", "vit"] {allow-input: true}
//   epochs = 10  # @param {type:"slider", min:1, max:100, step:1}
//   lr = 0.001  # @param {type:"number"}
//   use_gpu = True  # @param {type:"boolean"}
//   start = "2024-01-31"  # @param {type:"date"}
//   layers = [64, 64]  # @param {type:"raw"}
//
// "#@param" and "# @param" are both read (older notebooks have no space). A @param line is a
// top-level `name = value  # @param [options] {settings}`; the settings are a JavaScript-style
// object (keys may be bare words such as allow-input). Without options or a type, a field is raw.
// Writing a value back replaces only the value's text: strings and dates become double-quoted
// Python literals, as Colab writes them; raw values, numbers and booleans go in as they are.

export type ValueType = "string" | "number" | "integer" | "boolean" | "date" | "raw";
export type Widget = "text" | "number" | "checkbox" | "date" | "dropdown" | "slider";
export type Value = string | number | boolean;

export interface FormField {
  /** Index of the field's line in the source. */
  line: number;
  name: string;
  type: ValueType;
  widget: Widget;
  /** The value as the form shows it (a decoded string literal, a number, a boolean). */
  value: Value;
  /** The value's text in the source, as written. */
  text: string;
  options?: string[];
  allowInput?: boolean;
  min?: number;
  max?: number;
  step?: number;
  placeholder?: string;
}

export type FormItem =
  | { kind: "markdown"; text: string; line: number }
  | { kind: "field"; field: FormField }
  | { kind: "error"; line: number; name: string; message: string };

export interface Form {
  title: string | null;
  /** From the title's settings: "form" shows the form alone until the person shows the code. */
  displayMode: "form" | "both" | null;
  /** From the title's settings: run the cell again when a field changes (after it ran once). */
  runAuto: boolean;
  items: FormItem[];
}

const PARAM = /^([A-Za-z_][A-Za-z0-9_]*)(\s*(?::[^=#]*)?=(?!=)\s*)/;
const TAG = /^#\s*@(title|markdown|param)\b/;
const INPUT_TYPES: ValueType[] = ["string", "number", "integer", "boolean", "date", "raw"];

// ---- a small reader for the JavaScript-style literals after @param and @title ---------------

type Lit = string | number | boolean | null | Lit[] | { [key: string]: Lit };

class LiteralReader {
  i = 0;
  constructor(readonly s: string) {}

  fail(what: string): never {
    throw new Error(`${what} at "${this.s.slice(this.i, this.i + 12)}"`);
  }
  space() {
    while (this.i < this.s.length && /\s/.test(this.s[this.i])) this.i++;
  }
  peek(): string {
    this.space();
    return this.s[this.i] ?? "";
  }
  value(): Lit {
    const c = this.peek();
    if (c === "[") return this.list();
    if (c === "{") return this.object();
    if (c === '"' || c === "'") return this.string();
    const m = /^(-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)|^([A-Za-z_][\w-]*)/.exec(this.s.slice(this.i));
    if (!m) this.fail("expected a value");
    this.i += m[0].length;
    if (m[1] !== undefined) return Number(m[1]);
    const word = m[2];
    if (word === "true" || word === "True") return true;
    if (word === "false" || word === "False") return false;
    if (word === "null" || word === "None") return null;
    return word;
  }
  string(): string {
    const q = this.s[this.i++];
    let out = "";
    while (this.i < this.s.length) {
      const c = this.s[this.i++];
      if (c === q) return out;
      if (c === "\\" && this.i < this.s.length) {
        const e = this.s[this.i++];
        out += e === "n" ? "\n" : e === "t" ? "\t" : e;
      } else out += c;
    }
    return this.fail("unclosed string");
  }
  list(): Lit[] {
    this.i++;
    const out: Lit[] = [];
    while (this.peek() !== "]") {
      if (!this.peek()) this.fail("unclosed [");
      out.push(this.value());
      if (this.peek() === ",") this.i++;
      else if (this.peek() !== "]") this.fail("expected , or ]");
    }
    this.i++;
    return out;
  }
  object(): { [key: string]: Lit } {
    this.i++;
    const out: { [key: string]: Lit } = {};
    while (this.peek() !== "}") {
      if (!this.peek()) this.fail("unclosed {");
      const key = this.peek() === '"' || this.peek() === "'" ? this.string() : this.value();
      if (typeof key !== "string") this.fail("expected a key");
      if (this.peek() !== ":") this.fail("expected :");
      this.i++;
      out[key] = this.value();
      if (this.peek() === ",") this.i++;
      else if (this.peek() !== "}") this.fail("expected , or }");
    }
    this.i++;
    return out;
  }
}

// ---- Python values -----------------------------------------------------------------------------

/** Where the comment of a line starts (the first # outside a string), or -1. */
export function commentStart(line: string, from = 0): number {
  let quote = "";
  for (let i = from; i < line.length; i++) {
    const c = line[i];
    if (quote) {
      if (c === "\\") i++;
      else if (line.startsWith(quote, i)) {
        i += quote.length - 1;
        quote = "";
      }
    } else if (c === "#") return i;
    else if (c === '"' || c === "'") quote = line.startsWith(c.repeat(3), i) ? c.repeat(3) : c;
  }
  return -1;
}

const ESCAPES: Record<string, string> = { n: "\n", t: "\t", r: "\r", "\\": "\\", "'": "'", '"': '"', "0": "\0", a: "\x07", b: "\b", f: "\f", v: "\v" };

/** The text of a Python string literal ('x', "x", r'x', '''x''', u"x"), or null if it is not one. */
export function pyString(text: string): string | null {
  const m = /^([rRuU]?)('''|"""|'|")([\s\S]*)\2$/.exec(text.trim());
  if (!m) return null;
  const [, prefix, quote, body] = m;
  if (prefix.toLowerCase() === "r") return body.includes(quote) ? null : body;
  let out = "";
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (c === quote[0] && quote.length === 1) return null; // the literal ended early: an expression
    if (c !== "\\") {
      out += c;
      continue;
    }
    const e = body[++i] ?? "";
    if (e in ESCAPES) out += ESCAPES[e];
    else if (e === "x" && /^[0-9a-fA-F]{2}$/.test(body.slice(i + 1, i + 3))) {
      out += String.fromCharCode(parseInt(body.slice(i + 1, i + 3), 16));
      i += 2;
    } else if ((e === "u" || e === "U") && /^[0-9a-fA-F]+$/.test(body.slice(i + 1, i + (e === "u" ? 5 : 9)))) {
      const n = e === "u" ? 4 : 8;
      out += String.fromCodePoint(parseInt(body.slice(i + 1, i + 1 + n), 16));
      i += n;
    } else out += "\\" + e;
  }
  return out;
}

/** A Python string literal for `value`, double-quoted as Colab writes it. */
export function pyQuote(value: string): string {
  let out = '"';
  for (const ch of value) {
    const code = ch.codePointAt(0)!;
    if (ch === "\\") out += "\\\\";
    else if (ch === '"') out += '\\"';
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (code < 0x20 || code === 0x7f) out += "\\x" + code.toString(16).padStart(2, "0");
    else out += ch;
  }
  return out + '"';
}

const NUMBER = /^[+-]?(?:\d[\d_]*\.?[\d_]*|\.\d[\d_]*)(?:[eE][+-]?\d+)?$/;
const INTEGER = /^[+-]?\d[\d_]*$/;

/** The Python text for a new value of `field`, or null when the value cannot be written (an
 * empty or non-numeric number, an empty raw value). */
export function pyValue(field: FormField, value: Value): string | null {
  if (field.type === "boolean") return value === true || value === "True" ? "True" : "False";
  const text = String(value);
  if (field.type === "string" || field.type === "date") return pyQuote(text);
  const t = text.trim();
  if (field.type === "raw") return t ? t : null;
  if (field.type === "integer") return INTEGER.test(t) ? t : null;
  return NUMBER.test(t) ? t : null; // number, slider
}

// ---- reading a form --------------------------------------------------------------------------

function decode(type: ValueType, text: string): Value {
  switch (type) {
    case "string":
    case "date":
      return pyString(text) ?? text;
    case "boolean":
      return text.trim() === "True";
    case "number":
    case "integer": {
      const t = text.trim();
      return NUMBER.test(t) ? Number(t.replace(/_/g, "")) : t;
    }
    default:
      return text;
  }
}

function asNumber(v: Lit | undefined, fallback: number): number {
  return typeof v === "number" ? v : typeof v === "string" && NUMBER.test(v) ? Number(v) : fallback;
}

function buildField(line: number, name: string, text: string, options: Lit[] | null, settings: Record<string, Lit>): FormField {
  const declared = typeof settings.type === "string" ? settings.type : null;
  const placeholder = typeof settings.placeholder === "string" ? settings.placeholder : undefined;
  if (options) {
    if (declared && declared !== "string" && declared !== "raw") throw new Error(`a dropdown is string or raw, not ${declared}`);
    const type: ValueType = declared === "raw" ? "raw" : "string";
    return {
      line, name, type, widget: "dropdown", text, placeholder,
      value: type === "raw" ? text.trim() : decode("string", text),
      options: options.map((o) => (typeof o === "string" ? o : String(o))),
      allowInput: settings["allow-input"] === true,
    };
  }
  if (declared === "slider") {
    const min = asNumber(settings.min, 0);
    const max = asNumber(settings.max, 100);
    const step = asNumber(settings.step, 1);
    if (min > max) throw new Error("the slider's min is above its max");
    const value = decode("number", text);
    if (typeof value !== "number") throw new Error(`a slider needs a number, not ${text.trim()}`);
    return { line, name, type: "number", widget: "slider", text, value, min, max, step };
  }
  const type = (declared ?? "raw") as ValueType;
  if (!INPUT_TYPES.includes(type)) throw new Error(`unknown type ${declared}`);
  const widget: Widget = type === "boolean" ? "checkbox" : type === "date" ? "date" : type === "number" || type === "integer" ? "number" : "text";
  return { line, name, type, widget, text, value: decode(type, text), placeholder };
}

function readSpec(spec: string): { options: Lit[] | null; settings: Record<string, Lit> } {
  const r = new LiteralReader(spec);
  let options: Lit[] | null = null;
  let settings: Record<string, Lit> = {};
  if (r.peek() === "[") options = r.list();
  if (r.peek() === "{") settings = r.object();
  if (r.peek()) r.fail("unexpected text");
  return { options, settings };
}

/** The @param field on a line, an error if the line's @param cannot be read, or null. */
function readParam(line: string, index: number): FormItem | null {
  const m = PARAM.exec(line);
  if (!m) return null;
  const valueStart = m[0].length;
  const hash = commentStart(line, valueStart);
  if (hash < 0) return null;
  const tag = /^#\s*@param\b/.exec(line.slice(hash));
  if (!tag) return null;
  const text = line.slice(valueStart, hash).trimEnd();
  try {
    const { options, settings } = readSpec(line.slice(hash + tag[0].length));
    return { kind: "field", field: buildField(index, m[1], text, options, settings) };
  } catch (e) {
    return { kind: "error", line: index, name: m[1], message: (e as Error).message };
  }
}

function readTitle(rest: string): Pick<Form, "title" | "displayMode" | "runAuto"> {
  let title = rest.trim();
  let settings: Record<string, Lit> = {};
  const brace = title.lastIndexOf("{");
  if (brace >= 0 && title.endsWith("}")) {
    try {
      const r = new LiteralReader(title.slice(brace));
      settings = r.object();
      if (!r.peek()) title = title.slice(0, brace).trim();
    } catch {
      settings = {}; // not settings after all: part of the title
    }
  }
  const mode = settings["display-mode"];
  return {
    title,
    displayMode: mode === "form" ? "form" : mode === "both" ? "both" : null,
    runAuto: settings.run === "auto",
  };
}

/** The form in a code cell's source, or null when it has none. */
export function parseForm(source: string): Form | null {
  if (!source.includes("@")) return null;
  const form: Form = { title: null, displayMode: null, runAuto: false, items: [] };
  let any = false;
  source.split("\n").forEach((raw, index) => {
    const line = raw.replace(/\r$/, "");
    const tag = TAG.exec(line);
    if (tag?.[1] === "title") {
      if (form.title === null) Object.assign(form, readTitle(line.slice(tag[0].length)));
      any = true;
    } else if (tag?.[1] === "markdown") {
      form.items.push({ kind: "markdown", text: line.slice(tag[0].length).replace(/^ /, ""), line: index });
      any = true;
    } else if (!tag && line.includes("@param")) {
      const item = readParam(line, index);
      if (item) {
        form.items.push(item);
        any = true;
      }
    }
  });
  return any ? form : null;
}

/** The source with `field`'s value replaced (only the value's text on its line changes), or
 * null when the value cannot be written (see pyValue) or the line no longer holds the field. */
export function setFieldValue(source: string, field: FormField, value: Value): string | null {
  const written = pyValue(field, value);
  if (written === null) return null;
  const lines = source.split("\n");
  const line = lines[field.line];
  const m = line === undefined ? null : PARAM.exec(line);
  if (!m || m[1] !== field.name) return null;
  const start = m[0].length;
  const hash = commentStart(line, start);
  if (hash < 0) return null;
  const old = line.slice(start, hash);
  const gap = old.slice(old.trimEnd().length) || "  ";
  lines[field.line] = line.slice(0, start) + written + gap + line.slice(hash);
  return lines.join("\n");
}
